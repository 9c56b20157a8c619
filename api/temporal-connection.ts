// The API's Temporal connection. Lazy, so the API starts (and answers 503) while Temporal is down, and
// bounded in time at the connection: the SDK's default retries UNAVAILABLE ten times with backoff up to
// 5 s, so a request to a Temporal that is down used to wait about 20 s before failing with a 500.
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
  type GrpcRetryOptions,
} from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * Calls that wait for a worker or for history to change, not for the server alone: the route that
 * makes them bounds them (withAbortSignal), and a default deadline would cut a legitimate wait short.
 */
export const WAITING_METHODS: ReadonlySet<string> = new Set([
  'UpdateWorkflowExecution',
  'PollWorkflowExecutionUpdate',
  'ExecuteMultiOperation',
  'QueryWorkflow',
  'GetWorkflowExecutionHistory',
]);

/**
 * Calls that write a workflow's first event, which a loaded server persists slowly: they get
 * WRITE_DEADLINE_FACTOR times the deadline. The start route describes the workflow first, so a server
 * that does not answer at all still fails that request within the plain deadline.
 */
export const WRITE_METHODS: ReadonlySet<string> = new Set(['StartWorkflowExecution']);
const WRITE_DEADLINE_FACTOR = 5;

/** Longest wait between two attempts to reconnect to Temporal. */
const MAX_RECONNECT_BACKOFF_MS = 5_000;

export interface TemporalCallBounds {
  /** Deadline of a call that has none of its own and does not wait on a worker. */
  callTimeoutMs: number;
  /** How long UNAVAILABLE and friends are retried, from the call's start; default half the deadline. */
  retryBudgetMs?: number;
}

/**
 * One interceptor for every call of the connection: a default deadline (WAITING_METHODS excepted), and
 * the SDK's retry of UNAVAILABLE and friends, stopped when the next attempt would start past the
 * deadline or the retry budget. A refused connection thus fails a call within the retry budget, a
 * server that never answers within the deadline.
 */
export function boundedCallInterceptor({
  callTimeoutMs,
  retryBudgetMs = callTimeoutMs / 2,
}: TemporalCallBounds): Interceptor {
  const base = defaultGrpcRetryOptions();
  return (options, nextCall) => {
    const now = Date.now();
    const method = options.method_definition.path.split('/').pop() ?? '';
    const given = options.deadline === undefined ? Infinity : Number(options.deadline);
    const timeout = WRITE_METHODS.has(method) ? callTimeoutMs * WRITE_DEADLINE_FACTOR : callTimeoutMs;
    const deadline = given === Infinity && !WAITING_METHODS.has(method) ? now + timeout : given;
    const retryUntil = Math.min(deadline, now + retryBudgetMs);
    // The decider computes the delay it judges by; the retry interceptor asks for it right after.
    let delay = 0;
    const retry: GrpcRetryOptions = {
      retryableDecider(attempt, status) {
        if (!base.retryableDecider(attempt, status)) return false;
        delay = base.delayFunction(attempt, status);
        return Date.now() + delay < retryUntil;
      },
      delayFunction: () => delay,
    };
    const bounded = deadline === given ? options : { ...options, deadline };
    return makeGrpcRetryInterceptor(retry)(bounded, nextCall);
  };
}

/** A lazy connection to Temporal with bounded calls: it connects on the first call, never at start. */
export function temporalConnection(address: string, bounds: TemporalCallBounds): Connection {
  return Connection.lazy({
    address,
    interceptors: [boundedCallInterceptor(bounds)],
    // gRPC's reconnect backoff grows to 120 s: after a long outage the API would stay 503 that long
    // after Temporal is back. Capped, it is ready again within seconds.
    channelArgs: { 'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS },
  });
}

/** Logs once whether Temporal answers: the API listens without waiting for it, so an operator is told. */
export async function reportTemporalAtStart(
  connection: Connection,
  log: { info: (o: object, msg: string) => void; warn: (o: object, msg: string) => void },
): Promise<void> {
  const address = connection.options.address;
  try {
    await connection.workflowService.getSystemInfo({});
    log.info({ address }, 'Temporal answers');
  } catch (err) {
    log.warn(
      { address, err: { message: (err as Error).message } },
      'Temporal does not answer: /readyz and the /v1 routes answer 503 until it does',
    );
  }
}
