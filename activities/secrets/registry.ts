// SECRET_STORES: every secret backend rekey can keep a credential in, keyed by backend kind (like
// ADMIN_ADAPTERS for gateways). A `Record` over SECRET_BACKENDS, so a backend added to the domain union
// without a folder here does not compile. createSecretStores turns it into what the worker and the API's
// manual hand-off need: the store of a credential, and the value of a gateway admin key beside it.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import type { SecretBackendKind, SecretLocation } from '../../domain/secrets';
import { secretLocationOf, storeLabel } from '../../domain/secret-refs';
import type { SecretStore } from '../../domain/ports';
import type { CredentialRef } from '../../domain/activity-io';
import { awsSecretsManagerBackend } from './aws-secrets-manager';
import { azureKeyVaultBackend } from './azure-key-vault/backend';
import type { SecretBackend, SecretBackendContext, SecretBackendSession } from './backend';
import { hashicorpVaultBackend } from './hashicorp-vault';

export const SECRET_STORES: { [K in SecretBackendKind]: SecretBackend<K> } = {
  'azure-key-vault': azureKeyVaultBackend,
  'hashicorp-vault': hashicorpVaultBackend,
  'aws-secrets-manager': awsSecretsManagerBackend,
};

/** The stores of every credential, one session per backend in use, reused across calls. */
export interface SecretStores {
  /** The store of a credential's secret (current or pre-0.3 credential shape). */
  secretStoreFor: (credential: Pick<CredentialRef, 'secret'> | object) => SecretStore;
  /** In-process only: the current value of secret `name` in the same store as `location`. */
  readValue: (location: SecretLocation, name: string) => Promise<string>;
}

/**
 * Opens sessions lazily: a backend nobody registered is never configured, and a registered one whose
 * settings are wrong fails with the variable it needs, not at the first rotation's flip.
 */
export function createSecretStores(
  ctx: SecretBackendContext,
  backends: { [K in SecretBackendKind]: SecretBackend<K> } = SECRET_STORES,
): SecretStores & { connect: (kind: SecretBackendKind) => void } {
  const sessions = new Map<SecretBackendKind, SecretBackendSession<SecretBackendKind>>();
  const stores = new Map<string, SecretStore>();
  const sessionOf = <K extends SecretBackendKind>(kind: K): SecretBackendSession<K> => {
    let session = sessions.get(kind);
    if (!session) {
      const backend = backends[kind] as SecretBackend<K> | undefined;
      if (!backend)
        throw ApplicationFailure.create({
          type: FailureTypes.UnknownCredential,
          message: `no secret backend ${String(kind)} is built into this worker`,
          nonRetryable: true,
        });
      session = backend.connect(ctx) as unknown as SecretBackendSession<SecretBackendKind>;
      sessions.set(kind, session);
    }
    return session as unknown as SecretBackendSession<K>;
  };
  return {
    connect: (kind) => {
      sessionOf(kind);
    },
    secretStoreFor: (credential) => {
      const location = secretLocationOf(credential);
      const key = JSON.stringify(location);
      let store = stores.get(key);
      if (!store) {
        store = sessionOf(location.backend).open(location);
        stores.set(key, store);
      }
      return store;
    },
    readValue: async (location, name) => {
      const value = await sessionOf(location.backend).readValue(location, name);
      if (!value)
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `secret ${name} in ${storeLabel(location)} is empty`,
          nonRetryable: true,
        });
      return value;
    },
  };
}
