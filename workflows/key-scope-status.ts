// The scope comparison a refused issue carries in its failure details, for the rotation's status: the
// diff that failed is shown, not only named in the failure message. Deterministic (reads the failure).
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureTypes } from '../domain/failure-types';
import type { KeyScopeCheck } from '../domain/key-scope';

const SCOPE_FAILURES: readonly string[] = [FailureTypes.ScopeBroadened, FailureTypes.ScopeNotCopied];

const looksLikeCheck = (v: unknown): v is KeyScopeCheck =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray((v as KeyScopeCheck).diff) &&
  typeof (v as KeyScopeCheck).old === 'object' &&
  typeof (v as KeyScopeCheck).issued === 'object';

/** The check an issue refused on, or undefined (other failures, or histories from before the check). */
export function scopeCheckFromFailure(err: unknown): KeyScopeCheck | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || !SCOPE_FAILURES.includes(cause.type ?? '')) return undefined;
  const first = cause.details?.[0];
  return looksLikeCheck(first) ? first : undefined;
}
