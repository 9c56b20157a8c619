// Issuing a replacement key so that a retried activity never leaves two live keys: look up before
// creating. A key this rotation issued is reused when the pending secret already holds it; a key the
// gateway has but whose value was lost (the create answered, staging did not happen) is revoked and
// issued again, since its value cannot be read back.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import type { GatewayAdmin } from '../../domain/ports';
import type { KeyScope, SecretVersionRef } from '../../domain/activity-io';
import { DEFAULT_MIN_LIFETIME_MINUTES, type KeyScopeCheck, type KeyScopeRules } from '../../domain/key-scope';
import { revokeKey } from './admin-registry';
import { checkScope, expectedAlias, replacementLifetime, scopeFailures } from './scope';

export interface IssueResult {
  keyId: string;
  scope: KeyScope;
  pending: SecretVersionRef;
  reused: boolean;
  scopeCheck: KeyScopeCheck;
}

export const DEFAULT_KEY_SCOPE_RULES: KeyScopeRules = {
  minLifetimeMs: DEFAULT_MIN_LIFETIME_MINUTES * 60_000,
  allowChanged: [],
};

/** The scope to ask the gateway for: the old one, expiring no later than the old key (see replacementLifetime). */
function requestedScope(oldScope: KeyScope, rules: KeyScopeRules, nowMs: number): KeyScope {
  const lifetime = replacementLifetime(oldScope, rules, nowMs);
  if (!lifetime.ok)
    throw ApplicationFailure.nonRetryable(
      `replacement key refused: ${lifetime.reason}`,
      FailureTypes.ScopeNotCopied,
    );
  const expiresAt =
    lifetime.durationSeconds === null
      ? null
      : new Date(nowMs + lifetime.durationSeconds * 1000).toISOString();
  return { ...oldScope, expiresAt };
}

/** Names what failed: broadenings as ScopeBroadened, any other unallowed change as ScopeNotCopied. */
function scopeRefusal(check: KeyScopeCheck, nowMs: number): ApplicationFailure | undefined {
  const expired = check.issued.expiresAt && Date.parse(check.issued.expiresAt) <= nowMs;
  const failures = scopeFailures(check.diff).map((e) => e.detail);
  if (expired) failures.push(`expires: the gateway issued it already expired (${check.issued.expiresAt})`);
  if (failures.length === 0) return undefined;
  const broader = check.diff.some((e) => e.kind === 'broader');
  return ApplicationFailure.nonRetryable(
    broader
      ? `replacement key would broaden access: ${failures.join('; ')}`
      : `replacement key does not keep the old key's scope: ${failures.join('; ')}`,
    broader ? FailureTypes.ScopeBroadened : FailureTypes.ScopeNotCopied,
    check,
  );
}

const withAlias = (alias: string | undefined) => (alias === undefined ? {} : { expectedAlias: alias });

/**
 * Issues (or finds) the rotation's key with the old key's scope and stages it with `stage`. The key is
 * read back and compared field by field: one that comes back broader, or different where the policy
 * does not allow it, is revoked and fails non-retryably (before the flip, so the rotation rolls back).
 */
export async function issueReplacementKey(
  admin: GatewayAdmin,
  rotationId: string,
  oldScope: KeyScope,
  pending: SecretVersionRef | undefined,
  stage: (value: string, keyId: string) => Promise<SecretVersionRef>,
  inUseKeyId?: string,
  rules: KeyScopeRules = DEFAULT_KEY_SCOPE_RULES,
): Promise<IssueResult> {
  const compare = (scope: KeyScope) =>
    checkScope(oldScope, scope, {
      allowChanged: rules.allowChanged,
      ...withAlias(expectedAlias(admin.kind, oldScope.keyAlias, rotationId)),
    });
  const issued = await admin.findIssued(rotationId);
  if (issued && pending?.gatewayKeyId === issued.keyId) {
    return {
      keyId: issued.keyId,
      scope: issued.scope,
      pending,
      reused: true,
      scopeCheck: compare(issued.scope),
    };
  }
  if (issued && issued.keyId === inUseKeyId) {
    // A completed rotation of the same ticket issued the key production now uses: never revoke it.
    throw ApplicationFailure.nonRetryable(
      `rotation ${rotationId} already issued the key in use (${issued.keyId.slice(0, 12)}…); open a new change ticket to rotate again`,
      FailureTypes.RotationAlreadyCompleted,
    );
  }
  if (issued) await revokeKey(admin, issued.keyId);
  const created = await admin.createKey(rotationId, requestedScope(oldScope, rules, Date.now()));
  const scope =
    (await admin.describeKey(created.value))?.scope ?? (await admin.findIssued(rotationId))?.scope;
  if (!scope) {
    await revokeKey(admin, created.keyId);
    throw ApplicationFailure.nonRetryable(
      'replacement key would broaden access: the gateway does not describe the new key',
      FailureTypes.ScopeBroadened,
    );
  }
  const scopeCheck = compare(scope);
  const refusal = scopeRefusal(scopeCheck, Date.now());
  if (refusal) {
    await revokeKey(admin, created.keyId);
    throw refusal;
  }
  return {
    keyId: created.keyId,
    scope,
    pending: await stage(created.value, created.keyId),
    reused: false,
    scopeCheck,
  };
}
