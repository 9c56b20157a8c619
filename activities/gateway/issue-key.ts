// Issuing a replacement key so that a retried activity never leaves two live keys: look up before
// creating. A key this rotation issued is reused when the pending secret already holds it; a key the
// gateway has but whose value was lost (the create answered, staging did not happen) is revoked and
// issued again, since its value cannot be read back.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import type { GatewayAdmin } from '../../domain/ports';
import type { KeyScope, SecretVersionRef } from '../../domain/activity-io';
import { revokeKey } from './admin-registry';
import { scopeBroadening } from './scope';

export interface IssueResult {
  keyId: string;
  scope: KeyScope;
  pending: SecretVersionRef;
  reused: boolean;
}

/**
 * Issues (or finds) the rotation's key with the old key's scope and stages it with `stage`. A key
 * whose scope comes back broader than the old one is revoked and fails non-retryably.
 */
export async function issueReplacementKey(
  admin: GatewayAdmin,
  rotationId: string,
  oldScope: KeyScope,
  pending: SecretVersionRef | undefined,
  stage: (value: string, keyId: string) => Promise<SecretVersionRef>,
  inUseKeyId?: string,
): Promise<IssueResult> {
  const issued = await admin.findIssued(rotationId);
  if (issued && pending?.gatewayKeyId === issued.keyId) {
    return { keyId: issued.keyId, scope: issued.scope, pending, reused: true };
  }
  if (issued && issued.keyId === inUseKeyId) {
    // A completed rotation of the same ticket issued the key production now uses: never revoke it.
    throw ApplicationFailure.nonRetryable(
      `rotation ${rotationId} already issued the key in use (${issued.keyId.slice(0, 12)}…); open a new change ticket to rotate again`,
      FailureTypes.RotationAlreadyCompleted,
    );
  }
  if (issued) await revokeKey(admin, issued.keyId);
  const created = await admin.createKey(rotationId, oldScope);
  const scope =
    (await admin.describeKey(created.value))?.scope ?? (await admin.findIssued(rotationId))?.scope;
  const broader = scope ? scopeBroadening(oldScope, scope) : ['the gateway does not describe the new key'];
  if (broader.length > 0) {
    await revokeKey(admin, created.keyId);
    throw ApplicationFailure.nonRetryable(
      `replacement key would broaden access: ${broader.join('; ')}`,
      FailureTypes.ScopeBroadened,
    );
  }
  return {
    keyId: created.keyId,
    scope: scope!,
    pending: await stage(created.value, created.keyId),
    reused: false,
  };
}
