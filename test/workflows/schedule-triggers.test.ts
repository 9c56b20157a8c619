// The triggers a rotation schedule and an expiry schedule run (workflows/scheduled-rotation.ts), on the
// time-skipping server: the notice goes out notice_hours ahead and is recorded, the rotation starts as a
// child under `rekey:<env>:<credential>` only inside its window, an overlap is skipped, a failed rotation
// fails the trigger (so pause_on_failure pauses the schedule), and expiry starts a rotation inside the
// lead time and otherwise reminds once per threshold.
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import {
  createAutomationActivities,
  type AutomationActivities,
  type AutomationNotice,
} from '../../activities/automation';
import type { RotationInput } from '../../domain/policy';
import { reminderDue } from '../../workflows/scheduled-rotation';
import type {
  ExpiryOutcome,
  ExpiryWatchArgs,
  ScheduledRotationArgs,
  TriggerOutcome,
} from '../../workflows/scheduled-rotation';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import { createDevServerEnv, createTimeSkippingEnv } from '../helpers/time-skipping';
import { seedInput } from './rotation-harness';

const TASK_QUEUE = 'schedule-triggers';
const HOUR = 3600_000;
const DAY = 24 * HOUR;

// Lead times, notices and windows run on the time-skipping server. Overlap runs on the dev server (the real
// server's semantics): the time-skipping test server lets a child start under the id of a workflow that a
// client started and still runs, instead of refusing it as the real server does.
let env: TestWorkflowEnvironment;
let dev: TestWorkflowEnvironment;
const workers: { worker: Worker; running: Promise<void> }[] = [];
const notices: (AutomationNotice & { at: number })[] = [];
let expiry: string | undefined;

async function startWorker(e: TestWorkflowEnvironment) {
  const lookup = createAutomationActivities({
    temporal: e.client,
  } as unknown as Parameters<typeof createAutomationActivities>[0]);
  const activities: Pick<
    AutomationActivities,
    'sendAutomationNotice' | 'readCurrentExpiry' | 'rotationOfTicket'
  > = {
    // The real lookup, against this test server.
    rotationOfTicket: (req) => lookup.rotationOfTicket(req),
    async sendAutomationNotice(x) {
      notices.push({ ...x, at: await e.currentTimeMs() });
      return { delivered: Boolean(x.webhookUrl) };
    },
    async readCurrentExpiry() {
      return expiry ? { expiresAt: expiry } : {};
    },
  };
  const worker = await Worker.create({
    connection: e.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('./fixtures/schedule-workflows'),
    activities,
  });
  workers.push({ worker, running: worker.run() });
}

beforeAll(async () => {
  [env, dev] = await Promise.all([createTimeSkippingEnv(), createDevServerEnv()]);
  await startWorker(env);
  await startWorker(dev);
});
afterAll(async () => {
  for (const w of workers) w.worker.shutdown();
  await Promise.all(workers.map((w) => w.running));
  await Promise.all([env?.teardown(), dev?.teardown()]);
});

let n = 0;
/** A fresh credential per test, so that rotation ids never meet. */
function template(owner = 'platform-ai'): RotationInput {
  n += 1;
  const input = seedInput(undefined, 'template');
  return { ...input, credential: `sched-cred-${n}`, owner };
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

function triggerArgs(t: RotationInput, extra: Partial<ScheduledRotationArgs>): ScheduledRotationArgs {
  return {
    template: t,
    rotationWorkflowId: `rekey:${t.environment}:${t.credential}`,
    noticeHours: 0,
    ...extra,
  };
}

async function runTrigger(args: ScheduledRotationArgs, on = env): Promise<TriggerOutcome> {
  return (await on.client.workflow.execute('scheduledRotation', {
    taskQueue: TASK_QUEUE,
    workflowId: `rekey-schedule:${args.template.environment}:${args.template.credential}-${n}-${Math.random()}`,
    args: [args],
  })) as TriggerOutcome;
}

describe('scheduledRotation', () => {
  it('sends the notice notice_hours ahead, records it, then starts the rotation inside its window', async () => {
    const t = template();
    const fired = await env.currentTimeMs();
    const start = fired + 24 * HOUR;
    const result = await runTrigger(
      triggerArgs(t, {
        noticeHours: 24,
        noticeUrl: 'https://tickets.example/hooks/rekey',
        scheduledAt: new Date(fired).toISOString(),
        window: { start: hhmm(start - 30 * 60_000), durationMinutes: 120 },
      }),
    );
    expect(result.outcome).toBe('started');
    if (result.outcome !== 'started') return;
    expect(result.ticketId).toMatch(/^sched-\d{8}T\d{4}Z$/);
    expect(result.rotationId).toBe(`${t.environment}:${t.credential}:${result.ticketId}`);
    expect(result.result).toBe('completed');
    // The notice: sent at the fire time, naming the start 24 h later, and recorded in the result.
    const notice = notices.find((x) => x.credential === t.credential)!;
    expect(notice.kind).toBe('schedule-notice');
    expect(notice.webhookUrl).toBe('https://tickets.example/hooks/rekey');
    expect(Math.abs(notice.at - fired)).toBeLessThan(60_000);
    expect(result.notice?.delivered).toBe(true);
    expect(Date.parse(result.notice!.plannedStartAt)).toBe(start);
    expect(Date.parse(result.notice!.sentAt) - fired).toBeLessThan(60_000);
    // The rotation ran under the credential's own workflow id, started 24 h after the notice.
    const child = env.client.workflow.getHandle(`rekey:${t.environment}:${t.credential}`);
    const desc = await child.describe();
    expect(desc.type).toBe('rotation');
    expect(desc.typedSearchAttributes.get(ChangeTicketKey)).toBe(result.ticketId);
    expect(desc.startTime.getTime() - fired).toBeGreaterThanOrEqual(24 * HOUR);
    expect(desc.startTime.getTime() - fired).toBeLessThan(24 * HOUR + 60_000);
  });

  it('skips outside its window and starts no rotation', async () => {
    const t = template();
    const fired = await env.currentTimeMs();
    const result = await runTrigger(
      triggerArgs(t, {
        scheduledAt: new Date(fired).toISOString(),
        window: { start: hhmm(fired + 2 * HOUR), durationMinutes: 60 },
      }),
    );
    expect(result).toMatchObject({ outcome: 'skipped', skipped: 'outside-window' });
    await expect(
      env.client.workflow.getHandle(`rekey:${t.environment}:${t.credential}`).describe(),
    ).rejects.toThrow(/not found/i);
  });

  it('skips when a rotation of the credential is already active (overlap)', async () => {
    const t = template('stub-block');
    const other = await dev.client.workflow.start('rotation', {
      taskQueue: TASK_QUEUE,
      workflowId: `rekey:${t.environment}:${t.credential}`,
      args: [{ ...t, changeTicket: { id: 'CHG-RUNNING' } }],
    });
    const result = await runTrigger(triggerArgs(t, {}), dev);
    expect(result).toMatchObject({
      outcome: 'skipped',
      skipped: 'overlap',
      running: `rekey:${t.environment}:${t.credential}`,
    });
    // The running rotation is untouched: still the ticket that started it.
    await other.signal('release');
    await expect(other.result()).resolves.toMatchObject({ outcome: 'completed' });
  });

  it('fails when the rotation does not complete, so that pause_on_failure can pause the schedule', async () => {
    const t = template('stub-fail');
    const err = await runTrigger(triggerArgs(t, {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({
      type: 'ScheduledRotationFailed',
      message: expect.stringMatching(/ended RotationRolledBack: rotation rolled_back: canary failed$/),
    });
    // A rotation whose status says it did not complete fails the trigger the same way.
    const other = await runTrigger(triggerArgs(template('stub-rolled-back'), {})).catch((e: unknown) => e);
    expect((other as WorkflowFailedError).cause).toMatchObject({
      type: 'ScheduledRotationFailed',
      message: expect.stringMatching(/ended rolled_back$/),
    });
  });
});

describe('expiryWatch', () => {
  function watchArgs(t: RotationInput): ExpiryWatchArgs {
    return {
      template: t,
      rotationWorkflowId: `rekey:${t.environment}:${t.credential}`,
      leadDays: 14,
      reminderDays: [7, 3, 1],
      checkEveryHours: 24,
      noticeUrl: 'https://tickets.example/hooks/rekey',
    };
  }
  async function watch(args: ExpiryWatchArgs, on = env): Promise<ExpiryOutcome> {
    return (await on.client.workflow.execute('expiryWatch', {
      taskQueue: TASK_QUEUE,
      workflowId: `rekey-expiry:${args.template.credential}-${Math.random()}`,
      args: [args],
    })) as ExpiryOutcome;
  }

  it('waits while the expiry is beyond the lead time, and does nothing without an expiry', async () => {
    const t = template();
    expiry = undefined;
    await expect(watch(watchArgs(t))).resolves.toEqual({ outcome: 'no-expiry' });
    const now = await env.currentTimeMs();
    expiry = new Date(now + 20 * DAY).toISOString();
    const result = await watch(watchArgs(t));
    expect(result).toMatchObject({ outcome: 'not-yet', expiresAt: expiry });
    if (result.outcome === 'not-yet') expect(Date.parse(result.startsAt)).toBe(now + 6 * DAY);
  });

  it('reminds when the rotation it started rolled back', async () => {
    const t = template('stub-fail');
    expiry = new Date((await env.currentTimeMs()) + 6.5 * DAY).toISOString();
    const result = await watch(watchArgs(t));
    expect(result).toMatchObject({
      outcome: 'blocked',
      why: 'rotation-failed',
      reminder: { days: 7, delivered: true },
    });
    expect(notices.filter((x) => x.credential === t.credential)).toHaveLength(1);
  });

  it('starts the rotation inside the lead time, under one ticket per expiry', async () => {
    const t = template();
    const now = await env.currentTimeMs();
    expiry = new Date(now + 10 * DAY).toISOString();
    const result = await watch(watchArgs(t));
    expect(result).toMatchObject({ outcome: 'started', result: 'completed' });
    if (result.outcome !== 'started') return;
    expect(result.ticketId).toBe(`expiry-${expiry.slice(0, 10).replaceAll('-', '')}`);
    const desc = await env.client.workflow.getHandle(`rekey:${t.environment}:${t.credential}`).describe();
    expect(desc.typedSearchAttributes.get(ChangeTicketKey)).toBe(result.ticketId);
  });

  it('rotates once per expiry: when the rotated version still expires then, it reminds instead', async () => {
    // On the dev server (the time-skipping one skips its clock past the expiry while a check waits).
    const t = template('stub-block');
    expiry = new Date(Date.now() + 6.5 * DAY).toISOString();
    // Checked weekly, so that the 7-day reminder is due on any check within 7 days of the expiry.
    const args = { ...watchArgs(t), checkEveryHours: 7 * 24 };
    const checking = watch(args, dev);
    const rotation = dev.client.workflow.getHandle(`rekey:${t.environment}:${t.credential}`);
    for (let i = 0; ; i++) {
      const started = await rotation.describe().then(
        () => true,
        () => false,
      );
      if (started) break;
      if (i > 100) throw new Error('the expiry rotation did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await rotation.signal('release');
    expect(await checking).toMatchObject({ outcome: 'started', result: 'completed' });
    const { runId } = await rotation.describe();
    // The next check finds the same expiry (the rotation carried it forward): no second rotation.
    const second = await watch(args, dev);
    expect(second).toMatchObject({
      outcome: 'blocked',
      why: 'expiry-unchanged',
      reminder: { days: 7, delivered: true },
    });
    const reminder = notices.filter((x) => x.credential === t.credential).at(-1)!;
    expect(reminder.message).toMatch(/rotated for this expiry.*renew it/);
    expect((await rotation.describe()).runId).toBe(runId);
  });

  it('reminds at 3 days once when another rotation blocks it, then at 1 day, on daily checks', async () => {
    const t = template('stub-block');
    const other = await dev.client.workflow.start('rotation', {
      taskQueue: TASK_QUEUE,
      workflowId: `rekey:${t.environment}:${t.credential}`,
      args: [{ ...t, changeTicket: { id: 'CHG-RUNNING' } }],
    });
    const expiresAt = Date.now() + 2.5 * DAY;
    expiry = new Date(expiresAt).toISOString();
    const mine = () => notices.filter((x) => x.credential === t.credential);
    // 2.5 days left: the first check inside 3 days reminds.
    const first = await watch(watchArgs(t), dev);
    expect(first).toMatchObject({
      outcome: 'blocked',
      why: 'another-rotation',
      reminder: { days: 3, delivered: true },
    });
    expect(mine()).toHaveLength(1);
    expect(mine()[0]).toMatchObject({
      kind: 'expiry-reminder',
      webhookUrl: 'https://tickets.example/hooks/rekey',
      deliveryId: `expiry-reminder:${t.environment}:${t.credential}:${expiry}:3d`,
    });
    expect(mine()[0]!.message).toMatch(/within 3 days/);
    // A day later (1.5 days left; on the dev server the expiry moves a day closer instead of the clock):
    // the 3-day reminder went out already, the 1-day one is not due.
    expiry = new Date(expiresAt - DAY).toISOString();
    const second = await watch(watchArgs(t), dev);
    expect(second).toMatchObject({ outcome: 'blocked', why: 'another-rotation' });
    expect(second).not.toHaveProperty('reminder');
    expect(mine()).toHaveLength(1);
    // Another day (0.5 days left): the 1-day threshold is crossed, one more reminder.
    expiry = new Date(expiresAt - 2 * DAY).toISOString();
    const third = await watch(watchArgs(t), dev);
    expect(third).toMatchObject({ outcome: 'blocked', reminder: { days: 1, delivered: true } });
    expect(mine()).toHaveLength(2);
    await other.signal('release');
    await other.result();
  });

  it('sends each reminder threshold from exactly one check of a daily schedule', () => {
    const period = DAY;
    const sentBy = (days: number[]) =>
      [...Array(40).keys()]
        .map((i) => 20 * DAY - i * period - 5 * HOUR)
        .filter((left) => left > 0)
        .map((left) => reminderDue(left, days, period))
        .filter((d) => d !== undefined);
    expect(sentBy([7, 3, 1])).toEqual([7, 3, 1]);
  });
});
