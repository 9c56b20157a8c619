export { buildKeyVault, type KeyVaultOptions, type ReferenceKeyVault } from './app';
export { challengeHeader, EMULATOR_TENANT_ID } from './challenge-auth';
export { KeyVaultError } from './errors';
export { KeyVaultState, type KeyVaultStateOptions, type StoredSecret, type StoredVersion } from './state';
