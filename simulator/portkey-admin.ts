// Portkey-style Admin API (API keys) on the reference gateway: keys by uuid, created per type and
// sub-type, listed masked, rotated with a transition period during which the previous value still
// answers. Everything is authenticated with `x-portkey-api-key`; inference calls through the gateway's
// /v1 routes accept a Portkey key in that header too (openai-routes.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayState, VirtualKey } from './state';

/** Portkey's documented minimum transition period of a rotation: 30 minutes. */
export const PORTKEY_MIN_TRANSITION_MS = 30 * 60_000;
const TYPES = ['organisation', 'workspace'];
const SUB_TYPES = ['user', 'service'];

function portkeyError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ success: false, data: { message } });
}

/** The key as Portkey lists it: the value masked to its first and last two characters. */
export function portkeyKey(k: VirtualKey) {
  const rpm = k.rpmLimit;
  return {
    id: k.metadata.portkey_id,
    key: `${k.value.slice(0, 2)}*******${k.value.slice(-2)}`,
    name: k.keyAlias ?? '',
    description: k.metadata.description ?? '',
    type: k.metadata.portkey_type,
    workspace_id: k.metadata.workspace_id ?? null,
    status: 'active',
    created_at: k.createdAt,
    last_updated_at: k.updatedAt ?? k.createdAt,
    usage_limits: k.limit === null ? null : { credit_limit: k.limit },
    rate_limits: rpm === null ? [] : [{ type: 'requests', unit: 'rpm', value: rpm }],
    scopes: (k.metadata.scopes as string[] | undefined) ?? [],
    object: 'api-key',
  };
}

/** A Portkey key value: no prefix, URL-safe. */
const newValue = () => randomBytes(24).toString('base64url');

export function registerPortkeyAdmin(app: FastifyInstance, state: GatewayState, adminKey: string): void {
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers['x-portkey-api-key'] !== adminKey) {
      await portkeyError(reply, 401, 'Invalid API Key');
      return false;
    }
    return true;
  };
  /** Every value a Portkey key id has had, the current one last. */
  const versions = (id: string) =>
    [...state.keys.values()].filter(
      (k) => k.flavour === 'portkey' && k.metadata.portkey_id === id && !k.deleted,
    );
  const current = (id: string) => versions(id).find((k) => !k.metadata.rotated_out);

  app.post('/v1/api-keys/:type/:subType', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const { type, subType } = req.params as { type: string; subType: string };
    if (!TYPES.includes(type) || !SUB_TYPES.includes(subType))
      return portkeyError(
        reply,
        400,
        `type must be one of ${TYPES.join(', ')}; sub-type one of ${SUB_TYPES.join(', ')}`,
      );
    const body = (req.body ?? {}) as {
      name?: string;
      description?: string;
      workspace_id?: string;
      scopes?: string[];
      usage_limits?: { credit_limit?: number };
      rate_limits?: { type: string; unit: string; value: number }[];
    };
    if (!body.name) return portkeyError(reply, 400, 'name is required');
    if (!Array.isArray(body.scopes)) return portkeyError(reply, 400, 'scopes is required');
    if (type === 'workspace' && !body.workspace_id)
      return portkeyError(reply, 400, 'workspace_id is required for workspace keys');
    const id = randomUUID();
    const key = state.createKey('portkey', {
      value: newValue(),
      keyAlias: body.name,
      // Usage rolls up to the workspace (the metrics' `team` label), as Portkey's analytics group it.
      teamId: body.workspace_id ?? null,
      limit: body.usage_limits?.credit_limit ?? null,
      rpmLimit: body.rate_limits?.find((r) => r.type === 'requests' && r.unit === 'rpm')?.value ?? null,
      metadata: {
        portkey_id: id,
        portkey_type: `${type}-${subType}`,
        ...(body.workspace_id ? { workspace_id: body.workspace_id } : {}),
        ...(body.description ? { description: body.description } : {}),
        scopes: body.scopes,
      },
    });
    return reply.code(200).send({ id, key: key.value, object: 'api-key' });
  });

  app.get('/v1/api-keys', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const q = req.query as { workspace_id?: string; page_size?: string; current_page?: string };
    const size = Math.min(Math.max(Number(q.page_size ?? 50) || 50, 1), 100);
    const page = Math.max(Number(q.current_page ?? 0) || 0, 0);
    const keys = [...state.keys.values()].filter(
      (k) =>
        k.flavour === 'portkey' &&
        !k.deleted &&
        !k.metadata.rotated_out &&
        (!q.workspace_id || k.metadata.workspace_id === q.workspace_id),
    );
    return {
      total: keys.length,
      object: 'list',
      data: keys.slice(page * size, (page + 1) * size).map(portkeyKey),
    };
  });

  app.get('/v1/api-keys/:id', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = current((req.params as { id: string }).id);
    if (!key) return portkeyError(reply, 404, 'API key not found');
    return portkeyKey(key);
  });

  app.put('/v1/api-keys/:id', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = current((req.params as { id: string }).id);
    if (!key) return portkeyError(reply, 404, 'API key not found');
    const body = (req.body ?? {}) as {
      name?: string;
      description?: string;
      usage_limits?: { credit_limit?: number };
    };
    if (body.name !== undefined) key.keyAlias = body.name;
    if (body.description !== undefined) key.metadata.description = body.description;
    if (body.usage_limits !== undefined) key.limit = body.usage_limits.credit_limit ?? null;
    key.updatedAt = new Date(state.now()).toISOString();
    return {};
  });

  app.delete('/v1/api-keys/:id', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const all = versions((req.params as { id: string }).id);
    if (!current((req.params as { id: string }).id)) return portkeyError(reply, 404, 'API key not found');
    // Deleting ends any transition too: no value of the key answers afterwards.
    for (const k of all) {
      k.revokedAt = state.now();
      state.delete(k);
    }
    return {};
  });

  app.post('/v1/api-keys/:id/rotate', async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const old = current((req.params as { id: string }).id);
    if (!old) return portkeyError(reply, 404, 'API key not found');
    const body = (req.body ?? {}) as { key_transition_period_ms?: number };
    const transition = body.key_transition_period_ms ?? PORTKEY_MIN_TRANSITION_MS;
    if (!Number.isInteger(transition) || transition < PORTKEY_MIN_TRANSITION_MS)
      return portkeyError(
        reply,
        400,
        `key_transition_period_ms must be at least ${PORTKEY_MIN_TRANSITION_MS}`,
      );
    const { token: _t, value: _v, flavour: _f, ...rest } = old;
    const next = state.createKey('portkey', { ...rest, value: newValue(), metadata: { ...old.metadata } });
    // The previous value keeps answering until the transition ends, then the gateway refuses it.
    old.metadata.rotated_out = true;
    old.blocked = true;
    old.revokedAt = state.now() + transition;
    return {
      id: old.metadata.portkey_id,
      key: next.value,
      key_transition_expires_at: new Date(old.revokedAt).toISOString(),
    };
  });
}
