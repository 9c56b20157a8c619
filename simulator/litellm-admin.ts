// LiteLLM-proxy-style key management, authenticated with the master key. Shapes follow LiteLLM's
// key_management_endpoints: /key/generate returns the raw key once; everything else addresses a key
// by value or by its SHA-256 `token`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { flushSpendLog, selectSpendRows, type SpendLogQuery } from './spend-log';
import { bearer, liteLlmError } from './errors';
import { missingTeam, teamMissingMessage } from './litellm-facts';
import { hashKey, type GatewayState, type VirtualKey } from './state';
import {
  durationMs,
  withoutDropped,
  liteLlmFields,
  setDroppedOnCreate,
  setLiteLlmFields,
  type LiteLlmScopeFields,
} from './key-scope-fields';

interface KeyFields {
  duration?: string | null;
  budget_duration?: string | null;
  soft_budget?: number | null;
  max_parallel_requests?: number | null;
  model_max_budget?: Record<string, number> | null;
  model_rpm_limit?: Record<string, number> | null;
  model_tpm_limit?: Record<string, number> | null;
  allowed_routes?: string[] | null;
  tags?: string[] | null;
  models?: string[];
  max_budget?: number | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  team_id?: string | null;
  user_id?: string | null;
  metadata?: Record<string, unknown>;
  key_alias?: string | null;
  blocked?: boolean | null;
}

/** The DB row LiteLLM returns (LiteLLM_VerificationToken), without the raw key. */
export function keyRow(k: VirtualKey) {
  const f = liteLlmFields(k);
  return {
    token: k.token,
    key_name: `sk-...${k.value.slice(-4)}`,
    key_alias: k.keyAlias,
    spend: k.spend,
    max_budget: k.maxBudget,
    expires: f.expires,
    budget_duration: f.budget_duration,
    budget_reset_at: f.budget_reset_at,
    max_parallel_requests: f.max_parallel_requests,
    model_max_budget: f.model_max_budget,
    allowed_routes: f.allowed_routes,
    // LiteLLM keeps a key's soft budget in its budget row, not on the key.
    litellm_budget_table: f.soft_budget === null ? null : { soft_budget: f.soft_budget },
    models: k.models,
    rpm_limit: k.rpmLimit,
    tpm_limit: k.tpmLimit,
    team_id: k.teamId,
    user_id: k.userId,
    metadata: k.metadata,
    blocked: k.blocked,
    rotation_count: k.rotationCount ?? 0,
    last_active: k.lastActive ?? null,
    // LiteLLM keeps deleted keys in a table of their own; /key/info answers them as `deleted`.
    status: k.deleted ? 'deleted' : 'active',
    created_at: k.createdAt,
    updated_at: k.updatedAt,
  };
}

/**
 * Like LiteLLM's key helper: `duration` becomes `expires`, `budget_duration` sets the first reset, and
 * tags and per-model rpm/tpm limits are folded into metadata.
 */
function applyScopeFields(state: GatewayState, key: VirtualKey, body: KeyFields) {
  const f: LiteLlmScopeFields = { ...liteLlmFields(key) };
  const at = (ms: number) => new Date(state.now() + ms).toISOString();
  if (body.duration !== undefined) {
    const ms = body.duration === null ? undefined : durationMs(body.duration);
    f.expires = ms === undefined ? null : at(ms);
  }
  if (body.budget_duration !== undefined) {
    const ms = body.budget_duration === null ? undefined : durationMs(body.budget_duration);
    f.budget_duration = body.budget_duration;
    f.budget_reset_at = ms === undefined ? null : at(ms);
  }
  if (body.soft_budget !== undefined) f.soft_budget = body.soft_budget;
  if (body.max_parallel_requests !== undefined) f.max_parallel_requests = body.max_parallel_requests;
  if (body.model_max_budget !== undefined) f.model_max_budget = body.model_max_budget ?? {};
  if (body.allowed_routes !== undefined) f.allowed_routes = body.allowed_routes ?? [];
  setLiteLlmFields(key, f);
  const folded = {
    tags: body.tags,
    model_rpm_limit: body.model_rpm_limit,
    model_tpm_limit: body.model_tpm_limit,
  };
  for (const [name, value] of Object.entries(folded)) {
    if (value !== undefined && value !== null) key.metadata = { ...key.metadata, [name]: value };
  }
}

function applyFields(state: GatewayState, key: VirtualKey, body: KeyFields) {
  if (body.models !== undefined) key.models = body.models;
  if (body.max_budget !== undefined) key.maxBudget = body.max_budget;
  if (body.rpm_limit !== undefined) key.rpmLimit = body.rpm_limit;
  if (body.tpm_limit !== undefined) key.tpmLimit = body.tpm_limit;
  if (body.team_id !== undefined) key.teamId = body.team_id;
  if (body.user_id !== undefined) key.userId = body.user_id;
  if (body.metadata !== undefined) key.metadata = body.metadata;
  if (body.key_alias !== undefined) key.keyAlias = body.key_alias;
  applyScopeFields(state, key, body);
  key.updatedAt = new Date(state.now()).toISOString();
}

export function registerLiteLlmAdmin(app: FastifyInstance, state: GatewayState, masterKey: string): void {
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (bearer(req.headers.authorization) !== masterKey) {
      await liteLlmError(
        reply,
        401,
        'Authentication Error, only the master key can manage keys',
        'auth_error',
      );
      return false;
    }
    return true;
  };
  const liveAlias = (alias: string) =>
    [...state.keys.values()].find((k) => !k.deleted && k.keyAlias === alias);

  app.post('/key/generate', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const body = withoutDropped(state, (req.body ?? {}) as KeyFields & { key?: string });
    if (body.key !== undefined && !body.key.startsWith('sk-')) {
      return liteLlmError(
        reply,
        400,
        `Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: ${body.key.slice(0, 3)}...`,
        'bad_request_error',
        'key',
      );
    }
    if (body.max_budget != null && body.max_budget < 0)
      return liteLlmError(reply, 400, 'max_budget cannot be negative', 'bad_request_error', 'max_budget');
    if (body.key_alias && liveAlias(body.key_alias)) {
      return liteLlmError(
        reply,
        400,
        `Key with alias '${body.key_alias}' already exists. Unique key aliases across all keys are required.`,
        'bad_request_error',
        'key_alias',
      );
    }
    if (body.key && state.find(body.key))
      return liteLlmError(reply, 400, 'Key already exists', 'bad_request_error', 'key');
    const team = missingTeam(state, body.team_id);
    if (team) return liteLlmError(reply, 404, teamMissingMessage(team), 'not_found_error', 'team_id');
    const key = state.createKey('litellm', {
      ...(body.key ? { value: body.key } : {}),
      keyAlias: body.key_alias ?? null,
      models: body.models ?? [],
      maxBudget: body.max_budget ?? null,
      rpmLimit: body.rpm_limit ?? null,
      tpmLimit: body.tpm_limit ?? null,
      teamId: body.team_id ?? null,
      userId: body.user_id ?? null,
      metadata: body.metadata ?? {},
      blocked: body.blocked ?? false,
    });
    applyScopeFields(state, key, body);
    return { ...keyRow(key), key: key.value, token_id: key.token };
  });

  // Drill: a gateway version that ignores some create fields (e.g. budget_duration), so a copy
  // silently loses them. Body `{ "fields": ["budget_duration"] }`; an empty list restores the default.
  app.put('/sim/create-drops', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const fields = (req.body as { fields?: unknown } | undefined)?.fields;
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))
      return liteLlmError(reply, 400, 'fields must be a list of field names', 'bad_request_error', 'fields');
    setDroppedOnCreate(state, fields);
    return { fields };
  });

  app.get('/key/info', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const asked = (req.query as { key?: string }).key ?? '';
    // A deleted key answers 200 with `status: "deleted"`; one replaced by regenerate is not found.
    const stored = state.keys.get(asked) ?? state.keys.get(hashKey(asked));
    const key = stored && !stored.regenerated ? stored : undefined;
    if (!key || key.flavour !== 'litellm')
      return liteLlmError(reply, 404, 'Key not found in database', 'not_found_error', 'key');
    const { token: _token, ...info } = keyRow(key);
    return { key: asked, info };
  });

  app.post('/key/update', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const body = (req.body ?? {}) as KeyFields & { key?: string };
    const key = state.find(body.key ?? '');
    if (!key)
      return liteLlmError(
        reply,
        404,
        `{'error': 'Key not found, passed key=${(body.key ?? '').slice(0, 6)}...'}`,
        'auth_error',
      );
    if (body.key_alias && liveAlias(body.key_alias) && liveAlias(body.key_alias) !== key) {
      return liteLlmError(
        reply,
        400,
        `Key with alias '${body.key_alias}' already exists.`,
        'bad_request_error',
        'key_alias',
      );
    }
    const team = missingTeam(state, body.team_id);
    if (team) return liteLlmError(reply, 404, teamMissingMessage(team), 'not_found_error', 'team_id');
    applyFields(state, key, body);
    if (body.blocked != null) state.setBlocked(key, body.blocked);
    return { key: body.key, ...keyRow(key) };
  });

  for (const [path, blocked] of [
    ['/key/block', true],
    ['/key/unblock', false],
  ] as const) {
    app.post(path, async (req, reply) => {
      if (!(await admin(req, reply))) return reply;
      const asked = (req.body as { key?: string } | undefined)?.key ?? '';
      const key = state.find(asked);
      if (!key)
        return liteLlmError(reply, 404, `Key ${asked.slice(0, 6)}... not found`, 'bad_request_error', 'key');
      state.setBlocked(key, blocked);
      return keyRow(key);
    });
  }

  app.post('/key/delete', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const body = (req.body ?? {}) as { keys?: string[]; key_aliases?: string[] };
    if (!body.keys?.length && !body.key_aliases?.length) {
      return liteLlmError(reply, 422, 'keys or key_aliases is required', 'validation_error', 'keys');
    }
    const found = [
      ...(body.keys ?? []).map((k) => state.find(k)),
      ...(body.key_aliases ?? []).map((a) => liveAlias(a)),
    ].filter((k): k is VirtualKey => k !== undefined);
    if (found.length === 0)
      return liteLlmError(reply, 404, "{'error': 'No keys found'}", 'internal_server_error');
    for (const k of found) state.delete(k);
    return { deleted_keys: body.keys ?? body.key_aliases };
  });

  app.get('/key/list', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const q = req.query as { key_alias?: string; team_id?: string; return_full_object?: string };
    const keys = [...state.keys.values()].filter(
      (k) =>
        !k.deleted &&
        k.flavour === 'litellm' &&
        (q.key_alias === undefined || k.keyAlias === q.key_alias) &&
        (q.team_id === undefined || k.teamId === q.team_id),
    );
    return {
      keys: q.return_full_object === 'true' ? keys.map(keyRow) : keys.map((k) => k.token),
      total_count: keys.length,
      current_page: 1,
      total_pages: 1,
    };
  });

  app.get('/spend/logs', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const q = req.query as SpendLogQuery;
    // Without a date range and api_key, LiteLLM reads request_id as the table's unique key: `[row]`,
    // or `[null]` when no request has that id.
    if (q.request_id !== undefined && !q.api_key && !(q.start_date && q.end_date)) {
      flushSpendLog(state);
      return [state.spendLogs.find((r) => r.request_id === q.request_id) ?? null];
    }
    const apiKey = q.api_key ? (state.find(q.api_key)?.token ?? q.api_key) : undefined;
    const { rows, truncated } = selectSpendRows(state, q, apiKey);
    if (truncated) reply.header('x-litellm-spend-logs-truncated', 'true');
    return rows;
  });
}
