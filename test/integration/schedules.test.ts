import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ScheduleSyncReport, ScheduleView } from '../../cli/client';
import { waitFor } from '../../scripts/local-stack';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import {
  rotationStackUnavailableReason,
  stackAutoPolicy,
  startRotationStack,
  type RotationStack,
  type StackCredential,
} from '../helpers/rotation-stack';

// Rotation schedules on the real stack (Temporal dev server, reference gateway, Key Vault, worker, API):
// the registry's `schedule:` entries become Temporal Schedules (POST /v1/schedules/sync), listed by any
// role and paused, resumed and triggered by an operator. A schedule fires on its own inside its window
// and starts the credential's rotation under `rekey:<env>:<credential>` with a `sched-…` ticket; a fire
// outside the window starts none; a fire while the previous one still runs is skipped (overlap SKIP);
// a scheduled rotation that does not complete pauses its schedule (pause_on_failure).
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const inside: StackCredential = {
  name: `sched-in-${run}`,
  environment: 'e2e',
  ticket: `CHG-S${run}`,
  adapter: 'litellm',
};
const outside: StackCredential = {
  name: `sched-out-${run}`,
  environment: 'e2e',
  ticket: `CHG-O${run}`,
  adapter: 'litellm',
};

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const POLICY = stackAutoPolicy({ flipApproval: true });

let stack: RotationStack;
const scheduleOf = async (c: StackCredential) => {
  const res = await stack.call('GET', `/v1/schedules/${c.environment}/${c.name}`, 'dave');
  expect(res.statusCode).toBe(200);
  return res.json<ScheduleView>();
};
/** waitFor (scripts/local-stack.ts), answering what the probe found. */
const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 150_000) => {
  let found: T | undefined;
  await waitFor(what, async () => (found = await probe()) !== undefined, timeoutMs);
  return found as T;
};

const describeStack = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeStack('rotation schedules', () => {
  beforeAll(async () => {
    const now = Date.now();
    stack = await startRotationStack([inside, outside], {
      registryFields: (c) => ({
        owner: 'platform-ai',
        rotation_policy: POLICY,
        schedule:
          c === inside
            ? { every: '1m', window: { start: hhmm(now - 10 * 60_000), duration_minutes: 180 } }
            : { every: '1m', window: { start: hhmm(now + 3 * 3600_000), duration_minutes: 60 } },
      }),
    });
  });

  afterAll(async () => {
    for (const c of [inside, outside]) {
      await stack?.client.schedule
        .getHandle(`rekey-schedule:${c.environment}:${c.name}`)
        .delete()
        .catch(() => undefined);
    }
    await stack?.close();
  });

  it('syncs the registry into Temporal Schedules that any role lists and only an operator changes', async () => {
    expect((await stack.call('POST', '/v1/schedules/sync', 'dave')).statusCode).toBe(403);
    const sync = await stack.call('POST', '/v1/schedules/sync', 'carol');
    expect(sync.statusCode).toBe(200);
    const report = sync.json<ScheduleSyncReport>();
    const ids = [inside, outside].map((c) => `rekey-schedule:${c.environment}:${c.name}`);
    expect(report.created).toEqual(expect.arrayContaining(ids));
    expect(report.failed).toEqual([]);
    // Again: nothing new, both updated in place.
    const again = (await stack.call('POST', '/v1/schedules/sync', 'carol')).json<ScheduleSyncReport>();
    expect(again.updated).toEqual(expect.arrayContaining(ids));
    expect(again.created.filter((id) => ids.includes(id))).toEqual([]);

    const list = await stack.call('GET', '/v1/schedules', 'dave');
    expect(list.statusCode).toBe(200);
    const mine = list
      .json<{ schedules: ScheduleView[] }>()
      .schedules.filter((s) => ids.includes(s.scheduleId));
    expect(mine).toHaveLength(2);
    const shown = await scheduleOf(inside);
    expect(shown).toMatchObject({
      kind: 'rotation',
      paused: false,
      workflowType: 'scheduledRotation',
      spec: { every: ['60s'] },
      policies: { overlap: expect.stringMatching(/SKIP/), catchupWindowSeconds: 3600, pauseOnFailure: true },
    });
    expect(shown.nextActionTimes.length).toBeGreaterThan(0);

    const noReason = await stack.call('POST', `/v1/schedules/e2e/${outside.name}/pause`, 'carol', {});
    expect(noReason.statusCode).toBe(400);
    expect(
      (await stack.call('POST', `/v1/schedules/e2e/${outside.name}/pause`, 'alice', { reason: 'x' }))
        .statusCode,
    ).toBe(403);
    expect((await stack.call('GET', '/v1/schedules/e2e/no-such-credential', 'dave')).statusCode).toBe(404);
  });

  it('skips a fire outside its window: the trigger ends skipped and starts no rotation', async () => {
    const trig = await stack.call('POST', `/v1/schedules/e2e/${outside.name}/trigger`, 'carol', {
      reason: 'check the window',
    });
    expect(trig.statusCode).toBe(200);
    const fired = await until('the outside schedule to fire', async () => {
      const s = await scheduleOf(outside);
      return s.recentActions[0];
    });
    const result = (await stack.client.workflow.getHandle(fired.workflowId).result()) as Record<
      string,
      unknown
    >;
    expect(result).toMatchObject({ outcome: 'skipped', skipped: 'outside-window' });
    await expect(
      stack.client.workflow.getHandle(`rekey:${outside.environment}:${outside.name}`).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const paused = await stack.call('POST', `/v1/schedules/e2e/${outside.name}/pause`, 'carol', {
      reason: 'done with it',
    });
    expect(paused.json<ScheduleView>()).toMatchObject({
      paused: true,
      note: 'paused by carol@example.com: done with it',
    });
  });

  it('fires inside its window and starts the rotation; skips an overlapping fire; a failed rotation pauses it', async () => {
    const workflowId = `rekey:${inside.environment}:${inside.name}`;
    // The schedule fires by itself within a minute (every 1m, no jitter).
    const ticket = await until('the scheduled rotation to start', async () => {
      try {
        const d = await stack.client.workflow.getHandle(workflowId).describe();
        return d.typedSearchAttributes.get(ChangeTicketKey);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    });
    expect(ticket).toMatch(/^sched-\d{8}T\d{4}Z$/);
    const rotationId = `${inside.environment}:${inside.name}:${ticket}`;
    const waiting = await stack.untilPhase(rotationId, ['AWAITING_FLIP_APPROVAL'], { timeoutMs: 3 * 60_000 });
    expect(waiting.requestedBy).toBe(`schedule:${inside.environment}:${inside.name}`);

    // Fired again while the first trigger still waits on its rotation: skipped by the overlap policy.
    const before = await stack.client.schedule.getHandle(`rekey-schedule:e2e:${inside.name}`).describe();
    await stack.call('POST', `/v1/schedules/e2e/${inside.name}/trigger`, 'carol', { reason: 'overlap' });
    await until('the overlapping fire to be skipped', async () => {
      const d = await stack.client.schedule.getHandle(`rekey-schedule:e2e:${inside.name}`).describe();
      return d.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap ? true : undefined;
    });
    expect(
      (await stack.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(
        ChangeTicketKey,
      ),
    ).toBe(ticket);

    // The on-call engineer rolls the scheduled rotation back: it did not complete, so the schedule pauses.
    const rb = await stack.call('POST', `/v1/rotations/${encodeURIComponent(rotationId)}/rollback`, 'carol', {
      reason: 'not today',
    });
    expect(rb.statusCode).toBe(202);
    const paused = await until('pause_on_failure to pause the schedule', async () => {
      const s = await scheduleOf(inside);
      return s.paused ? s : undefined;
    });
    expect(paused.paused).toBe(true);
    const resumed = await stack.call('POST', `/v1/schedules/e2e/${inside.name}/resume`, 'carol', {
      reason: 'rollback understood',
    });
    expect(resumed.json<ScheduleView>()).toMatchObject({
      paused: false,
      note: 'resumed by carol@example.com: rollback understood',
    });
    await stack.call('POST', `/v1/schedules/e2e/${inside.name}/pause`, 'carol', { reason: 'end of test' });
  });
});
