// Key Vault errors mapped once into ApplicationFailures the workflow branches on: what retrying cannot fix
// (a missing or disabled secret, a refused identity, an untrusted certificate) is non-retryable and says
// which vault and secret; throttling, 5xx and network trouble are retryable. Messages are built from ids
// and status codes only, never from request bodies, so no key value can reach them (or history).
import { TLS_ERROR_CODES } from '../tls-errors';
import { ApplicationFailure } from '@temporalio/common';
import { isRestError } from '@azure/keyvault-secrets';
import { FailureTypes } from '../../../domain/failure-types';
import { tooLongRetryAfterOf } from './retry-after-cap-policy';
import { WRITE_OUTCOME_UNKNOWN } from './write-once-policy';

/** Failure types this adapter adds to FailureTypes. */
export const VaultFailureTypes = {
  /** The vault's certificate is not trusted (or TLS is misconfigured): not fixed by retrying. */
  VaultTlsUntrusted: 'VaultTlsUntrusted',
  /** A request the vault rejected as malformed (400): a bug or a bad name, not fixed by retrying. */
  VaultRequestRejected: 'VaultRequestRejected',
  /** The vault could not be reached or answered 429/5xx: retried. */
  VaultUnavailable: 'VaultUnavailable',
  /** Promote asked after this rotation already rolled the stable path back. */
  RotationRolledBack: 'RotationRolledBack',
  /** Azure Policy (or a vault policy) denied the operation (403 ForbiddenByPolicy): not fixed by access. */
  VaultPolicyDenied: 'VaultPolicyDenied',
  /** A write would exceed Key Vault's tag limits (15 tags, 256-character values): checked before writing. */
  VaultTagLimit: 'VaultTagLimit',
  /** The registry entry's pending secret name is its stable name (Key Vault names are case-insensitive). */
  SecretNamesCollide: 'SecretNamesCollide',
  /** Emulator mode (a no-op credential) asked for a real Azure vault host: a configuration mistake. */
  EmulatorModeRefused: 'EmulatorModeRefused',
} as const;

/** What was being done when the error happened, for the message. */
export interface VaultContext {
  vaultUrl: string;
  secretName: string;
  /** A verb phrase: "read the newest version of", "promote the pending value into", … */
  operation: string;
}

/** The HTTP status of a Key Vault error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  return isRestError(err) ? err.statusCode : undefined;
}

/** The service's inner error code (e.g. `SecretDisabled`), if any. */
export function innerCodeOf(err: unknown): string | undefined {
  if (!isRestError(err)) return undefined;
  const details = err.details as { error?: { code?: string; innerError?: { code?: string } } } | undefined;
  return details?.error?.innerError?.code;
}

/** True when Key Vault refused to read a disabled version. */
export function isDisabledError(err: unknown): boolean {
  return statusOf(err) === 403 && innerCodeOf(err) === 'SecretDisabled';
}

function serviceCode(err: unknown): string {
  if (!isRestError(err)) return '';
  const details = err.details as { error?: { code?: string } } | undefined;
  const code = details?.error?.code ?? err.code;
  const inner = innerCodeOf(err);
  return [code, inner].filter(Boolean).join('/');
}

function retryAfterSeconds(err: unknown): number | undefined {
  const tooLong = tooLongRetryAfterOf(err);
  if (tooLong !== undefined) return tooLong;
  if (!isRestError(err)) return undefined;
  const raw = err.response?.headers.get('retry-after');
  const seconds = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Maps any error of a Key Vault call to an ApplicationFailure (passes ApplicationFailures through). */
export function vaultFailure(err: unknown, ctx: VaultContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const what = `could not ${ctx.operation} secret ${ctx.secretName} in ${ctx.vaultUrl}`;
  const status = statusOf(err);
  const code = isRestError(err) ? err.code : (err as { code?: unknown } | undefined)?.code;

  if (typeof code === 'string' && TLS_ERROR_CODES.has(code)) {
    return nonRetryable(
      VaultFailureTypes.VaultTlsUntrusted,
      `${what}: TLS failed (${code}). The vault's certificate is not trusted by this process: for a local ` +
        `emulator, start Node with NODE_EXTRA_CA_CERTS=<the emulator's certificate PEM>; never disable TLS ` +
        `verification (NODE_TLS_REJECT_UNAUTHORIZED)`,
    );
  }
  if (status === 404) {
    return nonRetryable(
      FailureTypes.SecretNotFound,
      `${what}: Key Vault answered 404 (${serviceCode(err) || 'NotFound'}); check the credential registry's vault URL and secret name`,
    );
  }
  if (status === 403 && innerCodeOf(err) === 'SecretDisabled') {
    return nonRetryable(
      FailureTypes.SecretDisabled,
      `${what}: the version is disabled (Key Vault 403 SecretDisabled); apps reading it fail too — enable it or write a new version`,
    );
  }
  if (
    status === 403 &&
    (innerCodeOf(err) === 'ForbiddenByPolicy' || serviceCode(err).startsWith('ForbiddenByPolicy'))
  ) {
    return nonRetryable(
      VaultFailureTypes.VaultPolicyDenied,
      `${what}: Key Vault answered 403 (${serviceCode(err)}): a policy denies this operation, not missing access — ` +
        `granting the identity more roles does not help. Look for an Azure Policy assignment on the vault's scope ` +
        `with a deny effect on secrets (e.g. "Key Vault secrets should have an expiration date", a maximum validity ` +
        `period or allowed content types) or a vault setting such as purge protection; make the secret comply or ` +
        `get a policy exemption for it, then retry the rotation`,
    );
  }
  if (status === 401 || status === 403) {
    return nonRetryable(
      FailureTypes.VaultForbidden,
      `${what}: Key Vault answered ${status} (${serviceCode(err) || 'Forbidden'}); grant the worker's identity ` +
        `secrets get, list, set, delete, recover and purge on this vault (RBAC "Key Vault Secrets Officer" or an access policy)`,
    );
  }
  if (status === 429 || (status !== undefined && status >= 500)) {
    const after = retryAfterSeconds(err);
    return ApplicationFailure.create({
      type: VaultFailureTypes.VaultUnavailable,
      message: `${what}: Key Vault answered ${status}${after !== undefined ? ` with Retry-After ${after}s` : ''}; will retry`,
      nonRetryable: false,
      ...(after !== undefined ? { nextRetryDelay: `${Math.max(1, after)}s` } : {}),
    });
  }
  if (status === 409) {
    return ApplicationFailure.create({
      type: VaultFailureTypes.VaultUnavailable,
      message: `${what}: Key Vault answered 409 (${serviceCode(err) || 'Conflict'}), an operation on the name is still in progress; will retry`,
      nonRetryable: false,
    });
  }
  if (status !== undefined && status >= 400) {
    return nonRetryable(
      VaultFailureTypes.VaultRequestRejected,
      `${what}: Key Vault rejected the request with ${status} (${serviceCode(err) || 'BadRequest'})`,
    );
  }
  if (code === WRITE_OUTCOME_UNKNOWN) {
    return ApplicationFailure.create({
      type: VaultFailureTypes.VaultUnavailable,
      message: `${what}: the connection failed after the write was sent, so its outcome is unknown; it is not resent blindly — the next attempt looks it up first`,
      nonRetryable: false,
    });
  }
  if (err instanceof Error && err.name === 'AbortError') {
    // The per-request timeout fired (an aborted operation is explained by the operation, not here).
    return ApplicationFailure.create({
      type: VaultFailureTypes.VaultUnavailable,
      message: `${what}: the vault did not answer within the request timeout; will retry (a write's outcome is looked up first)`,
      nonRetryable: false,
    });
  }
  const reason = typeof code === 'string' && code ? code : err instanceof Error ? err.name : 'unknown error';
  return ApplicationFailure.create({
    type: VaultFailureTypes.VaultUnavailable,
    message: `${what}: the vault could not be reached (${reason}); will retry`,
    nonRetryable: false,
  });
}
