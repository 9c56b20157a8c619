// OpenRouter management API: keys by `hash`, created with a name, disabled and re-enabled with PATCH,
// deleted with DELETE. A key is found from its value through GET /key (authenticated with the key
// itself), whose label matches the label in the management listing. A replacement copies limit,
// limit_reset, include_byok_in_limit and expires_at and is named `<old name>.rekey/<rotation id>`
// (linkedName); keys issued by earlier releases are named `rekey:<rotation id>`. No findRequest: GET /generation takes generation ids (the completion's `gen-…`
// id, not the `x-request-id` the canary records) and answers 404 until the generation is stored,
// which a pre-check would misread as a request never sent.
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';
import { linkedName } from '../scope';

interface OpenRouterKey {
  hash: string;
  name: string;
  label: string;
  disabled: boolean;
  limit: number | null;
  limit_reset?: string | null;
  include_byok_in_limit?: boolean;
  expires_at?: string | null;
}

const legacyTag = (rotationId: string) => `rekey:${rotationId}`;
const scopeOf = (k: OpenRouterKey): KeyScope => ({
  models: [],
  maxBudget: k.limit,
  limitReset: k.limit_reset ?? null,
  includeByokInLimit: k.include_byok_in_limit ?? false,
  expiresAt: k.expires_at ?? null,
  keyAlias: k.name,
});

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
      const suffix = `.rekey/${rotationId}`;
      const key = (await list()).find((k) => k.name.endsWith(suffix) || k.name === legacyTag(rotationId));
      return key ? { keyId: key.hash, scope: scopeOf(key) } : undefined;
    },

    async createKey(rotationId, scope) {
      const res = await adminCall<{ data: OpenRouterKey; key: string }>(opts, 'POST', '/keys', {
        name: linkedName(scope.keyAlias, rotationId),
        limit: scope.maxBudget ?? null,
        limit_reset: scope.limitReset ?? null,
        include_byok_in_limit: scope.includeByokInLimit ?? false,
        ...(scope.expiresAt ? { expires_at: scope.expiresAt } : {}),
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
