// SecretStore on Azure Key Vault (DESIGN "Secret version model"): apps read the stable path `name`
// (its newest version); the replacement waits in `name-pending`; promote copies the canaried pending
// version forward as the newest stable version, rollback copies the old value forward again and disables
// the rolled-back version, retirement disables the previous version. Every operation first looks at the
// versions' rekey tags for what an earlier attempt of the same rotation already did, so a retried activity
// never writes twice, and every operation is bounded in time (operation-budget.ts) so that an attempt
// that outlived its activity timeout stops before its retry starts. One module per operation
// (operations/), sharing session.ts. Key values stay inside this folder: results, logs and errors carry
// ids, stages and fingerprints only.
import type { SecretClient } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { storeLabel } from '../../../domain/secret-refs';
import type { SecretStore } from '../../../domain/ports';
import { SILENT_LOGGER, type SecretStoreLogger } from '../backend';
import { currentActivitySignal, OPERATION_DEADLINE_MS, REQUEST_TIMEOUT_MS, SETTLE } from './operation-budget';
import { discardPending } from './operations/discard';
import { history } from './operations/history';
import { promote } from './operations/promote';
import { readCurrent, readPending, resolve } from './operations/read';
import { retirePrevious } from './operations/retire';
import { rollback } from './operations/rollback';
import { stagePending } from './operations/stage';
import type { KeyVaultSession } from './session';
import { VaultFailureTypes } from './vault-errors';

/** @deprecated import it from activities/secrets/backend.ts; kept for old importers. */
export type { SecretStoreLogger } from '../backend';

export interface KeyVaultSecretStoreOptions {
  client: SecretClient;
  vaultUrl: string;
  /** The stable path apps read. */
  secretName: string;
  /** Where the replacement waits before the flip, read by canaries; never the stable name. */
  pendingSecretName: string;
  logger?: SecretStoreLogger;
  /** Key Vault deletes, purges and recovers asynchronously; how long a reused name may stay in conflict. */
  settle?: { attempts: number; intervalMs: number };
  /** Per-operation deadline and per-request timeout (defaults in operation-budget.ts). */
  budget?: { deadlineMs?: number; requestTimeoutMs?: number };
  /** The calling activity's cancellation; defaults to Temporal's activity Context, none outside one. */
  cancellationSignal?: () => AbortSignal | undefined;
}

/** A SecretStore over one credential's stable and pending secrets in one vault. */
export function createKeyVaultSecretStore(opts: KeyVaultSecretStoreOptions): SecretStore {
  const s = keyVaultSession(opts);
  return {
    readCurrent: () => readCurrent(s),
    readPending: (rotationId) => readPending(s, rotationId),
    resolve: (ref) => resolve(s, ref),
    stagePending: (rotationId, value, gatewayKeyId) => stagePending(s, rotationId, value, gatewayKeyId),
    promote: (rotationId, expected) => promote(s, rotationId, expected),
    rollback: (rotationId) => rollback(s, rotationId),
    retirePrevious: (rotationId) => retirePrevious(s, rotationId),
    discardPending: (rotationId) => discardPending(s, rotationId),
    history: () => history(s),
  };
}

/** The session of one credential, its options defaulted; refuses a pending name equal to the stable one. */
export function keyVaultSession(opts: KeyVaultSecretStoreOptions): KeyVaultSession {
  const { secretName: stable, pendingSecretName: pending } = opts;
  const vaultUrl = opts.vaultUrl.replace(/\/+$/, '');
  const store = storeLabel({
    backend: 'azure-key-vault',
    vaultUrl,
    secretName: stable,
    pendingSecretName: pending,
  });
  // Key Vault names are case-insensitive: `Name-Pending` and `name-pending` are one secret. A pending name
  // equal to the stable one would stage the unproven key straight into what production reads.
  if (stable.toLowerCase() === pending.toLowerCase())
    throw ApplicationFailure.create({
      type: VaultFailureTypes.SecretNamesCollide,
      message:
        `the pending secret name ${pending} is the stable secret name ${stable} in ${store} (Key Vault ` +
        `names are case-insensitive): staging would overwrite what production reads; register a distinct ` +
        `pending name (e.g. ${stable}-pending)`,
      nonRetryable: true,
    });
  return {
    client: opts.client,
    store,
    stable,
    pending,
    log: opts.logger ?? SILENT_LOGGER,
    settle: opts.settle ?? SETTLE,
    budget: {
      deadlineMs: opts.budget?.deadlineMs ?? OPERATION_DEADLINE_MS,
      requestTimeoutMs: opts.budget?.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    },
    cancellationSignal: opts.cancellationSignal ?? currentActivitySignal,
  };
}
