// The reference gateway's state: virtual keys (LiteLLM- and OpenRouter-style), per-key faults, and the
// spend log. Keys are stored and addressed by the SHA-256 hex of their value, as LiteLLM does.
import { createHash, randomBytes } from 'node:crypto';
import { LITELLM_FACTS, type LiteLlmFacts } from './litellm-facts';

/** SHA-256 hex of a key value: LiteLLM's `token`, the `hashed_api_key` metric label, OpenRouter's `hash`. */
export function hashKey(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export interface VirtualKey {
  token: string;
  value: string;
  flavour: 'litellm' | 'openrouter' | 'portkey' | 'openai';
  keyAlias: string | null;
  models: string[];
  maxBudget: number | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  teamId: string | null;
  userId: string | null;
  metadata: Record<string, unknown>;
  blocked: boolean;
  /** When blocking/disabling/deleting took effect at the API; auth honours it after the propagation delay. */
  revokedAt: number | null;
  deleted: boolean;
  /** Replaced by /key/regenerate: the old value answers until `revokedAt` (its grace period), then not. */
  regenerated?: boolean;
  /** LiteLLM's `rotation_count`: how often /key/regenerate replaced this key's value. */
  rotationCount?: number;
  /** LiteLLM's `last_active`: when the key last made a successful call. */
  lastActive?: string | null;
  spend: number;
  limit: number | null;
  createdAt: string;
  updatedAt: string | null;
}

/** Faults injected per key (by hash). */
export interface Faults {
  /** Every request with this key gets this status (with an OpenAI-style error body). */
  status?: number;
  /** Added to every request's latency. */
  latencyMs?: number;
  /** Share of requests (0–1) answered 500, chosen deterministically by request count. */
  failRate?: number;
  /** Streams stop after the first chunk, without `[DONE]`. */
  breakStreams?: boolean;
  /** Structured output that does not match the requested schema. */
  schemaMismatch?: boolean;
  /** Routes (e.g. `embeddings`) answered 403 as not allowed for this key. */
  deniedRoutes?: string[];
  /** How long a block, disable or delete of this key takes to apply to inference calls. */
  revocationDelayMs?: number;
}

export interface SpendLogRow {
  request_id: string;
  call_type: string;
  api_key: string;
  spend: number;
  total_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  startTime: string;
  endTime: string;
  model: string;
  /** The key's user_id, `""` when it has none (LiteLLM); the caller's `user` goes to `end_user`. */
  user: string;
  end_user: string;
  status: 'success' | 'failure';
  metadata: { user_api_key_alias: string | null; user_api_key_team_id: string | null; status_code: number };
}

/** USD per 1K tokens of each model the gateway serves. */
export const MODELS: Record<string, { pricePer1k: number; kind: 'chat' | 'embedding' }> = {
  'gpt-4o-mini': { pricePer1k: 0.0006, kind: 'chat' },
  'gpt-4o': { pricePer1k: 0.01, kind: 'chat' },
  'claude-3-5-sonnet': { pricePer1k: 0.015, kind: 'chat' },
  'text-embedding-3-small': { pricePer1k: 0.00002, kind: 'embedding' },
};

/** A LiteLLM team (`/team/new`); keys name it in `team_id`. */
export interface Team {
  team_id: string;
  team_alias: string | null;
  models: string[];
  max_budget: number | null;
  created_at: string;
}

/** Why the gateway refuses an inference call's key: unknown or deleted, or blocked. */
export type KeyRefusal = 'unknown' | 'blocked';

export class GatewayState {
  readonly keys = new Map<string, VirtualKey>();
  readonly teams = new Map<string, Team>();
  /** Until when the (only) deployment cools down after upstream failures; see litellm-facts.ts. */
  cooldownUntil = 0;
  /** Upstream failures inside the current minute, against `allowed_fails`. */
  upstreamFails: number[] = [];
  /** How this gateway departs from (or follows) a default LiteLLM 1.110 proxy. */
  facts: LiteLlmFacts = { ...LITELLM_FACTS };
  readonly faults = new Map<string, Faults>();
  readonly spendLogs: SpendLogRow[] = [];
  private requestCount = 0;
  private readonly perKeyCount = new Map<string, number>();

  constructor(
    readonly now: () => number = Date.now,
    readonly defaultRevocationDelayMs = 0,
  ) {}

  /** Creates a key; a caller-supplied value is kept (LiteLLM allows `key` in /key/generate). */
  createKey(
    flavour: VirtualKey['flavour'],
    init: Partial<Omit<VirtualKey, 'token' | 'flavour'>> = {},
  ): VirtualKey {
    const value =
      init.value ??
      (flavour === 'litellm'
        ? `sk-${randomBytes(16).toString('base64url')}`
        : `sk-or-v1-${randomBytes(32).toString('hex')}`);
    const token = hashKey(value);
    const key: VirtualKey = {
      token,
      value,
      flavour,
      keyAlias: init.keyAlias ?? null,
      models: init.models ?? [],
      maxBudget: init.maxBudget ?? null,
      rpmLimit: init.rpmLimit ?? null,
      tpmLimit: init.tpmLimit ?? null,
      teamId: init.teamId ?? null,
      userId: init.userId ?? null,
      metadata: init.metadata ?? {},
      blocked: init.blocked ?? false,
      revokedAt: init.blocked ? this.now() : null,
      deleted: false,
      rotationCount: init.rotationCount ?? 0,
      lastActive: null,
      spend: 0,
      limit: init.limit ?? null,
      createdAt: new Date(this.now()).toISOString(),
      updatedAt: null,
    };
    this.keys.set(token, key);
    return key;
  }

  /** A live (not deleted) key by value or hash. */
  find(valueOrHash: string): VirtualKey | undefined {
    const key = this.keys.get(valueOrHash) ?? this.keys.get(hashKey(valueOrHash));
    return key && !key.deleted ? key : undefined;
  }

  /** Blocks (or unblocks) a key; inference sees it after the key's revocation delay. */
  setBlocked(key: VirtualKey, blocked: boolean): void {
    key.blocked = blocked;
    key.revokedAt = blocked ? this.now() : null;
    key.updatedAt = new Date(this.now()).toISOString();
  }

  delete(key: VirtualKey): void {
    key.deleted = true;
    key.revokedAt ??= this.now();
  }

  /** Whether inference calls with this key value are refused now (unknown, or revoked and propagated). */
  refused(value: string): boolean {
    return this.refusal(value) !== undefined;
  }

  /** Why calls with this key value are refused now; undefined while it works (or its revocation propagates). */
  refusal(value: string): KeyRefusal | undefined {
    const key = this.keys.get(hashKey(value));
    if (!key) return 'unknown';
    if (!key.blocked && !key.deleted) return undefined;
    const delay = this.faults.get(key.token)?.revocationDelayMs ?? this.defaultRevocationDelayMs;
    if (key.revokedAt === null || this.now() < key.revokedAt + delay) return undefined;
    return key.deleted ? 'unknown' : 'blocked';
  }

  /** Deterministic request id. */
  nextRequestId(route: string): string {
    this.requestCount += 1;
    return `req_${hashKey(`${this.requestCount}:${route}`).slice(0, 24)}`;
  }

  /** True when this request of the key falls in its injected failure share (deterministic). */
  failsNow(token: string): boolean {
    const rate = this.faults.get(token)?.failRate ?? 0;
    const n = (this.perKeyCount.get(token) ?? 0) + 1;
    this.perKeyCount.set(token, n);
    if (rate <= 0) return false;
    return Math.floor(n * rate) > Math.floor((n - 1) * rate);
  }
}
