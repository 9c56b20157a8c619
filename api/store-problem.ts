// What a failed write to the secret store during a manual hand-off answers: a problem the caller can act
// on, from any backend's failure types. Never a 500, and never a value (messages name types only).
import { ApplicationFailure } from '@temporalio/common';
import { HttpProblem } from './errors';

/**
 * Secret-store failures the hand-off can meet, as the problem a caller can act on. Any backend's: the
 * ones named here get their own answer; any other retryable one is a 503 (try again), any other
 * non-retryable one a 502 naming its type. Never a 500, and nothing was handed over in each case.
 */
const STORE_STATUS: Record<string, [number, string]> = {
  VaultForbidden: [
    502,
    'rekey may not write to the secret store; nothing was handed over (ask the platform team)',
  ],
  VaultTlsUntrusted: [502, "the secret store's certificate is not trusted; nothing was handed over"],
  SecretsManagerTlsUntrusted: [502, "the secret store's certificate is not trusted; nothing was handed over"],
  VaultRequestRejected: [422, 'the secret store refused the value; nothing was handed over'],
  VaultKvRequestRejected: [422, 'the secret store refused the value; nothing was handed over'],
  SecretsManagerRequestRejected: [422, 'the secret store refused the value; nothing was handed over'],
};

export function storeProblem(err: unknown): unknown {
  if (!(err instanceof ApplicationFailure)) return err;
  const known = err.type ? STORE_STATUS[err.type] : undefined;
  if (known) {
    const [status, detail] = known;
    return new HttpProblem(status, 'Secret store error', detail);
  }
  if (!err.nonRetryable)
    return new HttpProblem(
      503,
      'Service unavailable',
      'the secret store is unavailable; nothing was handed over, try again',
    );
  return new HttpProblem(
    502,
    'Secret store error',
    `the secret store refused the hand-off (${err.type ?? 'unknown'}); nothing was handed over`,
  );
}
