// Bundle section `negativeTest`: the old key refused and the new accepted, how the old key was revoked
// and what way back that left, and the retired secret version.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import { canaryRequest } from './canary-request';
import type { EvidenceInput } from './context';
import { lastEvent, revocationEntry } from './timeline-events';

type Section = EvidenceBundle['negativeTest'];
type RevocationMethod = NonNullable<RotationStatus['revocation']>['method'];

/** What each revocation method leaves as a way back. */
const REVOCATION_NOTE: Record<RevocationMethod, string> = {
  'disable-then-delete':
    'disable-then-delete: the old key was disabled first, so it could be enabled again until it was deleted',
  'delete-only': 'delete-only: no way back once revoked (the gateway cannot disable a key)',
  manual: 'manual: a human revoked the old key at the gateway; rekey could not undo it',
};

/** The negative test as it ran (or null fields where it did not), with the revocation around it. */
export function negativeTestOf(status: RotationStatus, input: EvidenceInput | undefined): Section {
  const t = status.negativeTest;
  const retired = status.versions.retired;
  return {
    required: input ? input.evidence.old_key_negative_test === 'required' : null,
    ran: t !== undefined,
    at: t?.at ?? null,
    oldKeyStatus: t?.oldKeyStatus ?? null,
    oldKeyRejected: t?.oldKeyRejected ?? null,
    newKeyStatus: t?.newKeyStatus ?? null,
    newKeyAccepted: t?.newKeyAccepted ?? null,
    attempts: t?.attempts ?? null,
    ...(t?.replicas ? { replicas: t.replicas } : {}),
    revocation: revocationOf(status),
    oldVersionRetired: retired
      ? {
          name: retired.name,
          version: retired.version,
          at: lastEvent(status, 'previous-version-retired')?.at ?? null,
        }
      : null,
  };
}

/** How the old key was revoked: the rotation's record, else the timeline entry of the revoking step. */
function revocationOf(status: RotationStatus): Section['revocation'] {
  const rv = status.revocation;
  const entry = revocationEntry(status);
  if (!rv && !entry) return null;
  return {
    method: rv?.method ?? null,
    note: rv ? REVOCATION_NOTE[rv.method] : 'the rotation did not record how the old key was revoked',
    at: rv?.deletedAt ?? entry?.at ?? null,
    by: entry?.by ?? null,
    detail: entry?.detail ?? null,
    disabledAt: rv?.disabledAt ?? null,
    reEnabledAt: rv?.reEnabledAt ?? null,
    deletedAt: rv?.deletedAt ?? null,
    preRevokeProbe: (rv?.preRevokeProbe ?? []).map(canaryRequest),
    ...(rv?.oldKeyGrace ? { oldKeyGrace: { ...rv.oldKeyGrace, note: graceNote(rv.oldKeyGrace) } } : {}),
  };
}

/** The grace check in words: a replica that refused the old key before revoke cost its consumers service. */
function graceNote(grace: NonNullable<NonNullable<RotationStatus['revocation']>['oldKeyGrace']>): string {
  const cut = grace.replicas.filter((r) => !r.ok);
  if (cut.length === 0) return 'the old key answered 2xx on every replica until rekey revoked it';
  return `the gateway cut the old key early on ${cut.map((r) => `${r.replica} (${r.status})`).join(', ')}: consumers still on it lost service before rekey revoked it (LiteLLM #27193)`;
}
