// The HashiCorp Vault KV v2 backend for the shared SecretStore contract, on the OpenBao dev server global
// setup started (KV v2 at `secret/`). Secrets are written, read and broken the way a platform team and
// an app would: plain HTTP calls with the root token, outside rekey.
import { randomBytes } from 'node:crypto';
import { connectHashicorpVault } from '../../activities/secrets/hashicorp-vault';
import type { SecretLocationOf } from '../../domain/secrets';
import { OPENBAO_ENV } from '../harness/harness-state';
import type { ContractBackend } from './backend';

/** The dev server's address and root token, or a failure naming why global setup could not start it. */
export function openBao(): { address: string; token: string } {
  const address = process.env[OPENBAO_ENV.address];
  const token = process.env[OPENBAO_ENV.token];
  if (!address || !token)
    throw new Error(
      `OpenBao is not running: ${process.env[OPENBAO_ENV.unavailable] ?? 'global setup did not start it'} (scripts/bootstrap.sh openbao)`,
    );
  return { address, token };
}

/** One raw Vault API call as an operator would make it (`/v1/<apiPath>`): its status and JSON body. */
export async function bao(
  method: string,
  apiPath: string,
  body?: unknown,
  opts: { token?: string; namespace?: string; contentType?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const { address, token } = openBao();
  const res = await fetch(`${address}/v1/${apiPath}`, {
    method,
    headers: {
      'X-Vault-Token': opts.token ?? token,
      ...(opts.namespace ? { 'X-Vault-Namespace': opts.namespace } : {}),
      ...(body === undefined ? {} : { 'Content-Type': opts.contentType ?? 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Like bao(), but any status outside 2xx throws (naming the call and status only, never the body). */
export async function baoOk(
  method: string,
  apiPath: string,
  body?: unknown,
  opts?: Parameters<typeof bao>[3],
): Promise<Record<string, unknown>> {
  const r = await bao(method, apiPath, body, opts);
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} /v1/${apiPath} answered ${r.status}`);
  return r.json;
}

/** What an app reads: `field` of the current version of `path`; undefined when deleted or missing. */
export async function appReadKv(location: SecretLocationOf<'hashicorp-vault'>): Promise<string | undefined> {
  const r = await bao('GET', `${location.mount}/data/${location.path}`, undefined, {
    ...(location.namespace ? { namespace: location.namespace } : {}),
  });
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`an app's read of ${location.path} answered ${r.status}`);
  const value = ((r.json.data as { data?: Record<string, unknown> } | undefined)?.data ?? {})[location.field];
  return typeof value === 'string' ? value : undefined;
}

export const hashicorpVaultContract: ContractBackend<'hashicorp-vault'> = {
  kind: 'hashicorp-vault',
  serverUrl: () => openBao().address,
  async fresh(initial, opts = {}) {
    const { address, token } = openBao();
    const path = `contract/${randomBytes(6).toString('hex')}`;
    // A platform team's secret: the key apps read beside another field, and custom metadata of its own.
    await baoOk('POST', `secret/data/${path}`, { data: { api_key: initial, username: 'svc-contract' } });
    await baoOk('POST', `secret/metadata/${path}`, { custom_metadata: { owner: 'team-contract' } });
    const location: SecretLocationOf<'hashicorp-vault'> = {
      backend: 'hashicorp-vault',
      address: opts.serverUrl ?? address,
      mount: 'secret',
      path,
      pendingPath: `${path}-pending`,
      field: 'api_key',
    };
    return {
      location,
      session: connectHashicorpVault({
        env: { VAULT_TOKEN: token },
        ...(opts.logger ? { logger: opts.logger } : {}),
      }),
      appRead: () => appReadKv(location),
      async breakStable(how) {
        if (how === 'missing') {
          await baoOk('DELETE', `secret/metadata/${path}`);
          return;
        }
        const meta = (await baoOk('GET', `secret/metadata/${path}`)).data as { current_version: number };
        await baoOk('POST', `secret/delete/${path}`, { versions: [meta.current_version] });
      },
      async putOther(value) {
        const name = `${path}-admin`;
        await baoOk('POST', `secret/data/${name}`, { data: { api_key: value } });
        return name;
      },
    };
  },
};
