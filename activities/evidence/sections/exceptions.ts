// Bundle section `exceptions`: the hold's end and extensions, and every consumer still on the old key
// with its owner, what stood in for it, and how its exception was closed.
import type { RotationStatus, TimelineEntry } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import type { EvidenceContext } from './context';
import { lastEvent, revocationEntry } from './timeline-events';

type Section = EvidenceBundle['exceptions'];
type ConsumerException = Section['consumers'][number];
type Disposition = ConsumerException['disposition'];

/** The hold's exceptions; a consumer's disposition follows from how the rotation ended. */
export function exceptionsOf(
  status: RotationStatus,
  context: EvidenceContext,
  outcome: NonNullable<RotationStatus['outcome']>,
): Section {
  const holdExtensions = status.timeline.filter((t) => t.event === 'hold-extended').map(holdExtension);
  const extendedUntil = holdExtensions.length > 0 ? (status.hold?.maxHoldEndsAt ?? null) : null;
  const disposition: Disposition =
    outcome === 'completed'
      ? 'revoked-after-approval'
      : outcome === 'rolled_back' || outcome === 'aborted'
        ? 'old-key-restored'
        : 'open';
  return {
    maxHoldReachedAt: lastEvent(status, 'max-hold-reached')?.at ?? null,
    holdExtensions,
    consumers: status.exceptions.map((e) =>
      consumerException(status, context, e, { disposition, extendedUntil }),
    ),
  };
}

/** One consumer's exception: registry facts, the owner and where that owner came from, and its close. */
function consumerException(
  status: RotationStatus,
  { input, credential }: EvidenceContext,
  e: RotationStatus['exceptions'][number],
  { disposition, extendedUntil }: { disposition: Disposition; extendedUntil: string | null },
): ConsumerException {
  const registered = credential?.consumers.find((c) => c.app === e.consumer);
  const owner = e.owner ?? registered?.owner ?? input?.owner ?? null;
  const revokeApproval = status.approvals
    .filter((a) => a.gate === 'revoke' && a.decision === 'APPROVED')
    .at(-1);
  return {
    consumer: e.consumer,
    registered: registered !== undefined,
    environment: registered?.environment ?? null,
    owner,
    ownerSource: e.owner ? 'exception' : registered?.owner ? 'registry' : owner ? 'credential-owner' : null,
    reload: registered?.reload ?? null,
    oldKeyRequests: e.requests,
    extendedUntil,
    expiresAt: e.expiresAt ?? null,
    compensatingControl: e.compensatingControl ?? null,
    recordedBy: e.recordedBy ?? null,
    recordedAt: e.recordedAt ?? null,
    oldKeyServedUntil:
      disposition === 'revoked-after-approval'
        ? (revocationEntry(status)?.at ?? null)
        : disposition === 'old-key-restored'
          ? null
          : extendedUntil,
    disposition,
    acceptedBy:
      disposition === 'revoked-after-approval' && revokeApproval
        ? {
            principal: revokeApproval.principal,
            at: revokeApproval.at,
            comment: revokeApproval.comment ?? null,
          }
        : null,
  };
}

/** A `hold-extended` timeline entry (detail `<minutes> min: <reason>`) as an extension record. */
function holdExtension(t: TimelineEntry): Section['holdExtensions'][number] {
  const m = /^(\d+(?:\.\d+)?) min: ([\s\S]*)$/.exec(t.detail ?? '');
  return {
    at: t.at,
    by: t.by ?? null,
    minutes: m ? Number(m[1]) : null,
    reason: m ? m[2]! : (t.detail ?? null),
  };
}
