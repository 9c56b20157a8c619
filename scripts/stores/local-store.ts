// One local secret store of any backend, as the demo and the real-stack rotation tests use it: start its
// server, write a secret the way a platform team would (outside rekey), read it the way an app does, and
// name it in the credential registry. Apps read: Key Vault's newest version; KV v2's `api_key` field of
// the current version; Secrets Manager's AWSCURRENT (asked for explicitly: moto 5.2.5 answers a stage-less
// GetSecretValue with the pre-flip value, see README "Secret backends").
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SecretClient } from '@azure/keyvault-secrets';
import { createSecretClient } from '../../activities/secrets/azure-key-vault';
import type { SecretBackendKind } from '../../domain/secrets';
import { startKeyVault, type RunningServer } from '../local-stack';
import { startMoto } from './moto';
import { startOpenBao } from './openbao';

export const DEFAULT_BACKEND: SecretBackendKind = 'azure-key-vault';
/** `make demo BACKEND=…` spellings. */
export const BACKEND_ALIASES: Record<string, SecretBackendKind> = {
  azure: 'azure-key-vault',
  'azure-key-vault': 'azure-key-vault',
  vault: 'hashicorp-vault',
  openbao: 'hashicorp-vault',
  'hashicorp-vault': 'hashicorp-vault',
  aws: 'aws-secrets-manager',
  'aws-secrets-manager': 'aws-secrets-manager',
};

/** The backend a `BACKEND=` value names, or an error listing the ones there are. */
export function backendOf(name: string | undefined): SecretBackendKind {
  if (!name) return DEFAULT_BACKEND;
  const kind = BACKEND_ALIASES[name.toLowerCase()];
  if (!kind) throw new Error(`unknown BACKEND ${name}: use azure (the default), vault or aws`);
  return kind;
}

export interface LocalStore {
  kind: SecretBackendKind;
  /** What the demo prints: "Key Vault https://127.0.0.1:…", "OpenBao http://127.0.0.1:…". */
  label: string;
  url: string;
  /** What a worker or API process needs to reach it (its backend's settings, never a key value). */
  env: NodeJS.ProcessEnv;
  /** PEM certificates the processes must trust (Key Vault's TLS). */
  certPems: string[];
  /** Writes `value` as what apps read of `name`, outside rekey. */
  put(name: string, value: string, tags?: Record<string, string>): Promise<void>;
  /** What an app reads of `name` right now; undefined when nothing is readable. */
  appRead(name: string): Promise<string | undefined>;
  /** The same with the store's id of the version read (Key Vault version, KV v2 version, AWS VersionId). */
  appReadVersion(name: string): Promise<{ value: string; version: string } | undefined>;
  /** The registry's `secret:` block for a credential whose secret is `name`. */
  registrySecret(name: string): Record<string, string>;
  server: RunningServer;
}

const KV_FIELD = 'api_key';
const AWS_REGION = 'us-east-1';

/** A running server of some backend: its URL and, for OpenBao, the token its dev server was given. */
export interface StoreServer {
  url: string;
  token?: string;
  certPem?: string;
}

/** Starts a store of this backend on `port`, logging to `logFile`. */
export async function startLocalStore(
  kind: SecretBackendKind,
  opts: { port: number; logFile: string },
): Promise<LocalStore> {
  switch (kind) {
    case 'azure-key-vault': {
      const server = await startKeyVault({ httpsPort: opts.port, logFile: opts.logFile });
      return { ...connectLocalStore(kind, { url: server.url, certPem: server.certPem }), server };
    }
    case 'hashicorp-vault': {
      const bao = await startOpenBao({ port: opts.port, logFile: opts.logFile });
      // The worker and the app get the least-privilege token; the root token stays with the server.
      return { ...connectLocalStore(kind, { url: bao.address, token: bao.workerToken }), server: bao };
    }
    case 'aws-secrets-manager': {
      const moto = await startMoto({ port: opts.port, logFile: opts.logFile });
      return { ...connectLocalStore(kind, { url: moto.url }), server: moto };
    }
  }
}

/** A store on a server that already runs (the integration harness's). */
export function connectLocalStore(kind: SecretBackendKind, srv: StoreServer): Omit<LocalStore, 'server'> {
  const store = connectBackend(kind, srv);
  return { ...store, appRead: async (name) => (await store.appReadVersion(name))?.value };
}

function connectBackend(kind: SecretBackendKind, srv: StoreServer): Omit<LocalStore, 'server' | 'appRead'> {
  switch (kind) {
    case 'azure-key-vault': {
      let client: SecretClient | undefined;
      const vault = () => (client ??= createSecretClient(srv.url, { emulator: true }));
      return {
        kind,
        label: `Key Vault (the reference Key Vault) ${srv.url}`,
        url: srv.url,
        env: { REKEY_AZURE_KEYVAULT_EMULATOR: 'true' },
        certPems: srv.certPem ? [srv.certPem] : [],
        put: async (name, value, tags) => {
          await vault().setSecret(name, value, tags ? { tags } : {});
        },
        appReadVersion: async (name) => {
          const s = await vault().getSecret(name);
          return s.value === undefined ? undefined : { value: s.value, version: s.properties.version ?? '?' };
        },
        registrySecret: (name) => ({ backend: kind, vault_url: srv.url, name }),
      };
    }
    case 'hashicorp-vault': {
      const token = srv.token ?? '';
      const kv = async (method: 'GET' | 'POST', name: string, body?: unknown) => {
        const res = await fetch(`${srv.url}/v1/secret/data/${name}`, {
          method,
          headers: { 'x-vault-token': token, 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(5000),
        });
        if (method === 'GET' && res.status === 404) return undefined;
        if (!res.ok) throw new Error(`OpenBao ${method} secret/data/${name} answered ${res.status}`);
        return (await res.json()) as {
          data?: { data?: Record<string, string>; metadata?: { version?: number } };
        };
      };
      return {
        kind,
        label: `OpenBao (HashiCorp Vault KV v2) ${srv.url}`,
        url: srv.url,
        env: { VAULT_TOKEN: token },
        certPems: [],
        put: async (name, value) => {
          await kv('POST', name, { data: { [KV_FIELD]: value } });
        },
        appReadVersion: async (name) => {
          const d = (await kv('GET', name))?.data;
          const value = d?.data?.[KV_FIELD];
          return value === undefined ? undefined : { value, version: String(d?.metadata?.version ?? '?') };
        },
        registrySecret: (name) => ({ backend: kind, address: srv.url, path: name, field: KV_FIELD }),
      };
    }
    case 'aws-secrets-manager': {
      const credentials = { accessKeyId: 'rekey-local', secretAccessKey: 'rekey-local' };
      const sm = new SecretsManagerClient({ region: AWS_REGION, endpoint: srv.url, credentials });
      return {
        kind,
        label: `AWS Secrets Manager (moto) ${srv.url}`,
        url: srv.url,
        env: {
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          AWS_REGION,
          AWS_EC2_METADATA_DISABLED: 'true',
          REKEY_AWS_ALLOW_HTTP_ENDPOINT: 'true',
        },
        certPems: [],
        put: async (name, value, tags) => {
          try {
            await sm.send(
              new CreateSecretCommand({
                Name: name,
                SecretString: value,
                ...(tags ? { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
              }),
            );
          } catch (err) {
            if (!(err instanceof ResourceExistsException)) throw err;
            await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
          }
        },
        appReadVersion: async (name) => {
          try {
            const out = await sm.send(
              new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }),
            );
            return out.SecretString === undefined
              ? undefined
              : { value: out.SecretString, version: out.VersionId ?? '?' };
          } catch (err) {
            if (err instanceof ResourceNotFoundException) return undefined;
            throw err;
          }
        },
        registrySecret: (name) => ({ backend: kind, region: AWS_REGION, endpoint: srv.url, secret_id: name }),
      };
    }
  }
}
