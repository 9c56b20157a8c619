// OpenRouter management API: keys by `hash`, created with a name, disabled with PATCH, deleted with
// DELETE. A key is found from its value through GET /key (authenticated with the key itself), whose
// label matches the label in the management listing. rekey names its keys `rekey:<rotation id>`.
import type { GatewayAdmin } from '../../ports';
import type { KeyScope } from '../../types';
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
  const list = async () =>
    (await adminCall<{ data: OpenRouterKey[] }>(opts, 'GET', '/keys?include_disabled=true')).body.data;
  return {
    kind: 'openrouter',

    async describeKey(value) {
      const current = await adminCall<{ data: { label: string; limit: number | null } }>(
        opts,
        'GET',
        '/key',
        undefined,
        value,
      ).catch(() => undefined);
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

    async disableKey(keyId) {
      const res = await adminCall(opts, 'PATCH', `/keys/${encodeURIComponent(keyId)}`, { disabled: true });
      return res.status === 404 ? 'already-gone' : 'disabled';
    },

    async deleteKey(keyId) {
      const res = await adminCall(opts, 'DELETE', `/keys/${encodeURIComponent(keyId)}`);
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}
