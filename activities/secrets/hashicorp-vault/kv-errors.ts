// Vault (and OpenBao) KV v2 answers mapped once into ApplicationFailures the workflow branches on: what
// retrying cannot fix (a refused token, a missing or deleted secret, a malformed request, an untrusted
// certificate) is non-retryable and names the address and path; 429, 5xx, 412 and network trouble are
// retryable. Messages are built from paths, operations and status codes only — never from a response
// body, which for a data read holds the very value we guard.
import { TLS_ERROR_CODES } from '../tls-errors';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';

/** Failure types this backend adds to FailureTypes. */
export const KvFailureTypes = {
  /** Vault could not be reached, was sealed or a standby (5xx), throttled (429) or behind (412): retried. */
  KvUnavailable: 'VaultKvUnavailable',
  /** Vault rejected the request as malformed (400, 405): a bug, a KV v1 mount or a Vault before 1.9. */
  KvRequestRejected: 'VaultKvRequestRejected',
  /** A write would exceed KV's custom_metadata limits (64 keys, 128-char keys, 512-char values). */
  KvMetadataLimit: 'VaultKvMetadataLimit',
  /** Check-and-set lost to another writer on every try of this attempt: the next attempt looks again. */
  KvWriteConflict: 'VaultKvWriteConflict',
  /** Vault's certificate is not trusted by this process. */
  VaultTlsUntrusted: 'VaultTlsUntrusted',
  /** Promote asked after this rotation already rolled the stable path back (same type as Key Vault's). */
  RotationRolledBack: 'RotationRolledBack',
  /** The location's pending path is its stable path (same type as Key Vault's). */
  SecretNamesCollide: 'SecretNamesCollide',
} as const;

/** What was being done when the error happened, for the message. */
export interface KvContext {
  /** storeLabel() of the location: address, namespace and mount. */
  store: string;
  /** The path below the mount. */
  path: string;
  /** A verb phrase: "read the current version of", "write a new version of", … */
  operation: string;
}

/** A non-2xx answer; `casMismatch` when KV refused a check-and-set write. */
export class KvHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
    readonly casMismatch: boolean,
  ) {
    super(`Vault answered ${status}`);
    this.name = 'KvHttpError';
  }
}

/** The system error code behind a failed fetch (ECONNREFUSED, a TLS code, …), if any. */
export function networkCodeOf(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = cause?.code ?? (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for network trouble worth resending a request over (not TLS, not an answer). */
export function isTransient(err: unknown): boolean {
  if (err instanceof KvHttpError) return err.status === 412 || err.status === 429 || err.status >= 500;
  const code = networkCodeOf(err);
  return !(code && TLS_ERROR_CODES.has(code));
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Maps any error of a KV call to an ApplicationFailure (passes ApplicationFailures through). */
export function kvFailure(err: unknown, ctx: KvContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const what = `could not ${ctx.operation} ${ctx.path} in ${ctx.store}`;
  if (err instanceof KvHttpError) {
    const { status } = err;
    if (status === 401 || status === 403)
      return nonRetryable(
        FailureTypes.VaultForbidden,
        `${what}: Vault answered ${status} (permission denied). The token (VAULT_TOKEN, or the Vault Agent ` +
          `sink named by VAULT_TOKEN_FILE) is invalid, expired, or its policy lacks read, create, update, ` +
          `patch and delete on ${ctx.store}/data|metadata|delete|destroy/${ctx.path}`,
      );
    if (status === 404)
      return nonRetryable(
        FailureTypes.SecretNotFound,
        `${what}: Vault answered 404; check the registry's address, namespace, mount (a KV v2 mount) and path`,
      );
    if (status === 412 || status === 429 || status >= 500)
      return ApplicationFailure.create({
        type: KvFailureTypes.KvUnavailable,
        message:
          `${what}: Vault answered ${status}` +
          (err.retryAfterSeconds !== undefined ? ` with Retry-After ${err.retryAfterSeconds}s` : '') +
          (status === 503 ? ' (sealed, or a standby without a leader)' : '') +
          '; will retry',
        nonRetryable: false,
        ...(err.retryAfterSeconds !== undefined
          ? { nextRetryDelay: `${Math.max(1, err.retryAfterSeconds)}s` }
          : {}),
      });
    if (err.casMismatch)
      return ApplicationFailure.create({
        type: KvFailureTypes.KvWriteConflict,
        message: `${what}: another writer changed it first (check-and-set mismatch); the next attempt looks again`,
        nonRetryable: false,
      });
    return nonRetryable(
      KvFailureTypes.KvRequestRejected,
      `${what}: Vault rejected the request with ${status}` +
        (status === 405
          ? ' (is the mount KV v2, and Vault 1.9+ / OpenBao, which support PATCH of metadata?)'
          : ' (is the mount KV v2? is the field a string?)'),
    );
  }
  const code = networkCodeOf(err);
  if (code && TLS_ERROR_CODES.has(code))
    return nonRetryable(
      KvFailureTypes.VaultTlsUntrusted,
      `${what}: TLS failed (${code}). Vault's certificate is not trusted by this process: start Node with ` +
        `NODE_EXTRA_CA_CERTS=<Vault's CA PEM>; never disable TLS verification (NODE_TLS_REJECT_UNAUTHORIZED)`,
    );
  const name = err instanceof Error ? err.name : '';
  const reason =
    name === 'TimeoutError' || name === 'AbortError'
      ? 'no answer within the request timeout'
      : `could not be reached (${code ?? (name || 'unknown error')})`;
  return ApplicationFailure.create({
    type: KvFailureTypes.KvUnavailable,
    message: `${what}: Vault ${reason}; will retry (a write's outcome is looked up before writing again)`,
    nonRetryable: false,
  });
}
