// Rotations that start themselves (issue 16): the workflows a Temporal Schedule runs. A schedule appends
// its fire time to the workflow id, and a rotation's id must be `rekey:<env>:<credential>` (one active
// rotation per credential), so a schedule starts one of these triggers, which starts the rotation as an
// abandoned child under its own id:
// - scheduledRotation: notice webhook, sleep notice_hours, window check at the real start time, rotation;
// - expiryWatch: reads the current key's expiry; inside the lead time it starts the rotation, and when it
//   cannot (another rotation runs, or it failed; or the rotation of this expiry completed and the expiry
//   stands: renew it) it sends each reminder (7, 3, 1 days) once: the check that first finds the expiry
//   within a threshold sends it (reminderDue), so no state is kept between fires.
// Deterministic: times come from the workflow clock and the schedule's TemporalScheduledStartTime.
import { ApplicationFailure, patched, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { AutomationActivities } from '../activities/automation';
import { FailureTypes } from '../domain/failure-types';
import type { RotationInput } from '../domain/policy';
import { rotationEnd, rotationFor, startRotation } from './child-rotation';

/** A daily UTC window: `start` HH:MM, lasting durationMinutes (may cross midnight). */
export interface DailyWindow {
  start: string;
  durationMinutes: number;
}

/** What the API puts in a schedule's action: a rotation template and the trigger's own settings. */
export interface ScheduledRotationArgs {
  /** The rotation as the registry's policy builds it; rotationId and ticket id are set per fire. */
  template: RotationInput;
  /** `rekey:<env>:<credential>`, computed by the API (workflowIdFor). */
  rotationWorkflowId: string;
  window?: DailyWindow;
  /** The rotation starts this long after the schedule fires; the notice goes out at the fire time. */
  noticeHours: number;
  /** Where the notice is POSTed (allowlisted by the notifier); absent: the notice is only logged. */
  noticeUrl?: string;
  /** Tests started without a schedule: the fire time, ISO. Default: TemporalScheduledStartTime. */
  scheduledAt?: string;
}

/** A notice as recorded in the trigger's result (and so in its history). */
export interface NoticeRecord {
  sentAt: string;
  plannedStartAt: string;
  url?: string;
  delivered: boolean;
  error?: string;
}

export type TriggerOutcome =
  | { outcome: 'started'; rotationId: string; ticketId: string; notice?: NoticeRecord; result: string }
  | { outcome: 'skipped'; skipped: 'outside-window'; ticketId: string; at: string; notice?: NoticeRecord }
  | {
      outcome: 'skipped';
      skipped: 'overlap';
      ticketId: string;
      running: string;
      notice?: NoticeRecord;
    };

const acts = proxyActivities<AutomationActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** `sched-20261201T0300Z` for 2026-12-01T03:00Z: an identifier (no ':'), the same on every retry. */
export function scheduleTicketId(at: Date): string {
  const iso = at.toISOString();
  return `sched-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/** Whether `at` falls inside the daily UTC window [start, start + duration). */
export function insideWindow(at: Date, window: DailyWindow | undefined): boolean {
  if (!window) return true;
  const [h, m] = window.start.split(':').map(Number) as [number, number];
  const startMin = h * 60 + m;
  const nowMin = at.getUTCHours() * 60 + at.getUTCMinutes() + at.getUTCSeconds() / 60;
  const since = (((nowMin - startMin) % 1440) + 1440) % 1440;
  return since < window.durationMinutes;
}

/** When the schedule fired this run (the schedule's search attribute), else when the run started. */
function firedAt(given?: string): Date {
  if (given) return new Date(given);
  const info = workflowInfo();
  const raw = info.searchAttributes?.['TemporalScheduledStartTime']?.[0];
  if (raw instanceof Date) return raw;
  if (typeof raw === 'string') return new Date(raw);
  return info.runStartTime;
}

/** Fails (so that pause_on_failure pauses the schedule) when the rotation did not complete. */
function scheduledRotationFailed(rotationId: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.ScheduledRotationFailed,
    message: `rotation ${rotationId} ${why}`,
    nonRetryable: true,
  });
}

/** One schedule fire: notice, notice_hours, the window, then the rotation as an abandoned child. */
export async function scheduledRotation(args: ScheduledRotationArgs): Promise<TriggerOutcome> {
  const fired = firedAt(args.scheduledAt);
  const plannedStart = new Date(fired.getTime() + args.noticeHours * 3600_000);
  const ticketId = scheduleTicketId(plannedStart);
  const { credential, environment } = args.template;
  let notice: NoticeRecord | undefined;
  if (args.noticeHours > 0) {
    const sent = await acts.sendAutomationNotice({
      kind: 'schedule-notice',
      credential,
      environment,
      rotationId: `${environment}:${credential}:${ticketId}`,
      message: `rekey rotates ${credential} (${environment}) at ${plannedStart.toISOString()} under ticket ${ticketId}`,
      deliveryId: `schedule-notice:${environment}:${credential}:${ticketId}`,
      ...(args.noticeUrl ? { webhookUrl: args.noticeUrl } : {}),
    });
    notice = {
      sentAt: new Date().toISOString(),
      plannedStartAt: plannedStart.toISOString(),
      ...(args.noticeUrl ? { url: args.noticeUrl } : {}),
      delivered: sent.delivered,
      ...(sent.error ? { error: sent.error } : {}),
    };
    await sleep(plannedStart.getTime() - Date.now());
  }
  const now = new Date();
  const withNotice = notice ? { notice } : {};
  if (!insideWindow(now, args.window)) {
    return { outcome: 'skipped', skipped: 'outside-window', ticketId, at: now.toISOString(), ...withNotice };
  }
  const input = rotationFor(args.template, ticketId, `scheduled rotation (${plannedStart.toISOString()})`);
  const child = await startRotation(input, args.rotationWorkflowId);
  if (!child) {
    return {
      outcome: 'skipped',
      skipped: 'overlap',
      ticketId,
      running: args.rotationWorkflowId,
      ...withNotice,
    };
  }
  const end = await rotationEnd(child);
  if (!end.completed) throw scheduledRotationFailed(input.rotationId, end.why);
  return {
    outcome: 'started',
    rotationId: input.rotationId,
    ticketId,
    ...withNotice,
    result: 'completed',
  };
}

/** What the API puts in an expiry schedule's action. */
export interface ExpiryWatchArgs {
  template: RotationInput;
  rotationWorkflowId: string;
  leadDays: number;
  reminderDays: number[];
  /** How often the expiry schedule fires (registry expiry.check_every_hours): reminders are sent once. */
  checkEveryHours: number;
  noticeUrl?: string;
}

export type ExpiryOutcome =
  | { outcome: 'no-expiry' }
  | { outcome: 'not-yet'; expiresAt: string; startsAt: string }
  | { outcome: 'started'; expiresAt: string; ticketId: string; rotationId: string; result: string }
  | {
      outcome: 'blocked';
      expiresAt: string;
      ticketId: string;
      why: ExpiryBlocked;
      reminder?: { days: number; delivered: boolean; error?: string };
    };

/**
 * Why an expiry check could not rotate: another rotation holds the credential, the rotation did not
 * complete, or it completed and the current version still expires then (a rotation carries the expiry
 * forward and never extends it: renewing it is the owner's call, so the check reminds, and does not
 * rotate again under the same ticket).
 */
export type ExpiryBlocked = 'another-rotation' | 'rotation-failed' | 'expiry-unchanged';

const BLOCKED_WHY: Record<ExpiryBlocked, string> = {
  'another-rotation': 'another rotation holds the credential',
  'rotation-failed': 'its rotation did not complete',
  'expiry-unchanged':
    'it was rotated for this expiry, and the new version expires at the same time (rekey never extends an expiry): renew it',
};

/** `expiry-20261215` for an expiry on 2026-12-15: one ticket per expiry, so every check joins it. */
export function expiryTicketId(expiresAt: Date): string {
  const iso = expiresAt.toISOString();
  return `expiry-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

/**
 * The reminder threshold (days) this check is the first to cross, if any: a check sends the reminder for
 * `d` days when the time left is at most `d` days but was more than that one period ago, so each threshold
 * is reminded once by the checks of a schedule that fires every `periodMs`, with no state between fires.
 * (A check that never ran, say the worker was down past the catch-up window, sends no late reminder; a
 * check triggered by hand within the same period sends it again, with the same delivery id.)
 */
export function reminderDue(msLeft: number, reminderDays: number[], periodMs: number): number | undefined {
  const due = reminderDays
    .filter((d) => msLeft <= d * 86_400_000 && msLeft > d * 86_400_000 - periodMs)
    .sort((a, b) => a - b);
  return due[0];
}

async function remind(args: ExpiryWatchArgs, expiresAt: Date, why: string) {
  const days = reminderDue(
    expiresAt.getTime() - Date.now(),
    args.reminderDays,
    args.checkEveryHours * 3600_000,
  );
  if (days === undefined) return undefined;
  const { credential, environment } = args.template;
  const at = expiresAt.toISOString();
  const sent = await acts.sendAutomationNotice({
    kind: 'expiry-reminder',
    credential,
    environment,
    rotationId: `${environment}:${credential}:${expiryTicketId(expiresAt)}`,
    message: `${credential} (${environment}) expires at ${at} (within ${days} days) and rekey could not rotate it: ${why}`,
    deliveryId: `expiry-reminder:${environment}:${credential}:${at}:${days}d`,
    ...(args.noticeUrl ? { webhookUrl: args.noticeUrl } : {}),
  });
  return { days, delivered: sent.delivered, ...(sent.error ? { error: sent.error } : {}) };
}

/** One expiry check: inside the lead time, rotate (one ticket per expiry); when that cannot, remind. */
export async function expiryWatch(args: ExpiryWatchArgs): Promise<ExpiryOutcome> {
  const { credential, environment } = args.template;
  const read = await acts.readCurrentExpiry({ credential, environment });
  if (!read.expiresAt) return { outcome: 'no-expiry' };
  const expiresAt = new Date(read.expiresAt);
  const startsAt = new Date(expiresAt.getTime() - args.leadDays * 86_400_000);
  if (Date.now() < startsAt.getTime()) {
    return { outcome: 'not-yet', expiresAt: read.expiresAt, startsAt: startsAt.toISOString() };
  }
  const ticketId = expiryTicketId(expiresAt);
  const input = rotationFor(
    args.template,
    ticketId,
    `the current key expires at ${expiresAt.toISOString()} (lead time ${args.leadDays} days)`,
  );
  const blocked = async (why: ExpiryBlocked) => {
    const reminder = await remind(args, expiresAt, BLOCKED_WHY[why]);
    return {
      outcome: 'blocked' as const,
      expiresAt: read.expiresAt!,
      ticketId,
      why,
      ...(reminder ? { reminder } : {}),
    };
  };
  // Once per expiry: a rotation of this ticket that completed leaves the expiry where it was.
  if (patched('expiry-once-per-ticket')) {
    const earlier = await acts.rotationOfTicket({ ticketId, workflowId: args.rotationWorkflowId });
    if (earlier.state === 'completed') return blocked('expiry-unchanged');
  }
  const child = await startRotation(input, args.rotationWorkflowId);
  if (!child) return blocked('another-rotation');
  if (!(await rotationEnd(child)).completed) return blocked('rotation-failed');
  return {
    outcome: 'started',
    expiresAt: read.expiresAt,
    ticketId,
    rotationId: input.rotationId,
    result: 'completed',
  };
}
