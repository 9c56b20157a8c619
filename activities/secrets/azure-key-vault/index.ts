export {
  AZURE_VAULT_SUFFIXES,
  createSecretClient,
  isAzureVaultHost,
  keyVaultCredential,
  type SecretClientFactoryOptions,
  type VaultCredential,
} from './credentials';
export {
  createKeyVaultSecretStore,
  type KeyVaultSecretStoreOptions,
  type SecretStoreLogger,
} from './key-vault-secret-store';
export { Tag as KeyVaultTag } from './tags';
export { vaultFailure, VaultFailureTypes, type VaultContext } from './vault-errors';
export { WRITE_OUTCOME_UNKNOWN, writeOncePolicy } from './write-once-policy';
