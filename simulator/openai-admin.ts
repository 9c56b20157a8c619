// OpenAI-style Admin API for one project on the reference gateway: service accounts (created with an
// API key whose value is returned once) and the project's API keys, listed with redacted values and
// cursor pages, deleted by id. Authenticated with an admin key as bearer. Keys it issues work on the
// gateway's /v1 routes; a deleted one is refused there with 401.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, openAiError } from './errors';
import type { GatewayState, VirtualKey } from './state';

interface ServiceAccount {
  id: string;
  name: string;
  role: 'member';
  created_at: number;
}

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** The project API key object: the value redacted to its head and tail. */
function projectApiKey(k: VirtualKey, accounts: Map<string, ServiceAccount>) {
  const account = accounts.get(k.metadata.service_account_id as string);
  return {
    object: 'organization.project.api_key',
    redacted_value: `${k.value.slice(0, 8)}...${k.value.slice(-4)}`,
    name: k.keyAlias ?? 'Secret Key',
    created_at: seconds(k.createdAt),
    last_used_at: null,
    id: k.metadata.openai_key_id,
    owner: account
      ? { type: 'service_account', service_account: { ...account } }
      : {
          type: 'user',
          user: { id: 'user_rekey', name: 'rekey', email: 'rekey@example.com', role: 'owner' },
        },
  };
}

/** One cursor page (`after` an id, `limit` 1–100) in the shape every OpenAI Admin list has. */
function page<T extends { id: string }>(items: T[], query: { after?: string; limit?: string }) {
  const limit = Math.min(Math.max(Number(query.limit ?? 20) || 20, 1), 100);
  const start = query.after ? items.findIndex((i) => i.id === query.after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < items.length,
  };
}

export function registerOpenAiAdmin(
  app: FastifyInstance,
  state: GatewayState,
  opts: { adminKey: string; projectId: string; projectName?: string },
): void {
  const accounts = new Map<string, ServiceAccount>();
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (bearer(req.headers.authorization) !== opts.adminKey) {
      await openAiError(
        reply,
        401,
        'Invalid admin key provided.',
        'invalid_request_error',
        'invalid_api_key',
      );
      return false;
    }
    if ((req.params as { project: string }).project !== opts.projectId) {
      await openAiError(reply, 404, 'No such project.', 'invalid_request_error', null);
      return false;
    }
    return true;
  };
  const keys = () =>
    [...state.keys.values()]
      .filter((k) => k.flavour === 'openai' && !k.deleted)
      .map((k) => ({ id: k.metadata.openai_key_id as string, k }));
  const keyById = (id: string) => keys().find((e) => e.id === id)?.k;
  const notFound = (reply: FastifyReply, what: string) =>
    openAiError(reply, 404, `No such ${what}.`, 'invalid_request_error', null);
  const root = '/v1/organization/projects/:project';

  app.post(`${root}/service_accounts`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const body = (req.body ?? {}) as { name?: string };
    if (!body.name) return openAiError(reply, 400, 'name is required', 'invalid_request_error', null);
    const account: ServiceAccount = {
      id: newId('svc_acct'),
      name: body.name,
      role: 'member',
      created_at: Math.floor(state.now() / 1000),
    };
    accounts.set(account.id, account);
    const key = state.createKey('openai', {
      value: `sk-svcacct-${randomBytes(36).toString('base64url')}`,
      keyAlias: 'Secret Key',
      // Usage rolls up to the project (the metrics' `team` label), as OpenAI's usage API groups it.
      teamId: opts.projectName ?? opts.projectId,
      metadata: { openai_key_id: newId('key'), service_account_id: account.id },
    });
    return {
      object: 'organization.project.service_account',
      ...account,
      api_key: {
        object: 'organization.project.service_account.api_key',
        value: key.value,
        name: 'Secret Key',
        created_at: account.created_at,
        id: key.metadata.openai_key_id,
      },
    };
  });

  app.get(`${root}/service_accounts`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const list = [...accounts.values()].map((a) => ({
      object: 'organization.project.service_account',
      ...a,
    }));
    return page(list, req.query as { after?: string; limit?: string });
  });

  app.get(`${root}/service_accounts/:id`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const account = accounts.get((req.params as { id: string }).id);
    if (!account) return notFound(reply, 'service account');
    return { object: 'organization.project.service_account', ...account };
  });

  app.delete(`${root}/service_accounts/:id`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const id = (req.params as { id: string }).id;
    if (!accounts.delete(id)) return notFound(reply, 'service account');
    // Its keys go with it.
    for (const { k } of keys()) if (k.metadata.service_account_id === id) state.delete(k);
    return { object: 'organization.project.service_account.deleted', id, deleted: true };
  });

  app.get(`${root}/api_keys`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const list = keys().map(
      ({ k }) => projectApiKey(k, accounts) as ReturnType<typeof projectApiKey> & { id: string },
    );
    return page(list, req.query as { after?: string; limit?: string });
  });

  app.get(`${root}/api_keys/:id`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const key = keyById((req.params as { id: string }).id);
    if (!key) return notFound(reply, 'API key');
    return projectApiKey(key, accounts);
  });

  app.delete(`${root}/api_keys/:id`, async (req, reply) => {
    if (!(await admin(req, reply))) return reply;
    const id = (req.params as { id: string }).id;
    const key = keyById(id);
    if (!key) return notFound(reply, 'API key');
    state.delete(key);
    return { object: 'organization.project.api_key.deleted', id, deleted: true };
  });
}
