// What limits or attributes a gateway key (LiteLLM's key row, OpenRouter's key object), and the
// field-by-field comparison of an old key's scope with its replacement's. Scope values are limits and
// labels, never key material, so they may go into status and evidence.
import { z } from 'zod';

const limit = z.number().nullable().optional();
const perModel = z.record(z.string(), z.number()).nullable().optional();

export const keyScopeSchema = z.object({
  models: z.array(z.string()).describe('models the key may call; empty means all'),
  maxBudget: limit.describe('LiteLLM max_budget, OpenRouter limit (USD)'),
  budgetDuration: z.string().nullable().optional().describe('LiteLLM budget_duration, e.g. "30d"'),
  softBudget: limit,
  rpmLimit: limit,
  tpmLimit: limit,
  maxParallelRequests: limit,
  modelMaxBudget: perModel,
  modelRpmLimit: perModel,
  modelTpmLimit: perModel,
  allowedRoutes: z.array(z.string()).optional().describe('empty means every route'),
  team: z.string().nullable().optional(),
  owner: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.unknown()).optional().describe('every value, not only strings'),
  tags: z.array(z.string()).optional(),
  expiresAt: z.string().nullable().optional().describe('ISO time the key expires; null never'),
  keyAlias: z.string().nullable().optional().describe('LiteLLM key_alias, OpenRouter name'),
  limitReset: z.string().nullable().optional().describe('OpenRouter limit_reset'),
  includeByokInLimit: z.boolean().nullable().optional().describe('OpenRouter include_byok_in_limit'),
});
export type KeyScope = z.infer<typeof keyScopeSchema>;

/** Field names as the gateways spell them; `key_scope.allow_changed` takes these. */
export const SCOPE_FIELDS = [
  'models',
  'max_budget',
  'budget_duration',
  'soft_budget',
  'rpm_limit',
  'tpm_limit',
  'max_parallel_requests',
  'model_max_budget',
  'model_rpm_limit',
  'model_tpm_limit',
  'allowed_routes',
  'team_id',
  'user_id',
  'metadata',
  'tags',
  'expires',
  'key_alias',
  'limit_reset',
  'include_byok_in_limit',
] as const;
export type ScopeField = (typeof SCOPE_FIELDS)[number];

/**
 * broader: the replacement may do more (always refused); changed: different but not ordered (refused
 * unless the policy allows the field to change); allowed: a change the policy allows; narrower: less.
 */
export const SCOPE_DIFF_KINDS = ['broader', 'changed', 'allowed', 'narrower'] as const;

export const scopeDiffEntrySchema = z.object({
  field: z.enum(SCOPE_FIELDS),
  kind: z.enum(SCOPE_DIFF_KINDS),
  old: z.string(),
  issued: z.string(),
  detail: z.string(),
});
export type ScopeDiffEntry = z.infer<typeof scopeDiffEntrySchema>;

/** The scope comparison a rotation records: what the old key had, what the gateway issued, the diff. */
export const keyScopeCheckSchema = z.object({
  old: keyScopeSchema,
  issued: keyScopeSchema,
  diff: z.array(scopeDiffEntrySchema),
  verdict: z.enum(['same', 'narrower', 'changed-as-allowed', 'fail']),
});
export type KeyScopeCheck = z.infer<typeof keyScopeCheckSchema>;

/** The policy's `key_scope` block, normalised for the issuing activity. */
export interface KeyScopeRules {
  /** The replacement must live at least this long from issue (ms). */
  minLifetimeMs: number;
  allowChanged: ScopeField[];
}

export const DEFAULT_MIN_LIFETIME_MINUTES = 60;
