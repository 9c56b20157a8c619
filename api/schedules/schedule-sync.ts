// The Temporal Schedules behind rotations that start themselves (issue 16), one pair per registered
// credential, visible on the Temporal UI's Schedules page:
// - `rekey-schedule:<env>:<credential>` (registry `schedule:`): every interval or UTC cron, with jitter,
//   starts workflows/scheduled-rotation.ts scheduledRotation, which sends the notice, waits notice_hours,
//   checks the window and starts the rotation under `rekey:<env>:<credential>`;
// - `rekey-expiry:<env>:<credential>` (registry `expiry:`): every check_every_hours, expiryWatch.
// The API owns them because the rotation they start must carry the API's message trust (the keys its
// approvals are verified with), exactly like a ticket's rotation. syncSchedules makes Temporal match the
// registry: creates what is missing, updates spec, action and policies of what exists (a pause made at
// run time is kept; `paused: true` in the registry pauses), and deletes rekey's schedules of credentials
// the registry no longer schedules (on the same task queue). Overlap SKIP: a fire while the previous trigger still runs (its
// notice wait, or the rotation it waits on) is skipped; a rotation of the credential started otherwise
// is found by the trigger itself (skipped: overlap).
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { CredentialAutomation } from '../../domain/automation';
import { autoRotationPolicy } from '../../domain/automation';
import { toRotationInput, workflowIdFor, type RotationInput } from '../../domain/policy';
import type { ExpiryWatchArgs, ScheduledRotationArgs } from '../../workflows/scheduled-rotation';
import type { MessageSigner } from '../message-signing';

export const SCHEDULE_KINDS = ['rotation', 'expiry'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

const PREFIX: Record<ScheduleKind, string> = { rotation: 'rekey-schedule', expiry: 'rekey-expiry' };

/** The schedule id of a credential's rotation or expiry schedule. */
export function scheduleIdFor(kind: ScheduleKind, environment: string, credential: string): string {
  return `${PREFIX[kind]}:${environment}:${credential}`;
}

/** Which rekey schedule an id is, if it is one. */
export function parseScheduleId(
  id: string,
): { kind: ScheduleKind; environment: string; credential: string } | undefined {
  for (const kind of SCHEDULE_KINDS) {
    const m = new RegExp(`^${PREFIX[kind]}:([^:]+):([^:]+)$`).exec(id);
    if (m) return { kind, environment: m[1]!, credential: m[2]! };
  }
  return undefined;
}

export interface ScheduleSyncDeps {
  temporal: Pick<Client, 'schedule'>;
  signer: MessageSigner;
  taskQueue: string;
  /** Where schedule notices and expiry reminders are POSTed (REKEY_SCHEDULE_NOTICE_URL). */
  noticeUrl?: string | undefined;
}

/** The principal a self-started rotation is requested by. */
export const schedulePrincipal = (
  kind: ScheduleKind,
  c: Pick<CredentialAutomation, 'environment' | 'name'>,
) => `${kind === 'rotation' ? 'schedule' : 'expiry'}:${c.environment}:${c.name}`;

/** The rotation a trigger starts; the trigger sets its ticket id, rotation id and reason per fire. */
function template(deps: ScheduleSyncDeps, c: CredentialAutomation, kind: ScheduleKind): RotationInput {
  const requestedBy = schedulePrincipal(kind, c);
  const ticketId = kind === 'rotation' ? 'sched-template' : 'expiry-template';
  const policy = autoRotationPolicy(c, {
    mode: 'scheduled',
    reason: kind === 'rotation' ? 'scheduled rotation' : 'the current key expires soon',
    ticketId,
  });
  return { ...toRotationInput(policy, requestedBy, ticketId), messageTrust: deps.signer.trust() };
}

interface Desired {
  scheduleId: string;
  spec: ScheduleSpec;
  action: ScheduleOptionsStartWorkflowAction<never>;
  policies: { overlap: ScheduleOverlapPolicy; catchupWindow: string; pauseOnFailure: boolean };
  paused: boolean;
}

/** A schedule's action: start the trigger workflow under the schedule's id (Temporal appends the time). */
function startAction(
  workflowType: 'scheduledRotation' | 'expiryWatch',
  workflowId: string,
  taskQueue: string,
  args: ScheduledRotationArgs | ExpiryWatchArgs,
): ScheduleOptionsStartWorkflowAction<never> {
  return { type: 'startWorkflow', workflowType, workflowId, taskQueue, args: [args] as never };
}

/** What Temporal should hold for one credential: its rotation schedule and its expiry schedule. */
export function desiredSchedules(deps: ScheduleSyncDeps, c: CredentialAutomation): Desired[] {
  const out: Desired[] = [];
  const rotationWorkflowId = workflowIdFor(c.environment, c.name);
  const notice = deps.noticeUrl ? { noticeUrl: deps.noticeUrl } : {};
  if (c.schedule) {
    const s = c.schedule;
    const args: ScheduledRotationArgs = {
      template: template(deps, c, 'rotation'),
      rotationWorkflowId,
      noticeHours: s.noticeHours,
      ...(s.window ? { window: s.window } : {}),
      ...notice,
    };
    const id = scheduleIdFor('rotation', c.environment, c.name);
    out.push({
      scheduleId: id,
      spec: {
        ...(s.every ? { intervals: [{ every: s.every as `${number}m` }] } : {}),
        ...(s.cron ? { cronExpressions: [s.cron] } : {}),
        ...(s.jitterMinutes > 0 ? { jitter: `${s.jitterMinutes} minutes` } : {}),
      },
      action: startAction('scheduledRotation', id, deps.taskQueue, args),
      policies: {
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: `${s.catchupWindowMinutes} minutes`,
        pauseOnFailure: s.pauseOnFailure,
      },
      paused: s.paused,
    });
  }
  if (c.expiry) {
    const e = c.expiry;
    const args: ExpiryWatchArgs = {
      template: template(deps, c, 'expiry'),
      rotationWorkflowId,
      leadDays: e.leadDays,
      reminderDays: e.reminderDays,
      checkEveryHours: e.checkEveryHours,
      ...notice,
    };
    const id = scheduleIdFor('expiry', c.environment, c.name);
    out.push({
      scheduleId: id,
      spec: { intervals: [{ every: `${e.checkEveryHours} hours` }] },
      action: startAction('expiryWatch', id, deps.taskQueue, args),
      // An expiry check that finds a rotation blocked retries at the next check; missed checks within a
      // period are caught up once.
      policies: {
        overlap: ScheduleOverlapPolicy.SKIP,
        catchupWindow: `${e.checkEveryHours} hours`,
        pauseOnFailure: false,
      },
      paused: false,
    });
  }
  return out;
}

export interface SyncReport {
  created: string[];
  updated: string[];
  deleted: string[];
  /** Credentials whose schedule could not be built or written, with why. */
  failed: { scheduleId: string; error: string }[];
}

const NOTE = 'managed by rekey from the credential registry';

/** Makes Temporal's schedules match the registry's schedule: and expiry: entries. */
export async function syncSchedules(
  deps: ScheduleSyncDeps,
  automations: readonly CredentialAutomation[],
): Promise<SyncReport> {
  const report: SyncReport = { created: [], updated: [], deleted: [], failed: [] };
  const wanted = new Set<string>();
  for (const c of automations) {
    let desired: Desired[];
    try {
      desired = desiredSchedules(deps, c);
    } catch (err) {
      for (const kind of SCHEDULE_KINDS) {
        if ((kind === 'rotation' ? c.schedule : c.expiry) === undefined) continue;
        const scheduleId = scheduleIdFor(kind, c.environment, c.name);
        wanted.add(scheduleId);
        report.failed.push({ scheduleId, error: (err as Error).message });
      }
      continue;
    }
    for (const d of desired) {
      wanted.add(d.scheduleId);
      try {
        report[(await upsert(deps, d)) ? 'created' : 'updated'].push(d.scheduleId);
      } catch (err) {
        report.failed.push({ scheduleId: d.scheduleId, error: (err as Error).message });
      }
    }
  }
  // Only rekey's schedules on this task queue: another deployment's (another queue) are its own.
  for await (const s of deps.temporal.schedule.list()) {
    if (!parseScheduleId(s.scheduleId) || wanted.has(s.scheduleId)) continue;
    const handle = deps.temporal.schedule.getHandle(s.scheduleId);
    const d = await handle.describe();
    if (d.action.type !== 'startWorkflow' || d.action.taskQueue !== deps.taskQueue) continue;
    await handle.delete();
    report.deleted.push(s.scheduleId);
  }
  return report;
}

/** Creates the schedule, or updates it in place; true when it was created. */
async function upsert(deps: ScheduleSyncDeps, d: Desired): Promise<boolean> {
  const handle = deps.temporal.schedule.getHandle(d.scheduleId);
  try {
    await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    try {
      await deps.temporal.schedule.create({
        scheduleId: d.scheduleId,
        spec: d.spec,
        action: d.action,
        policies: d.policies,
        state: { paused: d.paused, note: d.paused ? `${NOTE}: paused in the registry` : NOTE },
      });
      return true;
    } catch (created) {
      // Another API replica created it since the describe: update it like any existing one.
      if (!(created instanceof ScheduleAlreadyRunning)) throw created;
    }
  }
  await handle.update((prev) => ({
    spec: d.spec,
    action: d.action,
    policies: d.policies,
    // A pause made at run time (rekey schedules pause, pause_on_failure) is kept across syncs.
    state: { ...prev.state, paused: prev.state.paused || d.paused },
  }));
  return false;
}

/**
 * Syncs once the API is up and Temporal answers, retrying every `retryMs` while it does not; the
 * returned stop ends the retries (the API's close).
 */
export function startScheduleSync(
  deps: ScheduleSyncDeps,
  automations: () => readonly CredentialAutomation[],
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void },
  retryMs = 30_000,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = async () => {
    if (stopped) return;
    try {
      const report = await syncSchedules(deps, automations());
      log.info({ schedules: report }, 'schedules synced with the registry');
      if (report.failed.length) log.warn({ failed: report.failed }, 'some schedules could not be synced');
    } catch (err) {
      log.warn({ err: (err as Error).message, retryInMs: retryMs }, 'schedule sync failed; retrying');
      if (!stopped) timer = setTimeout(() => void attempt(), retryMs);
    }
  };
  void attempt();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
