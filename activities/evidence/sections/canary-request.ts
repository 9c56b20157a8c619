// One probe request as the bundle records it (the gateway's canary and the pre-revoke probe).
import type { CanaryRequest } from '../../../domain/activity-io';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';

/** A probe request as the bundle records it: what the OpenAI-compatible API does not report is null. */
export function canaryRequest(c: CanaryRequest): EvidenceBundle['gateway']['canary']['requests'][number] {
  return {
    requestId: c.requestId ?? null,
    route: c.route,
    routeGroup: null,
    owner: null,
    model: c.model ?? null,
    status: c.status,
    latencyMs: c.latencyMs,
    tokens: c.tokens ?? null,
    cost: null,
    ok: c.ok,
    reason: c.reason ?? null,
    ...(c.replica ? { replica: c.replica } : {}),
  };
}
