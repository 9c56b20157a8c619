// Bundle section `outcome`: how the rotation ended, which key serves, and what is left to clean up.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import { revocationEntry } from './timeline-events';

type Section = EvidenceBundle['outcome'];

const FINAL_PHASE: Record<Section['outcome'], Section['finalPhase']> = {
  completed: 'COMPLETED',
  rolled_back: 'ROLLED_BACK',
  aborted: 'ABORTED',
  failed: 'FAILED',
};

/** The rotation's end: outcome and phase, the cause of a rollback or failure, and the keys' state. */
export function outcomeOf(status: RotationStatus, outcome: NonNullable<RotationStatus['outcome']>): Section {
  return {
    outcome,
    finalPhase: FINAL_PHASE[outcome],
    rollbackCause: status.rollbackCause ?? null,
    failure: status.failure ? { phase: status.failure.phase, reason: status.failure.reason } : null,
    oldKeyRevoked: revocationEntry(status) !== undefined || status.revocation?.deletedAt !== undefined,
    newKeyServing:
      status.versions.current !== undefined &&
      status.versions.restored === undefined &&
      outcome !== 'rolled_back' &&
      outcome !== 'aborted',
    keptReplacementKey: keptReplacementKeyOf(status),
    live: status.live
      ? {
          oldKey: status.live.oldKey,
          newKey: status.live.newKey,
          currentVersion: status.live.currentVersion ?? null,
          detail: status.live.detail,
        }
      : null,
  };
}

/** The replacement key a rollback past the flip left enabled, and whether it has been revoked since. */
function keptReplacementKeyOf(status: RotationStatus): Section['keptReplacementKey'] {
  const k = status.keptReplacementKey;
  if (!k) return null;
  return {
    gatewayKeyId: k.keyId ?? null,
    fingerprint: k.fingerprint ?? null,
    since: k.since,
    revoked: k.revokedAt !== undefined,
    revokedAt: k.revokedAt ?? null,
    revokedBy: k.revokedBy ?? null,
  };
}
