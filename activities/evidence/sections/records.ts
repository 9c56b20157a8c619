// Bundle sections `timeline` and `checks`: the rotation's own records, with absent fields as null.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';

/** Every timeline entry the status kept (its bound's drops are counted in `timelineOmitted`). */
export function timelineOf(status: RotationStatus): EvidenceBundle['timeline'] {
  return status.timeline.map((t) => ({
    at: t.at,
    phase: t.phase,
    event: t.event,
    detail: t.detail ?? null,
    by: t.by ?? null,
    proof: t.proof ?? null,
  }));
}

/** Every check the rotation ran, with its verdict and reasons. */
export function checksOf(status: RotationStatus): EvidenceBundle['checks'] {
  return status.checks.map((c) => ({
    at: c.at,
    name: c.name,
    passed: c.passed,
    verdict: c.verdict ?? null,
    reasons: c.reasons ?? [],
    detail: c.detail,
  }));
}
