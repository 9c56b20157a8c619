// REVOKING and VERIFYING_REVOCATION, and the gateway side of ROLLING_BACK: the old key is disabled
// (where the gateway can), proved refused, then deleted; a rollback revokes the key this rotation issued.
import { revokeKey } from '../gateway/admin-registry';
import { negativeTestOnReplicas, oldKeyGraceOnReplicas, replicaBaseUrls } from '../gateway/replicas';
import type {
  CredentialRef,
  KeyActionResult,
  NegativeTestResult,
  OldKeyGrace,
  RevokeResult,
  SecretVersionRef,
} from '../../domain/activity-io';
import { adminFor, clockOf, type AreaDeps } from './area-deps';

/** The activities that act on gateway keys after the flip, and the negative test between them. */
export function revocationActivities(
  deps: Pick<AreaDeps, 'gatewayAdminFor' | 'secretStoreFor' | 'probeFor' | 'metrics' | 'now'>,
) {
  const now = clockOf(deps);
  return {
    /** REVOKING: the reversible step; `unsupported` where the gateway cannot disable a key. */
    async disableGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const admin = adminFor(deps, input.credential);
      const at = new Date(now()).toISOString();
      if (!admin.canDisable) return { result: 'unsupported', at };
      return { result: await admin.disableKey(input.keyId), at };
    },

    /** VERIFYING_REVOCATION failed: the old key works again, so the way back stays open. */
    async enableGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const result = await adminFor(deps, input.credential).enableKey(input.keyId);
      return { result, at: new Date(now()).toISOString() };
    },

    /** VERIFYING_REVOCATION passed: the irreversible step; an unknown key counts as deleted. */
    async deleteGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const result = await adminFor(deps, input.credential).deleteKey(input.keyId);
      return { result, at: new Date(now()).toISOString() };
    },

    /** ROLLING_BACK: revokes the key this rotation issued, found by its tag; none issued is fine. */
    async revokeIssuedKey(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<RevokeResult & { keyId?: string }> {
      const admin = adminFor(deps, input.credential);
      const issued = await admin.findIssued(input.rotationId);
      const at = new Date(now()).toISOString();
      if (!issued) return { method: 'already-gone', at };
      const outcome = await revokeKey(admin, issued.keyId);
      return {
        keyId: issued.keyId,
        method: outcome === 'revoked' ? 'disabled-and-deleted' : 'already-gone',
        at,
      };
    },

    /** REVOKING, just before the old key is touched: it must still answer 2xx on every replica. */
    async checkOldKeyGrace(input: {
      credential: CredentialRef;
      old: SecretVersionRef;
    }): Promise<OldKeyGrace> {
      const oldKey = await deps.secretStoreFor(input.credential).resolve(input.old);
      return oldKeyGraceOnReplicas(
        deps.probeFor(input.credential),
        await replicaBaseUrls(input.credential),
        oldKey,
        now,
      );
    },

    /** VERIFYING_REVOCATION: old key must be refused, new key accepted; retried while the gateway propagates. */
    async negativeTest(input: {
      credential: CredentialRef;
      old: SecretVersionRef;
      current: SecretVersionRef;
      attempts: number;
      intervalMs: number;
    }): Promise<NegativeTestResult> {
      const store = deps.secretStoreFor(input.credential);
      const [oldKey, newKey] = [await store.resolve(input.old), await store.resolve(input.current)];
      const result = await negativeTestOnReplicas(
        deps.probeFor(input.credential),
        await replicaBaseUrls(input.credential),
        oldKey,
        newKey,
        {
          attempts: input.attempts,
          intervalMs: input.intervalMs,
          now,
        },
      );
      // The same verdict the workflow draws: passed only when the old key is refused and the new accepted.
      const passed = result.oldKeyRejected && result.newKeyAccepted;
      deps.metrics?.negativeTests.inc({ result: passed ? 'passed' : 'failed' });
      return result;
    },
  };
}
