// OpenRouter-style management API (provisioning key) and the current-key endpoint. Keys are
// addressed by `hash`; the plaintext key is returned only by POST /api/v1/keys.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, openRouterError } from './errors';
import type { GatewayState, VirtualKey } from './state';
import { openRouterFields, setOpenRouterFields, withoutDropped } from './key-scope-fields';

interface ScopeBody {
  limit_reset?: string | null;
  include_byok_in_limit?: boolean;
  expires_at?: string | null;
}

const LIMIT_RESETS = ['daily', 'weekly', 'monthly'];

/** Why OpenRouter would refuse these fields, or undefined. */
function invalidScope(body: ScopeBody, nowMs: number): string | undefined {
  if (body.limit_reset != null && !LIMIT_RESETS.includes(body.limit_reset))
    return 'limit_reset must be daily, weekly, monthly or null';
  if (body.expires_at != null) {
    if (!/(Z|[+-]00:00)$/.test(body.expires_at) || Number.isNaN(Date.parse(body.expires_at)))
      return 'expires_at must be an ISO 8601 UTC timestamp';
    if (Date.parse(body.expires_at) <= nowMs) return 'expires_at must be in the future';
  }
  return undefined;
}

function applyScope(key: VirtualKey, body: ScopeBody) {
  const f = { ...openRouterFields(key) };
  if (body.limit_reset !== undefined) f.limit_reset = body.limit_reset;
  if (body.include_byok_in_limit !== undefined) f.include_byok_in_limit = body.include_byok_in_limit;
  if (body.expires_at !== undefined) f.expires_at = body.expires_at;
  setOpenRouterFields(key, f);
}

/** The key object OpenRouter returns (never the plaintext). */
export function openRouterKey(k: VirtualKey) {
  const f = openRouterFields(k);
  return {
    hash: k.token,
    name: k.keyAlias ?? '',
    label: `${k.value.slice(0, 12)}...${k.value.slice(-3)}`,
    disabled: k.blocked,
    limit: k.limit,
    limit_remaining: k.limit === null ? null : Math.max(0, k.limit - k.spend),
    limit_reset: f.limit_reset,
    include_byok_in_limit: f.include_byok_in_limit,
    expires_at: f.expires_at,
    usage: k.spend,
    usage_daily: k.spend,
    usage_weekly: k.spend,
    usage_monthly: k.spend,
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

export function registerOpenRouterAdmin(
  app: FastifyInstance,
  state: GatewayState,
  provisioningKey: string,
  /** The account keys are created in; their usage (the metrics' `team` label) rolls up to it. */
  account?: string,
): void {
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (bearer(req.headers.authorization) !== provisioningKey) {
      await openRouterError(reply, 401, 'Invalid credentials: a provisioning key is required');
      return false;
    }
    return true;
  };
  const byHash = (hash: string) => {
    const k = state.find(hash);
    return k?.flavour === 'openrouter' && k.token === hash ? k : undefined;
  };

  app.get('/api/v1/keys', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const query = req.query as { include_disabled?: string; offset?: string };
    const includeDisabled = query.include_disabled === 'true';
    const offset = Number(query.offset ?? 0) || 0;
    const keys = [...state.keys.values()].filter(
      (k) => !k.deleted && k.flavour === 'openrouter' && (includeDisabled || !k.blocked),
    );
    return { data: keys.slice(offset, offset + 100).map(openRouterKey) };
  });

  app.post('/api/v1/keys', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const body = withoutDropped(
      state,
      (req.body ?? {}) as { name?: string; limit?: number | null } & ScopeBody,
    );
    if (!body.name) return openRouterError(reply, 400, 'name is required');
    const invalid = invalidScope(body, state.now());
    if (invalid) return openRouterError(reply, 400, invalid);
    const key = state.createKey('openrouter', {
      keyAlias: body.name,
      limit: body.limit ?? null,
      teamId: account ?? null,
    });
    applyScope(key, body);
    return reply.code(201).send({ data: openRouterKey(key), key: key.value });
  });

  app.get('/api/v1/keys/:hash', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = byHash((req.params as { hash: string }).hash);
    if (!key) return openRouterError(reply, 404, 'API key does not exist');
    return { data: openRouterKey(key) };
  });

  app.patch('/api/v1/keys/:hash', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = byHash((req.params as { hash: string }).hash);
    if (!key) return openRouterError(reply, 404, 'API key does not exist');
    const body = (req.body ?? {}) as { name?: string; disabled?: boolean; limit?: number | null } & ScopeBody;
    const invalid = invalidScope(body, state.now());
    if (invalid) return openRouterError(reply, 400, invalid);
    applyScope(key, body);
    if (body.name !== undefined) key.keyAlias = body.name;
    if (body.limit !== undefined) key.limit = body.limit;
    if (body.disabled !== undefined) state.setBlocked(key, body.disabled);
    key.updatedAt = new Date(state.now()).toISOString();
    return { data: openRouterKey(key) };
  });

  app.delete('/api/v1/keys/:hash', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = byHash((req.params as { hash: string }).hash);
    if (!key) return openRouterError(reply, 404, 'API key does not exist');
    state.delete(key);
    return { deleted: true };
  });

  app.get('/api/v1/key', async (req, reply) => {
    const value = bearer(req.headers.authorization);
    if (!value || state.refused(value)) return openRouterError(reply, 401, 'Invalid credentials');
    const k = state.find(value)!;
    const { hash: _hash, name: _name, ...rest } = openRouterKey(k);
    return { data: { ...rest, is_free_tier: false, is_provisioning_key: false } };
  });
}
