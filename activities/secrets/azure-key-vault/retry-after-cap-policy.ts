// The SDK honours a 429/503 Retry-After by sleeping in-process for as long as the vault asks, which could
// outlast the activity attempt (see operation-budget.ts). This per-retry policy lets it wait for short
// Retry-Afters only; a longer one ends the call with a RETRY_AFTER_TOO_LONG error that the adapter maps to
// a retryable failure whose nextRetryDelay is the vault's Retry-After, so Temporal waits durably instead.
import { isRestError, RestError, type SecretClientOptions } from '@azure/keyvault-secrets';

type PipelinePolicy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

/** Error code of a 429/503 whose Retry-After is longer than rekey waits in-process. */
export const RETRY_AFTER_TOO_LONG = 'REKEY_RETRY_AFTER_TOO_LONG';

// RestError resets its prototype in its constructor, so a subclass would not survive `instanceof`: the
// Retry-After travels as a property of a plain RestError instead.
function retryAfterTooLong(message: string, statusCode: number, retryAfterSeconds: number): RestError {
  // No `response`: with one, the SDK's throttling strategy would wait and resend anyway.
  return Object.assign(new RestError(message, { statusCode, code: RETRY_AFTER_TOO_LONG }), {
    retryAfterSeconds,
  });
}

/** The Retry-After (seconds) of an error this policy raised; undefined for any other error. */
export function tooLongRetryAfterOf(err: unknown): number | undefined {
  if (!isRestError(err) || err.code !== RETRY_AFTER_TOO_LONG) return undefined;
  const seconds = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === 'number' ? seconds : undefined;
}

/** Retry-After of a response in milliseconds (seconds, HTTP date, or the ms variants Azure sends). */
export function retryAfterMs(response: Pick<PipelineResponse, 'headers'>): number | undefined {
  for (const [header, factor] of [
    ['retry-after-ms', 1],
    ['x-ms-retry-after-ms', 1],
    ['retry-after', 1000],
  ] as const) {
    const raw = response.headers.get(header);
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0) return n * factor;
    const date = Date.parse(raw);
    if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

/** A per-retry policy: Retry-After up to `maxMs` is left to the SDK, longer ends the call. */
export function retryAfterCapPolicy(maxMs: number): PipelinePolicy {
  return {
    name: 'rekeyRetryAfterCapPolicy',
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status !== 429 && response.status !== 503) return response;
      const wait = retryAfterMs(response);
      if (wait === undefined || wait <= maxMs) return response;
      const seconds = Math.ceil(wait / 1000);
      throw retryAfterTooLong(
        `${request.method} ${new URL(request.url).pathname}: ${response.status} with Retry-After ${seconds}s`,
        response.status,
        seconds,
      );
    },
  };
}
