export * from './azure-key-vault';
export type { SecretBackend, SecretBackendContext, SecretBackendSession, SecretStoreLogger } from './backend';
export { createSecretStores, SECRET_STORES, type SecretStores } from './registry';
