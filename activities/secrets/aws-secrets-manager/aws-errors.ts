// Secrets Manager errors mapped once into ApplicationFailures the workflow branches on. What retrying cannot
// fix (a refused identity, a missing secret, one scheduled for deletion, a malformed request) is
// non-retryable and names the secret and the store; throttling, 5xx and network trouble are retryable.
// Messages carry ids, operation names, error names and status codes only, never an AWS message or a body.
// AWS's JSON protocol answers most client errors with HTTP 400 and an error name (AccessDeniedException,
// ThrottlingException, …): the name decides first, the status only when there is no known name.
import { TLS_ERROR_CODES } from '../tls-errors';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';

/** Failure types this adapter adds to FailureTypes. */
export const AwsFailureTypes = {
  /** Secrets Manager could not be reached, throttled, or answered 5xx: retried. */
  Unavailable: 'SecretsManagerUnavailable',
  /** A request Secrets Manager rejected as invalid (InvalidRequest, InvalidParameter, a quota): not retried. */
  RequestRejected: 'SecretsManagerRequestRejected',
  /** rekey's per-version facts would break AWS's tag limits (50 tags, 128/256 characters): checked first. */
  TagLimit: 'SecretsManagerTagLimit',
  /** The endpoint's TLS certificate is not trusted: not fixed by retrying. */
  TlsUntrusted: 'SecretsManagerTlsUntrusted',
  /** A plain-HTTP endpoint that is not loopback: secret values would cross the network in clear. */
  InsecureEndpoint: 'SecretsManagerInsecureEndpoint',
  /** Promote asked after this rotation already rolled the secret back. */
  RotationRolledBack: 'RotationRolledBack',
  /** The secret's labels were moved outside this rotation in a way rekey will not undo. */
  LabelsMovedElsewhere: 'SecretsManagerLabelsMovedElsewhere',
} as const;

/** What was being done when the error happened, for the message. */
export interface AwsContext {
  /** storeLabel() of the location: the endpoint or `aws-secrets-manager:<region>`. */
  store: string;
  secretId: string;
  /** A verb phrase: "read the AWSCURRENT version of", "move AWSCURRENT in", … */
  operation: string;
}

const FORBIDDEN = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'CredentialsProviderError',
]);
/** KMS refused to decrypt or encrypt the secret for this identity (or the key is disabled). */
const KMS = new Set(['DecryptionFailure', 'EncryptionFailure']);
const THROTTLED_OR_DOWN = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'InternalServiceError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
const REJECTED = new Set([
  'InvalidRequestException',
  'InvalidParameterException',
  'ValidationException',
  'ResourceExistsException',
  'PreconditionNotMetException',
  'MalformedPolicyDocumentException',
  'LimitExceededException',
  'InvalidNextTokenException',
]);

/** The SDK's view of an error: its name, HTTP status and fault side, when it has them. */
export function errorFacts(err: unknown): { name: string; status?: number; code?: string; server: boolean } {
  const e = (err ?? {}) as {
    name?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    ...(status !== undefined ? { status } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    server: e.$fault === 'server',
  };
}

/** True for ResourceNotFoundException (no such secret, or no such version). */
export function isNotFound(err: unknown): boolean {
  return errorFacts(err).name === 'ResourceNotFoundException';
}

/**
 * True when the secret is scheduled for deletion: AWS refuses reads and writes with InvalidRequestException
 * until RestoreSecret. Its message is the only tell; it is matched here and never repeated.
 */
export function isScheduledForDeletion(err: unknown): boolean {
  if (errorFacts(err).name !== 'InvalidRequestException') return false;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && /marked (for )?delet|scheduled for delet/i.test(message);
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

function retryable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: AwsFailureTypes.Unavailable, message, nonRetryable: false });
}

/** Maps any error of a Secrets Manager call to an ApplicationFailure (passes ApplicationFailures through). */
export function awsFailure(err: unknown, ctx: AwsContext): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const what = `could not ${ctx.operation} secret ${ctx.secretId} in ${ctx.store}`;
  const { name, status, code, server } = errorFacts(err);
  const answered = `Secrets Manager answered ${status ?? 'without a status'} (${name})`;

  if (code && TLS_ERROR_CODES.has(code))
    return nonRetryable(
      AwsFailureTypes.TlsUntrusted,
      `${what}: TLS failed (${code}); the endpoint's certificate is not trusted by this process (a private CA: ` +
        `NODE_EXTRA_CA_CERTS=<its PEM>; never disable TLS verification)`,
    );
  if (FORBIDDEN.has(name) || status === 401 || status === 403)
    return nonRetryable(
      FailureTypes.VaultForbidden,
      `${what}: ${answered}; the worker's AWS identity needs secretsmanager:GetSecretValue, DescribeSecret, ` +
        `ListSecretVersionIds, PutSecretValue, UpdateSecretVersionStage, TagResource and UntagResource on this ` +
        `secret (and kms:Decrypt / kms:GenerateDataKey on its KMS key)`,
    );
  if (KMS.has(name))
    return nonRetryable(
      FailureTypes.VaultForbidden,
      `${what}: ${answered}: KMS refused the secret's key for this identity, or the key is disabled; grant ` +
        `kms:Decrypt and kms:GenerateDataKey on the secret's KMS key`,
    );
  if (name === 'ResourceNotFoundException')
    return nonRetryable(
      FailureTypes.SecretNotFound,
      `${what}: ${answered}; check the credential registry's region, endpoint and secret id`,
    );
  if (isScheduledForDeletion(err))
    return nonRetryable(
      FailureTypes.SecretDisabled,
      `${what}: ${answered}: the secret is scheduled for deletion, so apps cannot read it either; restore it ` +
        `(RestoreSecret) or register another secret`,
    );
  if (THROTTLED_OR_DOWN.has(name) || server || status === 429 || (status !== undefined && status >= 500))
    return retryable(`${what}: ${answered}; will retry`);
  if (REJECTED.has(name) || (status !== undefined && status >= 400))
    return nonRetryable(AwsFailureTypes.RequestRejected, `${what}: ${answered}`);
  if (name === 'AbortError')
    return retryable(`${what}: the request was aborted before Secrets Manager answered; will retry`);
  return retryable(
    `${what}: Secrets Manager could not be reached (${code ?? name}); will retry (writes are looked up first)`,
  );
}
