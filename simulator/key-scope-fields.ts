// The scope fields of a simulated key beyond the ones every route reads (models, budgets, rpm/tpm,
// team, user, metadata live on VirtualKey): budget_duration, expiry, per-model limits and the like,
// stored the way LiteLLM and OpenRouter store them so /key/info and /api/v1/keys answer them back.
// Also a drill setting: a gateway that silently drops some fields on create.
import type { GatewayState, VirtualKey } from './state';

export interface LiteLlmScopeFields {
  budget_duration: string | null;
  budget_reset_at: string | null;
  soft_budget: number | null;
  max_parallel_requests: number | null;
  model_max_budget: Record<string, number>;
  allowed_routes: string[];
  expires: string | null;
}

export interface OpenRouterScopeFields {
  limit_reset: string | null;
  include_byok_in_limit: boolean;
  expires_at: string | null;
}

const liteLlm = new WeakMap<VirtualKey, LiteLlmScopeFields>();
const openRouter = new WeakMap<VirtualKey, OpenRouterScopeFields>();
const drops = new WeakMap<GatewayState, Set<string>>();

export const liteLlmFields = (k: VirtualKey): LiteLlmScopeFields =>
  liteLlm.get(k) ?? {
    budget_duration: null,
    budget_reset_at: null,
    soft_budget: null,
    max_parallel_requests: null,
    model_max_budget: {},
    allowed_routes: [],
    expires: null,
  };
export const setLiteLlmFields = (k: VirtualKey, f: LiteLlmScopeFields) => liteLlm.set(k, f);

export const openRouterFields = (k: VirtualKey): OpenRouterScopeFields =>
  openRouter.get(k) ?? { limit_reset: null, include_byok_in_limit: false, expires_at: null };
export const setOpenRouterFields = (k: VirtualKey, f: OpenRouterScopeFields) => openRouter.set(k, f);

/** Fields a create request names that this gateway ignores (set with PUT /sim/create-drops). */
export const droppedOnCreate = (state: GatewayState) => drops.get(state) ?? new Set<string>();
export const setDroppedOnCreate = (state: GatewayState, fields: string[]) =>
  drops.set(state, new Set(fields));

/** The request body without the fields a drill told this gateway to drop on create. */
export function withoutDropped<T extends object>(state: GatewayState, body: T): T {
  const dropped = droppedOnCreate(state);
  return Object.fromEntries(Object.entries(body).filter(([k]) => !dropped.has(k))) as T;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, mo: 2_592_000 };

/** LiteLLM's duration strings ("30s", "30m", "30h", "30d", "1w", "1mo") in milliseconds. */
export function durationMs(duration: string): number | undefined {
  const m = /^(\d+)(mo|s|m|h|d|w)$/.exec(duration);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! * 1000 : undefined;
}
