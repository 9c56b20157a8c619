// Which errors mean "Temporal cannot answer now": the error plugin answers them 503 with Retry-After
// instead of a 500, whichever SDK wrapper (ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError…)
// carries the gRPC status.
import { isGrpcServiceError } from '@temporalio/client';

/** gRPC status codes (grpc/status.proto) that say Temporal is down, overloaded or too slow. */
const UNAVAILABLE_CODES: Record<number, { name: string; what: string }> = {
  // The API cancels a call only when its own bound on the wait runs out (withAbortSignal).
  1: { name: 'CANCELLED', what: 'Temporal, or the rekey worker it waits for, did not answer in time' },
  4: { name: 'DEADLINE_EXCEEDED', what: 'Temporal did not answer in time' },
  8: { name: 'RESOURCE_EXHAUSTED', what: 'Temporal is overloaded' },
  14: { name: 'UNAVAILABLE', what: 'Temporal is not reachable' },
};

/** Seconds a client is told to wait before retrying a request Temporal could not answer. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;

/** The gRPC status when `err` (or an error it wraps) is Temporal not answering; else undefined. */
export function temporalUnavailable(err: unknown): { name: string; what: string } | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (isGrpcServiceError(e)) return UNAVAILABLE_CODES[e.code];
    e = e.cause;
  }
  return undefined;
}
