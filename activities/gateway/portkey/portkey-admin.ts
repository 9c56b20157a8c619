// Portkey Admin API: API keys by id (`/api-keys/{type}/{sub-type}` to create, `/api-keys/{id}` to read,
// update and delete), authenticated with `x-portkey-api-key`. rekey creates workspace service keys named
// `rekey:<rotation id>` and revokes the old key itself (create-then-revoke), rather than calling
// `POST /api-keys/{id}/rotate`: a rotate keeps the key id but lets the gateway expire the old secret on
// its own clock (`key_transition_period_ms`, 30 minutes at least), whatever the gates say, and cannot be
// undone, so the old key would be revoked before positive evidence and a rollback could not bring it back.
// Listings show keys masked (`Xk*******S4`), so a key is found from its value by that mask, and only when
// exactly one key in the workspace matches. Portkey has no reversible disable: revocation is a delete.
import type { GatewayAdmin } from '../../../domain/ports';
import type { KeyScope } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../admin-http';
import { uniqueMaskMatch } from '../masked-key';

interface PortkeyKey {
  id: string;
  key: string;
  name: string;
  status: string;
  workspace_id?: string;
  usage_limits?: { credit_limit?: number | null } | null;
  rate_limits?: { type: string; unit: string; value: number }[] | null;
}

const tag = (rotationId: string) => `rekey:${rotationId}`;
const PAGE = 100;

/** The scope rekey can compare and copy: the credit limit and the requests-per-minute limit. */
function scopeOf(k: PortkeyKey): KeyScope {
  const rpm = k.rate_limits?.find((r) => r.type === 'requests' && r.unit === 'rpm');
  return { models: [], maxBudget: k.usage_limits?.credit_limit ?? null, rpmLimit: rpm?.value ?? null };
}

export function createPortkeyAdmin(options: AdminHttpOptions): GatewayAdmin {
  const opts: AdminHttpOptions = { ...options, authHeader: (key) => ({ 'x-portkey-api-key': key }) };
  const workspace = options.portkeyWorkspaceId;
  if (!workspace)
    throw new Error('portkey admin adapter: no workspace (registry gateway.portkey_workspace_id)');
  const ws = encodeURIComponent(workspace);
  /** Every key of the workspace, page by page. */
  const list = async () => {
    const all: PortkeyKey[] = [];
    for (let page = 0; page < 1000; page += 1) {
      const res = await adminCall<{ data: PortkeyKey[]; total?: number }>(
        opts,
        'GET',
        `/api-keys?workspace_id=${ws}&page_size=${PAGE}&current_page=${page}`,
      );
      all.push(...res.body.data);
      if (res.body.data.length < PAGE) break;
    }
    return all;
  };
  const byId = (keyId: string) => `/api-keys/${encodeURIComponent(keyId)}`;

  return {
    kind: 'portkey',

    async describeKey(value) {
      const key = uniqueMaskMatch(await list(), (k) => k.key, value);
      return key ? { keyId: key.id, scope: scopeOf(key) } : undefined;
    },

    async findIssued(rotationId) {
      const key = (await list()).find((k) => k.name === tag(rotationId));
      return key ? { keyId: key.id, scope: scopeOf(key) } : undefined;
    },

    async createKey(rotationId, scope) {
      const res = await adminCall<{ id: string; key: string }>(opts, 'POST', '/api-keys/workspace/service', {
        name: tag(rotationId),
        description: `issued by rekey for rotation ${rotationId}`,
        workspace_id: workspace,
        // Inference only: the key apps use calls models, nothing in the control plane.
        scopes: ['completions.write'],
        ...(scope.maxBudget == null ? {} : { usage_limits: { credit_limit: scope.maxBudget } }),
        ...(scope.rpmLimit == null
          ? {}
          : { rate_limits: [{ type: 'requests', unit: 'rpm', value: scope.rpmLimit }] }),
      });
      return { keyId: res.body.id, value: res.body.key };
    },

    // Keys are active until deleted (or expired); nothing switches one off and on again.
    canDisable: false,
    disableKey: (keyId) => Promise.reject(new Error(`portkey cannot disable ${keyId}; delete it instead`)),
    enableKey: (keyId) => Promise.reject(new Error(`portkey cannot re-enable ${keyId}`)),

    async deleteKey(keyId) {
      const res = await adminCall(opts, 'DELETE', byId(keyId));
      return res.status === 404 ? 'already-gone' : 'deleted';
    },
  };
}
