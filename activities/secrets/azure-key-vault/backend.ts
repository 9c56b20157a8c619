// The `azure-key-vault` entry of SECRET_STORES: one SecretClient per vault URL (DefaultAzureCredential,
// or emulator mode for a local emulator such as the reference Key Vault, refused for real Azure vault hosts), one
// store per credential location, and the gateway admin keys read from the same vault.
import type { SecretClient } from '@azure/keyvault-secrets';
import type { SecretLocationOf } from '../../../domain/secrets';
import type { SecretBackend, SecretBackendContext, SecretBackendSession } from '../backend';
import { createSecretClient } from './credentials';
import {
  createKeyVaultSecretStore,
  keyVaultSession,
  type KeyVaultSecretStoreOptions,
} from './key-vault-secret-store';
import { readNewestEnabled } from './operations/read';

/** The variable that turns emulator mode on (dev and tests only). */
export const AZURE_KEYVAULT_EMULATOR_ENV = 'REKEY_AZURE_KEYVAULT_EMULATOR';
/** Its name before rekey 0.3, still read (with a warning) when the new one is unset. */
export const DEPRECATED_KEYVAULT_EMULATOR_ENV = 'REKEY_KEYVAULT_EMULATOR';

const FLAGS: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/** What the backend reads from the environment. */
export interface AzureKeyVaultSettings {
  /** A local emulator (the reference Key Vault): a no-op credential, no challenge resource check. */
  emulator: boolean;
  /** Set when the setting came from the deprecated variable. */
  deprecatedVariable?: string;
}

/** Reads emulator mode from `env`; an unreadable value fails naming the variable. */
export function azureKeyVaultSettings(env: NodeJS.ProcessEnv): AzureKeyVaultSettings {
  const read = (name: string): boolean | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const flag = FLAGS[raw];
    if (flag === undefined) throw new Error(`${name} must be true, false, 1 or 0 (default false)`);
    return flag;
  };
  const current = read(AZURE_KEYVAULT_EMULATOR_ENV);
  const deprecated = read(DEPRECATED_KEYVAULT_EMULATOR_ENV);
  if (current !== undefined && deprecated !== undefined && current !== deprecated)
    throw new Error(
      `${AZURE_KEYVAULT_EMULATOR_ENV} and the deprecated ${DEPRECATED_KEYVAULT_EMULATOR_ENV} disagree: set only ${AZURE_KEYVAULT_EMULATOR_ENV}`,
    );
  if (current !== undefined) return { emulator: current };
  if (deprecated !== undefined)
    return { emulator: deprecated, deprecatedVariable: DEPRECATED_KEYVAULT_EMULATOR_ENV };
  return { emulator: false };
}

/** What tests (or an embedding) may change about a session; production uses the defaults. */
export type AzureKeyVaultSessionOptions = Pick<KeyVaultSecretStoreOptions, 'settle' | 'budget'> & {
  /** The client of a vault URL; defaults to createSecretClient in the session's mode. */
  secretClientFor?: (vaultUrl: string) => SecretClient;
};

/** A session over every Key Vault the worker's credentials name, one client per vault URL. */
export function connectAzureKeyVault(
  ctx: SecretBackendContext,
  opts: AzureKeyVaultSessionOptions = {},
): SecretBackendSession<'azure-key-vault'> {
  const { emulator, deprecatedVariable } = azureKeyVaultSettings(ctx.env);
  if (deprecatedVariable)
    ctx.logger?.warn(
      { variable: deprecatedVariable, use: AZURE_KEYVAULT_EMULATOR_ENV },
      'deprecated environment variable: rename it (it is still read while the new one is unset)',
    );
  const clients = new Map<string, SecretClient>();
  const clientFor = (vaultUrl: string): SecretClient => {
    const key = vaultUrl.replace(/\/+$/, '').toLowerCase();
    let client = clients.get(key);
    if (!client) {
      client = opts.secretClientFor?.(vaultUrl) ?? createSecretClient(vaultUrl, { emulator });
      clients.set(key, client);
    }
    return client;
  };
  const optionsOf = (location: SecretLocationOf<'azure-key-vault'>): KeyVaultSecretStoreOptions => ({
    client: clientFor(location.vaultUrl),
    vaultUrl: location.vaultUrl,
    secretName: location.secretName,
    pendingSecretName: location.pendingSecretName,
    ...(ctx.logger ? { logger: ctx.logger } : {}),
    ...(opts.settle ? { settle: opts.settle } : {}),
    ...(opts.budget ? { budget: opts.budget } : {}),
  });
  return {
    open: (location) => createKeyVaultSecretStore(optionsOf(location)),
    // async: a refused client (emulator mode on an Azure host) rejects like every other failure.
    readValue: async (location, name) => readNewestEnabled(keyVaultSession(optionsOf(location)), name),
  };
}

/** The `azure-key-vault` entry of SECRET_STORES. */
export const azureKeyVaultBackend: SecretBackend<'azure-key-vault'> = {
  kind: 'azure-key-vault',
  connect: (ctx) => connectAzureKeyVault(ctx),
};
