// How long one SecretStore operation may keep talking to Secrets Manager. A vault activity
// (workflows/activity-options.ts vaultOptions) has a 1-minute start-to-close timeout, no heartbeat, and is
// retried 1 s after a failure; an attempt that outlived its timeout must not keep writing while its retry
// runs. Every request of an operation therefore carries one AbortSignal that fires at whichever comes first:
// the operation's own deadline, or the Temporal activity's cancellation (when inside an activity; the
// worker cancels a timed-out attempt itself at start-to-close + 5 s, worker shutdown cancels too).
//
// The arithmetic, per operation:
//   - each HTTP request: connect within CONNECTION_TIMEOUT_MS = 5 s, answered within REQUEST_TIMEOUT_MS =
//     10 s, else it fails (throwOnRequestTimeout) instead of hanging;
//   - the SDK's own retries of one call (throttling, 5xx, connection errors): SDK_MAX_ATTEMPTS = 3 attempts,
//     standard mode back-off (a few hundred ms); every write rekey sends is idempotent under a resend
//     (PutSecretValue carries a ClientRequestToken, tag writes set fixed keys, a label move that already
//     happened is recognised, see secret-io.ts moveLabel);
//   - OPERATION_DEADLINE_MS = 40 s caps everything, leaving 20 s before the 60 s start-to-close timeout.
import type { ApplicationFailure } from '@temporalio/common';
import { startOperationClock } from '../operation-clock';
import { awsFailure, AwsFailureTypes, type AwsContext } from './aws-errors';

/** Connecting to the endpoint takes at most this. */
export const CONNECTION_TIMEOUT_MS = 5_000;
/** No answer to one HTTP request within this: it fails (and may be resent by the SDK). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** One store operation, all its requests and the SDK's resends included. */
export const OPERATION_DEADLINE_MS = 40_000;
/** Attempts per SDK call (the first and two resends). */
export const SDK_MAX_ATTEMPTS = 3;

/** What a store operation passes to every SDK call, and how it explains a stop. */
export interface AwsOperation {
  /** Aborts at the deadline or when the activity is cancelled. */
  readonly signal: AbortSignal;
  /** The failure for an error of a call: why the operation stopped, or the AWS error mapped. */
  failure(err: unknown, ctx: AwsContext): ApplicationFailure | Error;
}

export { currentActivitySignal } from '../operation-clock';

/** Starts the clock of one store operation. */
export function startOperation(budget: { deadlineMs: number; cancellation?: AbortSignal }): AwsOperation {
  const clock = startOperationClock({ ...budget, unavailableType: AwsFailureTypes.Unavailable });
  return {
    signal: clock.signal,
    failure: (err, ctx) =>
      clock.stopped({ operation: ctx.operation, target: `secret ${ctx.secretId}`, store: ctx.store }) ??
      awsFailure(err, ctx),
  };
}
