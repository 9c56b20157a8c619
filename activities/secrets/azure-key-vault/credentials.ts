// How rekey authenticates to Key Vault: DefaultAzureCredential (managed identity, workload identity,
// Azure CLI, …) in every real environment. Emulator mode (a local emulator: the reference Key Vault, or Lowkey Vault in the compose demo) swaps in
// a credential that hands out a dummy token and turns off the SDK's check that the challenge's resource
// matches the vault's domain — and is refused for any real Azure vault host.
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { ApplicationFailure } from '@temporalio/common';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import {
  MAX_IN_PROCESS_RETRY_AFTER_MS,
  REQUEST_TIMEOUT_MS,
  requestTimeoutPolicy,
  SDK_RETRY,
} from './operation-budget';
import { retryAfterCapPolicy } from './retry-after-cap-policy';
import { VaultFailureTypes } from './vault-errors';
import { writeOncePolicy } from './write-once-policy';

/** DNS suffixes of Key Vault and Managed HSM in Azure's public and sovereign clouds. */
export const AZURE_VAULT_SUFFIXES = [
  '.vault.azure.net',
  '.vault.azure.cn',
  '.vault.usgovcloudapi.net',
  '.vault.microsoftazure.de',
  '.managedhsm.azure.net',
  '.managedhsm.azure.cn',
  '.managedhsm.usgovcloudapi.net',
] as const;

/** A credential and the client option that goes with it. */
export interface VaultCredential {
  credential: TokenCredential;
  /** Only in emulator mode: emulators cannot answer the challenge with a *.vault.azure.net resource. */
  disableChallengeResourceVerification: boolean;
  emulator: boolean;
}

// Emulators accept any bearer token; this one never leaves the machine.
const emulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'rekey-emulator-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** True when the URL's host is a real Azure Key Vault or Managed HSM host. */
export function isAzureVaultHost(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname.toLowerCase().replace(/\.$/, '');
  return AZURE_VAULT_SUFFIXES.some((suffix) => host.endsWith(suffix) || `.${host}` === suffix);
}

/** DefaultAzureCredential, or in emulator mode a no-op credential (refused for real Azure vault hosts). */
export function keyVaultCredential(vaultUrl: string, opts: { emulator: boolean }): VaultCredential {
  if (!opts.emulator)
    return {
      credential: new DefaultAzureCredential(),
      disableChallengeResourceVerification: false,
      emulator: false,
    };
  if (isAzureVaultHost(vaultUrl)) {
    // Non-retryable: inside an activity, retrying a configuration mistake only delays the rotation.
    throw ApplicationFailure.create({
      type: VaultFailureTypes.EmulatorModeRefused,
      message:
        `emulator mode is refused for ${new URL(vaultUrl).host}: it is a real Azure Key Vault host, which needs ` +
        `a real credential and the challenge resource check (turn emulator mode off)`,
      nonRetryable: true,
    });
  }
  return { credential: emulatorCredential, disableChallengeResourceVerification: true, emulator: true };
}

/** Options of createSecretClient. */
export interface SecretClientFactoryOptions {
  /** A local emulator (the reference Key Vault): no-op credential, no challenge resource check. */
  emulator?: boolean;
  /** Overrides the credential keyVaultCredential would choose (emulator mode still refuses Azure hosts). */
  credential?: TokenCredential;
  /** The SDK's retries of connection failures, 429 (Retry-After) and 5xx within one activity attempt. */
  retry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** The longest Retry-After waited in-process (operation-budget.ts); longer ones end the call. */
  maxInProcessRetryAfterMs?: number;
}

/** A SecretClient for one vault, with rekey's retry settings and the write-once guard on Set Secret. */
export function createSecretClient(vaultUrl: string, opts: SecretClientFactoryOptions = {}): SecretClient {
  const emulator = opts.emulator ?? false;
  // Emulator mode is checked even with an injected credential; a real one is only built when needed.
  const chosen = opts.credential && !emulator ? undefined : keyVaultCredential(vaultUrl, { emulator });
  const credential = opts.credential ?? chosen?.credential;
  if (!credential) throw new Error('no credential for Key Vault');
  const options: SecretClientOptions = {
    // Connection refused while a vault restarts is retried here for ~8–15 s; longer outages are the
    // activity retry policy's (workflows/activity-options.ts vaultOptions). The budget these fit into, and
    // the per-request timeout and deadline every call carries, are in operation-budget.ts.
    retryOptions: { ...SDK_RETRY, ...opts.retry },
    additionalPolicies: [
      { policy: requestTimeoutPolicy(REQUEST_TIMEOUT_MS), position: 'perCall' },
      { policy: writeOncePolicy(), position: 'perRetry' },
      {
        policy: retryAfterCapPolicy(opts.maxInProcessRetryAfterMs ?? MAX_IN_PROCESS_RETRY_AFTER_MS),
        position: 'perRetry',
      },
    ],
    ...(chosen?.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
  };
  return new SecretClient(vaultUrl, credential, options);
}
