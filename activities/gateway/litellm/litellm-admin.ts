// LiteLLM proxy key admin: /key/generate, /key/info, /key/list, /key/block, /key/unblock, /key/delete,
// and /spend/logs to look a request up. Keys are identified by LiteLLM's `token` (SHA-256 hex of the
// value); rekey tags its keys with the alias `rekey:<rotation id>`, which /key/list filters on.
import { sha256Hex } from '../../../domain/fingerprint';
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';

interface LiteLlmKeyRow {
  token?: string;
  key_alias?: string | null;
  models?: string[];
  max_budget?: number | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  team_id?: string | null;
  user_id?: string | null;
  metadata?: Record<string, unknown>;
}

const tag = (rotationId: string) => `rekey:${rotationId}`;

function scopeOf(row: LiteLlmKeyRow): KeyScope {
  return {
    models: row.models ?? [],
    maxBudget: row.max_budget ?? null,
    rpmLimit: row.rpm_limit ?? null,
    tpmLimit: row.tpm_limit ?? null,
    team: row.team_id ?? null,
    owner: row.user_id ?? null,
    metadata: Object.fromEntries(
      Object.entries(row.metadata ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
    ),
  };
}

export function createLiteLlmAdmin(opts: AdminHttpOptions): GatewayAdmin {
  return {
    kind: 'litellm',

    async describeKey(value) {
      // Asked by token (the SHA-256 LiteLLM accepts in place of the key), so the key itself never
      // travels in a URL that proxies and access logs record.
      const token = sha256Hex(value);
      const res = await adminCall<{ info: LiteLlmKeyRow }>(opts, 'GET', `/key/info?key=${token}`);
      if (res.status === 404) return undefined;
      return { keyId: token, scope: scopeOf(res.body.info) };
    },

    async findIssued(rotationId) {
      const q = `key_alias=${encodeURIComponent(tag(rotationId))}&return_full_object=true`;
      const res = await adminCall<{ keys: LiteLlmKeyRow[] }>(opts, 'GET', `/key/list?${q}`);
      const row = res.status === 404 ? undefined : res.body.keys[0];
      return row?.token ? { keyId: row.token, scope: scopeOf(row) } : undefined;
    },

    async createKey(rotationId, scope) {
      const res = await adminCall<{ key: string; token: string }>(opts, 'POST', '/key/generate', {
        key_alias: tag(rotationId),
        models: scope.models,
        max_budget: scope.maxBudget ?? null,
        rpm_limit: scope.rpmLimit ?? null,
        tpm_limit: scope.tpmLimit ?? null,
        team_id: scope.team ?? null,
        user_id: scope.owner ?? null,
        metadata: { ...scope.metadata, rekey_rotation: rotationId },
      });
      return { keyId: res.body.token, value: res.body.key };
    },

    // A blocked key is refused at once and keeps its row, so /key/unblock brings it back unchanged.
    canDisable: true,

    async disableKey(keyId) {
      const res = await adminCall(opts, 'POST', '/key/block', { key: keyId });
      return res.status === 404 ? 'already-gone' : 'disabled';
    },

    async enableKey(keyId) {
      const res = await adminCall(opts, 'POST', '/key/unblock', { key: keyId });
      return res.status === 404 ? 'already-gone' : 'enabled';
    },

    async findRequest(requestId) {
      // Without a date range LiteLLM looks the id up as the spend log's unique key and answers
      // `[row]`, or `[null]` when there is none. Rows land in batches, so a request seconds old may
      // not be there yet.
      const q = `request_id=${encodeURIComponent(requestId)}`;
      const res = await adminCall<({ request_id?: string } | null)[] | null>(opts, 'GET', `/spend/logs?${q}`);
      // A 404 is the route missing (no spend-log DB), not the request: unknown, not "never sent".
      if (res.status === 404) throw new Error('GET /spend/logs answered 404: spend logs are not available');
      return Array.isArray(res.body) && res.body.some((row) => row?.request_id === requestId);
    },

    async deleteKey(keyId) {
      const res = await adminCall(opts, 'POST', '/key/delete', { keys: [keyId] });
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}
