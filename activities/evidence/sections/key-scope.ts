// Bundle section `gateway.keyScope`: the "Key scope" table — every scope field of the old key, the
// replacement's as the gateway read it back, and how they compare. Scope values are limits and labels,
// never key material.
import type { RotationStatus } from '../../../domain/status';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';
import { SCOPE_FIELDS, type KeyScope, type ScopeField } from '../../../domain/key-scope';

type Section = NonNullable<EvidenceBundle['gateway']['keyScope']>;

/** Which KeyScope property holds each gateway field. */
const PROPERTY: Record<ScopeField, keyof KeyScope> = {
  models: 'models',
  max_budget: 'maxBudget',
  budget_duration: 'budgetDuration',
  soft_budget: 'softBudget',
  rpm_limit: 'rpmLimit',
  tpm_limit: 'tpmLimit',
  max_parallel_requests: 'maxParallelRequests',
  model_max_budget: 'modelMaxBudget',
  model_rpm_limit: 'modelRpmLimit',
  model_tpm_limit: 'modelTpmLimit',
  allowed_routes: 'allowedRoutes',
  team_id: 'team',
  user_id: 'owner',
  metadata: 'metadata',
  tags: 'tags',
  expires: 'expiresAt',
  key_alias: 'keyAlias',
  limit_reset: 'limitReset',
  include_byok_in_limit: 'includeByokInLimit',
};

const shown = (v: unknown): string => {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '—';
  if (typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
};

/** The table, one row per field either key has; undefined when the rotation compared no scope. */
export function keyScopeOf(status: RotationStatus): Section | undefined {
  const check = status.keyScope;
  if (!check) return undefined;
  const rows = SCOPE_FIELDS.flatMap((field) => {
    const [old, issued] = [shown(check.old[PROPERTY[field]]), shown(check.issued[PROPERTY[field]])];
    const diffs = check.diff.filter((d) => d.field === field);
    if (old === '—' && issued === '—' && diffs.length === 0) return [];
    return [
      {
        field,
        old,
        issued,
        result: diffs.length ? diffs.map((d) => `${d.kind}: ${d.detail}`).join('; ') : 'same',
      },
    ];
  });
  return { verdict: check.verdict, rows };
}
