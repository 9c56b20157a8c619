// One Key Vault secret store per credential, one SecretClient per vault: what the worker and the API
// (for the manual hand-off) both need from the registry's references.
import type { SecretClient } from '@azure/keyvault-secrets';
import type { SecretStore } from '../ports';
import type { CredentialRef } from '../types';
import { createKeyVaultSecretStore, createSecretClient, type SecretStoreLogger } from './azure-key-vault';

export interface SecretStoreResolverOptions {
  /** Dev only: a local emulator with a no-op credential (refused for Azure vault hosts). */
  emulator: boolean;
  /** The client of a vault URL; defaults to the SDK with DefaultAzureCredential (or the emulator's). */
  secretClientFor?: (vaultUrl: string) => SecretClient;
  /** Where every store logs what it wrote, reused and left alone (never a value); silent without one. */
  logger?: SecretStoreLogger;
}

/** Resolves a credential to its secret store, reusing clients and stores across calls. */
export function createSecretStoreResolver(opts: SecretStoreResolverOptions): {
  secretStoreFor: (credential: CredentialRef) => SecretStore;
  secretClientFor: (vaultUrl: string) => SecretClient;
} {
  const clients = new Map<string, SecretClient>();
  const stores = new Map<string, SecretStore>();
  const secretClientFor = (vaultUrl: string): SecretClient => {
    let client = clients.get(vaultUrl);
    if (!client) {
      client = opts.secretClientFor?.(vaultUrl) ?? createSecretClient(vaultUrl, { emulator: opts.emulator });
      clients.set(vaultUrl, client);
    }
    return client;
  };
  return {
    secretClientFor,
    secretStoreFor(credential) {
      const key = JSON.stringify([credential.vaultUrl, credential.secretName, credential.pendingSecretName]);
      let store = stores.get(key);
      if (!store) {
        store = createKeyVaultSecretStore({
          client: secretClientFor(credential.vaultUrl),
          vaultUrl: credential.vaultUrl,
          secretName: credential.secretName,
          pendingSecretName: credential.pendingSecretName,
          ...(opts.logger ? { logger: opts.logger } : {}),
        });
        stores.set(key, store);
      }
      return store;
    },
  };
}
