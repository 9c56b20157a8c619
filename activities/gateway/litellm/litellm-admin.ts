// LiteLLM proxy key admin: /key/generate, /key/info, /key/list, /key/block, /key/unblock, /key/delete,
// and /spend/logs to look a request up. Keys are identified by LiteLLM's `token` (SHA-256 hex of the
// value). A replacement copies every scope field of the old key, takes the alias
// `<old alias>.rekey/<ticket>` (linkedAlias) and carries `metadata.rekey_rotation`, which findIssued
// looks for; keys issued by earlier releases have the alias `rekey:<rotation id>`.
import { sha256Hex } from '../../../domain/fingerprint';
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';
import { isDeleted, keyGone, requireTeam } from './key-state';
import { linkedAlias } from '../scope';

type PerModel = Record<string, number> | null;

interface LiteLlmKeyRow {
  token?: string;
  key_alias?: string | null;
  models?: string[];
  max_budget?: number | null;
  budget_duration?: string | null;
  soft_budget?: number | null;
  litellm_budget_table?: { soft_budget?: number | null } | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  max_parallel_requests?: number | null;
  model_max_budget?: PerModel;
  model_rpm_limit?: PerModel;
  model_tpm_limit?: PerModel;
  allowed_routes?: string[] | null;
  team_id?: string | null;
  user_id?: string | null;
  metadata?: Record<string, unknown> | null;
  tags?: string[] | null;
  expires?: string | null;
}

const legacyTag = (rotationId: string) => `rekey:${rotationId}`;
/** Keys LiteLLM's /key/generate moves into metadata; they are read back as scope fields, not metadata. */
const FOLDED_INTO_METADATA = ['tags', 'model_rpm_limit', 'model_tpm_limit'] as const;
const emptyToNull = (m: PerModel | undefined) => (m && Object.keys(m).length > 0 ? m : null);

function scopeOf(row: LiteLlmKeyRow): KeyScope {
  const meta = row.metadata ?? {};
  const folded = (k: (typeof FOLDED_INTO_METADATA)[number]) => meta[k] as never;
  return {
    models: row.models ?? [],
    maxBudget: row.max_budget ?? null,
    budgetDuration: row.budget_duration ?? null,
    softBudget: row.soft_budget ?? row.litellm_budget_table?.soft_budget ?? null,
    rpmLimit: row.rpm_limit ?? null,
    tpmLimit: row.tpm_limit ?? null,
    maxParallelRequests: row.max_parallel_requests ?? null,
    modelMaxBudget: emptyToNull(row.model_max_budget),
    modelRpmLimit: emptyToNull(row.model_rpm_limit ?? folded('model_rpm_limit')),
    modelTpmLimit: emptyToNull(row.model_tpm_limit ?? folded('model_tpm_limit')),
    allowedRoutes: row.allowed_routes ?? [],
    team: row.team_id ?? null,
    owner: row.user_id ?? null,
    metadata: Object.fromEntries(
      Object.entries(meta).filter(([k]) => !(FOLDED_INTO_METADATA as readonly string[]).includes(k)),
    ),
    tags: row.tags ?? (Array.isArray(meta.tags) ? (meta.tags as string[]) : []),
    expiresAt: row.expires ?? null,
    keyAlias: row.key_alias ?? null,
  };
}

/** LiteLLM takes a lifetime (`duration`), not a time: the seconds left until the wanted expiry. */
const durationUntil = (expiresAt: string | null | undefined) =>
  expiresAt ? `${Math.max(1, Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000))}s` : null;

function generateBody(rotationId: string, scope: KeyScope) {
  return {
    key_alias: linkedAlias(scope.keyAlias, rotationId),
    duration: durationUntil(scope.expiresAt),
    models: scope.models,
    max_budget: scope.maxBudget ?? null,
    budget_duration: scope.budgetDuration ?? null,
    soft_budget: scope.softBudget ?? null,
    rpm_limit: scope.rpmLimit ?? null,
    tpm_limit: scope.tpmLimit ?? null,
    max_parallel_requests: scope.maxParallelRequests ?? null,
    model_max_budget: scope.modelMaxBudget ?? {},
    model_rpm_limit: scope.modelRpmLimit ?? null,
    model_tpm_limit: scope.modelTpmLimit ?? null,
    allowed_routes: scope.allowedRoutes ?? [],
    team_id: scope.team ?? null,
    user_id: scope.owner ?? null,
    tags: scope.tags ?? null,
    metadata: { ...scope.metadata, rekey_rotation: rotationId },
  };
}

export function createLiteLlmAdmin(opts: AdminHttpOptions): GatewayAdmin {
  /** The first key `match` accepts, following /key/list pages (the alias filter cannot find metadata). */
  const findRow = async (match: (row: LiteLlmKeyRow) => boolean) => {
    for (let page = 1; page <= 1000; page++) {
      const q = `return_full_object=true&page=${page}&size=100`;
      const res = await adminCall<{ keys: LiteLlmKeyRow[]; total_pages?: number }>(
        opts,
        'GET',
        `/key/list?${q}`,
      );
      if (res.status === 404) return undefined;
      const row = res.body.keys.find(match);
      if (row || page >= (res.body.total_pages ?? 1)) return row;
    }
    return undefined;
  };
  return {
    kind: 'litellm',

    async describeKey(value) {
      // Asked by token (the SHA-256 LiteLLM accepts in place of the key), so the key itself never
      // travels in a URL that proxies and access logs record.
      const token = sha256Hex(value);
      const res = await adminCall<{ info: LiteLlmKeyRow & { status?: string | null } }>(
        opts,
        'GET',
        `/key/info?key=${token}`,
      );
      if (res.status === 404 || isDeleted(res.body.info)) return undefined;
      return { keyId: token, scope: scopeOf(res.body.info) };
    },

    async findIssued(rotationId) {
      const row = await findRow(
        (k) => k.metadata?.rekey_rotation === rotationId || k.key_alias === legacyTag(rotationId),
      );
      return row?.token ? { keyId: row.token, scope: scopeOf(row) } : undefined;
    },

    // Create-then-revoke, never /key/{key}/regenerate: regenerate is Enterprise-only (500 without a
    // licence), resets model_max_budget windows (LiteLLM #31079), and its grace-period lookups broke
    // several times, rejecting old keys early (#24680, #27193, #35797).
    async createKey(rotationId, scope) {
      await requireTeam(opts, scope.team);
      const res = await adminCall<{ key: string; token: string }>(
        opts,
        'POST',
        '/key/generate',
        generateBody(rotationId, scope),
      );
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
      // Looked up first: a deleted key's /key/info is 200 with `status: "deleted"`, and a retry of a
      // delete that landed must count as done.
      if (await keyGone(opts, keyId)) return 'already-gone';
      const res = await adminCall(opts, 'POST', '/key/delete', { keys: [keyId] });
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}
