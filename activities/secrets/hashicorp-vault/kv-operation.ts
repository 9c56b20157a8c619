// How long one SecretStore operation may keep talking to Vault (same arithmetic as Key Vault's, see
// azure-key-vault/operation-budget.ts): a vault activity has a 1-minute start-to-close timeout and is
// retried 1 s after a failure, so an attempt that outlived its timeout must have stopped writing before
// its retry starts. Every request of an operation carries one AbortSignal that fires at the operation's
// 40 s deadline or when the activity is cancelled (Context.current().cancellationSignal, when the
// operation runs inside an activity; outside one — the API's manual hand-off — only the deadline).
//   - each request: at most KV_REQUEST_TIMEOUT_MS = 10 s;
//   - each request is sent at most KV_REQUEST_ATTEMPTS = 3 times (429/5xx/412/network), waiting 0.25 s
//     and 1 s in between, or a Retry-After of at most 5 s (a longer one ends the operation with it as
//     nextRetryDelay). Resending is safe for every KV request rekey makes: data writes carry check-and-set
//     (a resend of a write that landed is refused, and the operation looks again), metadata patches,
//     deletes and destroys are idempotent;
//   - an operation makes at most ~8 requests per try and tries at most KV_WRITE_TRIES = 3 times when
//     check-and-set loses; the 40 s deadline caps all of it.
import { startOperationClock } from '../operation-clock';
import { KvFailureTypes, type KvContext } from './kv-errors';

/** No answer to one HTTP request within this: the request is aborted. */
export const KV_REQUEST_TIMEOUT_MS = 10_000;
/** One store operation, all its requests and waits included. */
export const KV_OPERATION_DEADLINE_MS = 40_000;
/** How often one request is sent at most (the first time included). */
export const KV_REQUEST_ATTEMPTS = 3;
/** The waits between sends of one request. */
export const KV_BACKOFF_MS = [250, 1_000] as const;
/** The longest Retry-After waited in-process; longer ones go to the activity's retry. */
export const KV_MAX_IN_PROCESS_RETRY_AFTER_MS = 5_000;
/** How often an operation writes again after losing check-and-set to another writer. */
export const KV_WRITE_TRIES = 3;

/** The clock and cancellation of one store operation. */
export interface KvOperation {
  readonly signal: AbortSignal;
  /** Why the operation stopped (deadline or cancellation), or undefined while it runs. */
  stopped(ctx: KvContext): Error | undefined;
  /** Waits, unless the operation stops first (then throws why). */
  sleep(ms: number, ctx: KvContext): Promise<void>;
}

export { currentActivitySignal } from '../operation-clock';

/** Starts the clock of one store operation. */
export function startKvOperation(budget: { deadlineMs: number; cancellation?: AbortSignal }): KvOperation {
  const clock = startOperationClock({ ...budget, unavailableType: KvFailureTypes.KvUnavailable });
  const at = (ctx: KvContext) => ({ operation: ctx.operation, target: ctx.path, store: ctx.store });
  return {
    signal: clock.signal,
    stopped: (ctx) => clock.stopped(at(ctx)),
    sleep: (ms, ctx) => clock.sleep(ms, at(ctx)),
  };
}
