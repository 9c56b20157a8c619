// Bundle section `changeTicket`: the ticket, who asked and approved, its window, scope and pre-checks.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import { describeProof, type ProofRecord } from '../../../domain/message-proof';
import type { EvidenceContext } from './context';
import type { ExposureRef } from '../../../domain/exposures';

/** The change ticket as the rotation ran it; the input wins over the registry where both know a field. */
export function changeTicketOf(
  status: RotationStatus,
  { input, credential }: EvidenceContext,
  outcome: NonNullable<RotationStatus['outcome']>,
): EvidenceBundle['changeTicket'] {
  const timeline = status.timeline;
  return {
    id: status.changeTicket,
    url: input?.changeTicket.url ?? null,
    // The workflow logs the reason as the detail of its first entry: older runs passed no input.
    reason: input?.reason ?? timeline.find((t) => t.event === 'started')?.detail ?? null,
    requester: status.requestedBy,
    owner: input?.owner ?? null,
    rollbackOwner: input?.changeTicket.rollbackOwner ?? null,
    mode: status.mode,
    acceptedRisk: status.acceptedRisk ?? null,
    window: { startedAt: timeline[0]?.at ?? null, endedAt: timeline.at(-1)?.at ?? null },
    scope: {
      apps: input?.apps ?? credential?.consumers.map((c) => c.app) ?? [],
      allowedRoutes: input?.allowedRoutes ?? [...new Set(status.canary.map((c) => c.route))],
      gatewayBaseUrl: input?.gatewayBaseUrl ?? credential?.gatewayBaseUrl ?? null,
      deployMethod: input?.deployMethod ?? null,
    },
    approvals: approvalsOf(status),
    riskAcceptances: status.riskAcceptances
      .map((r) => ({ gate: r.gate, principal: r.principal, at: r.at, reason: r.reason, missing: r.missing }))
      .sort((a, b) => a.at.localeCompare(b.at)),
    exposure: status.exposure ? exposureLinkOf(status.exposure) : null,
    stagingTwin: status.stagingTwin
      ? {
          credential: status.stagingTwin.credential,
          environment: status.stagingTwin.environment,
          mode: status.stagingTwin.mode,
          withinDays: status.stagingTwin.withinDays,
          state: status.stagingTwin.state,
          rotationId: status.stagingTwin.rotationId ?? null,
          completedAt: status.stagingTwin.completedAt ?? null,
          policyFingerprint: status.stagingTwin.policyFingerprint ?? null,
          detail: status.stagingTwin.detail ?? null,
        }
      : null,
    ...(status.escalations?.length
      ? {
          escalations: status.escalations.map((e) => ({
            at: e.at,
            principal: e.principal,
            reason: e.reason,
            phase: e.phase,
            effect: e.effect,
            exposure: e.exposure ? exposureLinkOf(e.exposure) : null,
          })),
        }
      : {}),
    preChecks: status.preChecks.map((p) => ({
      name: p.name,
      claimed: p.claimed ?? null,
      result: p.result,
      detail: p.detail,
    })),
    finalStatus: outcome,
  };
}

/** Gate decisions, plus a manual gateway's revocation confirmation, in time order. */
function approvalsOf(status: RotationStatus): EvidenceBundle['changeTicket']['approvals'] {
  const decisions = status.approvals.map((a) => ({
    gate: a.gate,
    decision: a.decision,
    principal: a.principal,
    at: a.at,
    comment: a.comment ?? null,
    breakGlassReason: a.breakGlassReason ?? null,
    proof: a.proof ? proofOf(a.proof) : null,
  }));
  const confirmations = status.timeline
    .filter((t) => t.event === 'revocation-confirmed' && t.by)
    .map((t) => ({
      gate: 'revocation-confirmation' as const,
      decision: 'CONFIRMED' as const,
      principal: t.by!,
      at: t.at,
      comment: t.detail ?? null,
      breakGlassReason: null,
      proof: t.proof ? { ...UNSTRUCTURED, method: 'signature' as const, summary: t.proof } : null,
    }));
  return [...decisions, ...confirmations].sort((a, b) => a.at.localeCompare(b.at));
}

type BundleProof = NonNullable<EvidenceBundle['changeTicket']['approvals'][number]['proof']>;
const UNSTRUCTURED = { keyId: null, via: null, authn: null, issuer: null, subject: null, tokenId: null };

/** A leak alert as the bundle links it (never the token: only its fingerprint). */
function exposureLinkOf(e: ExposureRef) {
  return {
    source: e.source,
    alertId: e.alertId,
    url: e.url ?? null,
    fingerprint: e.fingerprint,
    receivedAt: e.receivedAt,
  };
}

/** How a decision was proven, flat for the bundle. */
function proofOf(p: ProofRecord): BundleProof {
  if (p.method === 'unsigned-allowed' || p.method === 'verified-alert') {
    return { ...UNSTRUCTURED, method: p.method, summary: describeProof(p) };
  }
  return {
    method: 'signature',
    summary: describeProof(p),
    keyId: p.keyId,
    via: p.via,
    authn: p.authn.method,
    issuer: p.authn.method === 'oidc' ? p.authn.issuer : null,
    subject: p.authn.method === 'oidc' ? p.authn.subject : null,
    tokenId: p.authn.method === 'static-token' ? p.authn.tokenId : null,
  };
}
