export {
  AZURE_KEYVAULT_EMULATOR_ENV,
  azureKeyVaultBackend,
  azureKeyVaultSettings,
  connectAzureKeyVault,
  DEPRECATED_KEYVAULT_EMULATOR_ENV,
  type AzureKeyVaultSessionOptions,
  type AzureKeyVaultSettings,
} from './backend';
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
export {
  currentActivitySignal,
  MAX_IN_PROCESS_RETRY_AFTER_MS,
  OPERATION_DEADLINE_MS,
  REQUEST_TIMEOUT_MS,
  SDK_RETRY,
  SETTLE,
} from './operation-budget';
export { RETRY_AFTER_TOO_LONG, retryAfterCapPolicy } from './retry-after-cap-policy';
export { rotationTag, Tag as KeyVaultTag, TAG_LIMITS } from './tags';
export { vaultFailure, VaultFailureTypes, type VaultContext } from './vault-errors';
export { WRITE_OUTCOME_UNKNOWN, writeOncePolicy } from './write-once-policy';
