export { buildKeyVault, type KeyVaultOptions, type ReferenceKeyVault } from './app';
export { challengeHeader, EMULATOR_TENANT_ID } from './challenge-auth';
export { assertLoopbackHost, isLoopbackHost, keyVaultOptionsFromEnv } from './env';
export { KeyVaultError } from './errors';
export { InjectedFault, KeyVaultFaults, parseFaults, type FaultSpec } from './faults';
export {
  KeyVaultState,
  type KeyVaultStateOptions,
  type PendingTransition,
  type StoredSecret,
  type StoredVersion,
} from './state';
