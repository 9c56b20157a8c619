export { connectHashicorpVault, hashicorpVaultBackend, type HashicorpVaultSessionOptions } from './backend';
export { createKvClient, type KvClient, type KvClientOptions } from './kv-client';
export { KvFailureTypes, kvFailure, type KvContext } from './kv-errors';
export {
  KV_BACKOFF_MS,
  KV_MAX_IN_PROCESS_RETRY_AFTER_MS,
  KV_OPERATION_DEADLINE_MS,
  KV_REQUEST_ATTEMPTS,
  KV_REQUEST_TIMEOUT_MS,
  KV_WRITE_TRIES,
} from './kv-operation';
export { createKvSecretStore, type KvSecretStoreOptions } from './kv-secret-store';
export { tokenSourceFrom, type TokenSource } from './token-source';
export {
  decodeFacts,
  encodeFacts,
  factsKey,
  KV_METADATA_LIMITS,
  rotationTag as kvRotationTag,
  type VersionFacts,
} from './version-facts';
