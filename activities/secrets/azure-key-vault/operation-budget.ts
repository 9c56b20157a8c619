// How long one SecretStore operation may keep talking to Key Vault, and why. A vault activity
// (workflows/activity-options.ts vaultOptions) has a 1-minute start-to-close timeout, no heartbeat, and is
// retried 1 s after a failure. An attempt that outlives its timeout must not keep writing while its retry
// already runs ("zombie writes"), so every request of an operation carries one AbortSignal that fires at
// whichever comes first:
//   - the operation's own deadline (OPERATION_DEADLINE_MS), and
//   - the activity's cancellation (Context.current().cancellationSignal), when the operation runs inside an
//     activity. The TS worker cancels a timed-out attempt by itself: sdk-core starts a local start-to-close
//     timer per activity task (crates/sdk-core/src/worker/activities.rs, ActivityLocalTimers) and on expiry
//     issues a TIMED_OUT cancel, which aborts that signal — also without heartbeats. It fires only at
//     start-to-close + local_timeout_buffer_for_activities (5 s by default), i.e. ~65 s, while the server
//     times the attempt out at 60 s and starts the retry ~1 s later. That is why the deadline is our own and
//     shorter; the activity signal still matters for explicit cancellation and worker shutdown.
// Outside an activity (the API's manual hand-off) only the deadline applies.
//
// The arithmetic, per operation:
//   - each HTTP request: at most REQUEST_TIMEOUT_MS = 15 s (a hung connection is aborted, not waited on;
//     an aborted request is not resent in-process, the activity retry looks up what happened);
//   - SDK retries of one call (connection refused, 5xx, 429 with Retry-After): at most SDK_RETRY.maxRetries
//     = 5 resends, back-off 0.5 + 1 + 2 + 4 + 8 = 15.5 s at most; a Retry-After longer than
//     MAX_IN_PROCESS_RETRY_AFTER_MS = 5 s ends the call at once (the failure carries it as nextRetryDelay);
//   - settle loop (a reused name still being deleted, purged or recovered): SETTLE.attempts = 10 waits of
//     SETTLE.intervalMs = 1 s = 10 s;
//   - waiting budget 15.5 s + 10 s = 25.5 s, well inside OPERATION_DEADLINE_MS = 40 s, which caps
//     everything including slow requests, and leaves 20 s before the 60 s start-to-close timeout.
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { startOperationClock } from '../operation-clock';
import { vaultFailure, VaultFailureTypes, type VaultContext } from './vault-errors';

/** No answer to one HTTP request within this: the request is aborted. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** One store operation, all its requests, SDK retries and settle waits included. */
export const OPERATION_DEADLINE_MS = 40_000;
/** The SDK's in-process retries of one call (createSecretClient). */
export const SDK_RETRY = { maxRetries: 5, retryDelayInMs: 500, maxRetryDelayInMs: 8_000 } as const;
/** The longest Retry-After the SDK may wait in-process; longer ones go to the activity's retry. */
export const MAX_IN_PROCESS_RETRY_AFTER_MS = 5_000;
/** Waits for a reused name to settle after an asynchronous delete, purge or recover. */
export const SETTLE = { attempts: 10, intervalMs: 1_000 } as const;

/** What a store operation passes to every SDK call, and how it explains a stop. */
export interface VaultOperation {
  /** Aborts at the deadline or when the activity is cancelled. */
  readonly signal: AbortSignal;
  /** Spread into every SDK call's options. */
  readonly sdk: { abortSignal: AbortSignal; requestOptions: { timeout: number } };
  /** The failure for an error of a call: why the operation stopped, or the vault's error mapped. */
  failure(err: unknown, ctx: VaultContext): Error;
  /** Waits, unless the operation stops first (then throws its failure). */
  sleep(ms: number, ctx: VaultContext): Promise<void>;
}

type PipelinePolicy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];

/**
 * A per-call policy giving every request without a timeout this one. The SDK's pager sends the pages after
 * the first without the caller's options (keyvault-secrets 4.12 static-helpers/pagingHelpers.js), so
 * those requests would otherwise wait forever on a hung connection.
 */
export function requestTimeoutPolicy(ms: number): PipelinePolicy {
  return {
    name: 'rekeyRequestTimeoutPolicy',
    sendRequest(request, next) {
      if (!request.timeout) request.timeout = ms;
      return next(request);
    },
  };
}

/**
 * Settles like `promise`, or rejects as soon as the signal aborts (the promise is left to settle unheard).
 * For the SDK steps that do not take the operation's signal, such as the pager's later pages.
 */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export { currentActivitySignal } from '../operation-clock';

/** Starts the clock of one store operation. */
export function startOperation(budget: {
  deadlineMs: number;
  requestTimeoutMs: number;
  cancellation?: AbortSignal;
}): VaultOperation {
  const clock = startOperationClock({ ...budget, unavailableType: VaultFailureTypes.VaultUnavailable });
  const at = (ctx: VaultContext) => ({
    operation: ctx.operation,
    target: `secret ${ctx.secretName}`,
    store: ctx.vaultUrl,
  });
  return {
    signal: clock.signal,
    sdk: { abortSignal: clock.signal, requestOptions: { timeout: budget.requestTimeoutMs } },
    failure: (err, ctx) => clock.stopped(at(ctx)) ?? vaultFailure(err, ctx),
    sleep: (ms, ctx) => clock.sleep(ms, at(ctx)),
  };
}
