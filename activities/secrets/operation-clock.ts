// The clock of one SecretStore operation, shared by every backend. A vault activity
// (workflows/activity-options.ts vaultOptions) has a 1-minute start-to-close timeout and is retried soon
// after a failure: an attempt that outlived its timeout must not keep writing while its retry runs. So
// every request of an operation carries one AbortSignal that fires at whichever comes first, the
// operation's own deadline or the Temporal activity's cancellation (when inside an activity).
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { currentActivity } from '../activity-context';

/** The current Temporal activity's cancellation signal; undefined outside an activity. */
export function currentActivitySignal(): AbortSignal | undefined {
  return currentActivity()?.cancellationSignal;
}

/** What an operation was doing when it stopped, for the message: ids and names only, never a value. */
export interface StopContext {
  /** A verb phrase: "read the newest version of", "promote the pending value into", … */
  operation: string;
  /** "secret kv-x", "apps/router-key", … */
  target: string;
  /** The store label (vault URL, Vault mount, AWS region or endpoint). */
  store: string;
}

export interface OperationClock {
  /** Aborts at the deadline or when the activity is cancelled. */
  readonly signal: AbortSignal;
  /** Why the operation stopped (the activity's CancelledFailure, or a retryable deadline), else undefined. */
  stopped(ctx: StopContext): Error | undefined;
  /** Waits, unless the operation stops first (then throws why). */
  sleep(ms: number, ctx: StopContext): Promise<void>;
}

/** Starts the clock; `unavailableType` is the backend's retryable failure type for a passed deadline. */
export function startOperationClock(budget: {
  deadlineMs: number;
  cancellation?: AbortSignal;
  unavailableType: string;
}): OperationClock {
  const deadline = AbortSignal.timeout(budget.deadlineMs);
  const cancellation = budget.cancellation;
  const signal = cancellation ? AbortSignal.any([cancellation, deadline]) : deadline;
  const stopped = (ctx: StopContext): Error | undefined => {
    if (!signal.aborted) return undefined;
    // A cancelled activity reports its CancelledFailure (reason CANCELLED, TIMED_OUT, …) as it is.
    if (cancellation?.aborted && cancellation.reason instanceof Error) return cancellation.reason;
    return ApplicationFailure.create({
      type: budget.unavailableType,
      message:
        `stopped trying to ${ctx.operation} ${ctx.target} in ${ctx.store}: ` +
        (cancellation?.aborted
          ? 'the activity was cancelled'
          : `the operation's ${Math.round(budget.deadlineMs / 1000)} s deadline passed`) +
        '; the next attempt looks up what this one did before writing',
      nonRetryable: false,
    });
  };
  return {
    signal,
    stopped,
    async sleep(ms, ctx) {
      try {
        await sleep(ms, undefined, { signal });
      } catch {
        throw stopped(ctx) ?? new Error('sleep interrupted');
      }
    },
  };
}
