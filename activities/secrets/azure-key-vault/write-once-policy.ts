// The SDK's retry policy resends a request after a network error or a 5xx. For Set Secret (PUT) that
// could write a second version when the first attempt did reach the vault and only its answer was lost.
// This per-retry policy lets the SDK resend a PUT only when the previous attempt surely never reached
// the vault (connection refused, name not resolved); otherwise it stops with WRITE_OUTCOME_UNKNOWN and
// the adapter's next attempt looks up, by rotation tag, whether the write happened before writing again.
import { RestError, type SecretClientOptions } from '@azure/keyvault-secrets';

type PipelinePolicy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];
type PipelineRequest = Parameters<PipelinePolicy['sendRequest']>[0];

/** Error code of a write the SDK did not resend because its first attempt may have been applied. */
export const WRITE_OUTCOME_UNKNOWN = 'REKEY_WRITE_OUTCOME_UNKNOWN';

// Failures that happen before a single byte reaches the vault.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** A per-retry policy that keeps the SDK from blindly resending a Set Secret. */
export function writeOncePolicy(): PipelinePolicy {
  const uncertain = new WeakSet<PipelineRequest>();
  return {
    name: 'rekeyWriteOncePolicy',
    async sendRequest(request, next) {
      const guarded = request.method === 'PUT';
      if (guarded && uncertain.has(request)) {
        throw new RestError(
          `${request.method} ${new URL(request.url).pathname}: outcome unknown, not resent`,
          {
            code: WRITE_OUTCOME_UNKNOWN,
          },
        );
      }
      try {
        const response = await next(request);
        // 503 and 429 mean the vault did not take the request; other 5xx may come after it did.
        if (guarded && response.status >= 500 && response.status !== 503) uncertain.add(request);
        return response;
      } catch (err) {
        const code = err instanceof RestError ? err.code : undefined;
        if (guarded && !(code && NOT_SENT.has(code))) uncertain.add(request);
        throw err;
      }
    },
  };
}
