// Continue-as-new: a rotation of any length keeps each run's history bounded. A run hands its successor
// everything the workflow knows (the status, the compensations still owed, the hold's counters, where
// it waits) and the successor picks up at that wait. Pure helpers only: the workflow decides when.
import type { CanaryReport, CredentialRef, PreflightResult } from '../domain/activity-io';
import type {
  Outcome,
  Phase,
  ReplacementKeyStagedArgs,
  RevocationConfirmedArgs,
  RotationStatus,
  TimelineEntry,
} from './messages';

/**
 * Each run continues as new past this many events (well under Temporal's 10,240-event warning and
 * 51,200 hard limit): a hold check adds about 14, so a run holds a few hundred checks.
 */
export const CONTINUE_AS_NEW_AFTER_EVENTS = 4_000;
/** …or past this many bytes of history (Temporal warns at 10 MB and terminates at 50 MB). */
export const CONTINUE_AS_NEW_AFTER_BYTES = 4 * 1024 * 1024;

/** The waits a continued run can pick up at, in the order the forward path reaches them. */
export const RESUME_POINTS = [
  'replacement-key',
  'soak',
  'flip-gate',
  'hold',
  'revoke-gate',
  'revocation-confirmation',
  'kept-key-revocation',
] as const;
export type ResumePoint = (typeof RESUME_POINTS)[number];

/** Compensations by name: a successor run rebuilds them, so a rollback after any number of runs works. */
export type CompensationName =
  'discard pending secret' | 'revoke replacement gateway key' | 'restore old secret version';

/** What a run hands its successor (the second argument of the `rotation` workflow). */
export interface RotationCarry {
  at: ResumePoint;
  /** The successor's run number: the first run is 1. */
  run: number;
  status: RotationStatus;
  credential: CredentialRef;
  preflight: PreflightResult;
  compensations: CompensationName[];
  flipped: boolean;
  staged?: ReplacementKeyStagedArgs;
  revocationConfirmed?: RevocationConfirmedArgs;
  extensionMs: number;
  extensionsRequested: number;
  holdStart?: number;
  zeroSince?: number;
  lastProbe?: CanaryReport;
  probeRequests: number;
  holdTotals: { newKeyAppRequests: number; oldKeyRequests: number };
  holdStopped?: string;
  revertedBecause?: string;
  cancelled: boolean;
  phaseSince: number;
  /** The soak's end and the start of its next window. */
  soak?: { endMs: number; fromMs: number };
  /** The start of the hold's next window. */
  hold?: { lastCheckMs: number };
  /** A rollback that waits for its kept replacement key: how it ends. */
  ending?: { outcome: Outcome; end: Extract<Phase, 'ROLLED_BACK' | 'ABORTED'> };
  /** Nonces of accepted message proofs, with their expiry (ms): a proof counts once across runs. */
  usedProofs?: Array<[string, number]>;
  /** The pair holds (workflow ids) the rotation holds: a continued hold keeps them. */
  pairHolds?: string[];
}

/** What `workflowInfo()` says of the run's history. */
export interface HistoryMeter {
  historyLength: number;
  historySize: number;
  continueAsNewSuggested: boolean;
}

/** Whether the run should hand over now: the server suggests it, or our own bound is reached. */
export function continueAsNewDue(info: HistoryMeter, maxEvents = CONTINUE_AS_NEW_AFTER_EVENTS): boolean {
  return (
    info.continueAsNewSuggested ||
    info.historyLength >= maxEvents ||
    info.historySize >= CONTINUE_AS_NEW_AFTER_BYTES
  );
}

/** The timeline keeps at most this many entries; what it drops is counted by event. */
export const TIMELINE_LIMIT = 400;
/** The first entries (start, preflight, issue) always stay: they open the story the evidence tells. */
const TIMELINE_HEAD = 25;
/** Entries that repeat without limit while a rotation waits; the first to go. */
const REPEATING = /^(approval-timeout|continued-as-new|.*-refused)$/;

/**
 * Appends an entry in place, keeping the timeline bounded: past the limit the oldest repeating entry
 * (a reminder, a refused message) goes first, else the oldest entry after the head. What is dropped is
 * counted by event in `omitted`.
 */
export function appendBounded(
  timeline: TimelineEntry[],
  entry: TimelineEntry,
  omitted: Record<string, number>,
  limit = TIMELINE_LIMIT,
): void {
  timeline.push(entry);
  while (timeline.length > limit) {
    let i = timeline.findIndex((t, idx) => idx >= TIMELINE_HEAD && REPEATING.test(t.event));
    if (i < 0 || i === timeline.length - 1) i = Math.min(TIMELINE_HEAD, timeline.length - 1);
    const [dropped] = timeline.splice(i, 1);
    omitted[dropped!.event] = (omitted[dropped!.event] ?? 0) + 1;
  }
}
