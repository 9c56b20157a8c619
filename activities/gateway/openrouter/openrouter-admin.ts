// OpenRouter management API: keys by `hash`, created with a name, disabled and re-enabled with PATCH,
// deleted with DELETE. A key is found from its value through GET /key (authenticated with the key
// itself), whose label matches the label in the management listing. rekey names its keys
// `rekey:<rotation id>`. No findRequest: GET /generation takes generation ids (the completion's `gen-…`
// id, not the `x-request-id` the canary records) and answers 404 until the generation is stored,
// which a pre-check would misread as a request never sent.
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';

interface OpenRouterKey {
  hash: string;
  name: string;
  label: string;
  disabled: boolean;
  limit: number | null;
}

const tag = (rotationId: string) => `rekey:${rotationId}`;
const scopeOf = (k: { limit: number | null }): KeyScope => ({ models: [], maxBudget: k.limit });

export function createOpenRouterAdmin(opts: AdminHttpOptions): GatewayAdmin {
  /** Every key, following `offset` pages (OpenRouter returns up to 100 a page). */
  const list = async () => {
    const all: OpenRouterKey[] = [];
    for (let offset = 0; offset < 100_000; offset += 100) {
      const page = (
        await adminCall<{ data: OpenRouterKey[] }>(
          opts,
          'GET',
          `/keys?include_disabled=true&offset=${offset}`,
        )
      ).body.data;
      all.push(...page);
      if (page.length < 100) break;
    }
    return all;
  };
  return {
    kind: 'openrouter',

    async describeKey(value) {
      // GET /key authenticates with the key itself: 401 there means the gateway does not know it.
      const current = await adminCall<{ data: { label: string; limit: number | null } }>(
        opts,
        'GET',
        '/key',
        undefined,
        value,
      ).catch((err: unknown) => {
        if ((err as { type?: string }).type === 'GatewayAdminForbidden') return undefined;
        throw err;
      });
      if (!current || current.status !== 200) return undefined;
      const match = (await list()).filter((k) => k.label === current.body.data.label);
      // Labels abbreviate keys; two keys sharing one would make the lookup ambiguous, so refuse to guess.
      if (match.length !== 1) return undefined;
      return { keyId: match[0]!.hash, scope: scopeOf(match[0]!) };
    },

    async findIssued(rotationId) {
      const key = (await list()).find((k) => k.name === tag(rotationId));
      return key ? { keyId: key.hash, scope: scopeOf(key) } : undefined;
    },

    async createKey(rotationId, scope) {
      const res = await adminCall<{ data: OpenRouterKey; key: string }>(opts, 'POST', '/keys', {
        name: tag(rotationId),
        limit: scope.maxBudget ?? null,
      });
      return { keyId: res.body.data.hash, value: res.body.key };
    },

    // `disabled` is a flag on the key: PATCH it back to false and the same key works again.
    canDisable: true,

    async disableKey(keyId) {
      const res = await adminCall(opts, 'PATCH', `/keys/${encodeURIComponent(keyId)}`, { disabled: true });
      return res.status === 404 ? 'already-gone' : 'disabled';
    },

    async enableKey(keyId) {
      const res = await adminCall(opts, 'PATCH', `/keys/${encodeURIComponent(keyId)}`, { disabled: false });
      return res.status === 404 ? 'already-gone' : 'enabled';
    },

    async deleteKey(keyId) {
      const res = await adminCall(opts, 'DELETE', `/keys/${encodeURIComponent(keyId)}`);
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}
