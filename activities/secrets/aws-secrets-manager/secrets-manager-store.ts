// SecretStore on AWS Secrets Manager, in AWS's own rotation model: apps (and AWS's caching clients) read the
// version labelled AWSCURRENT of one secret; the replacement is a new version of the same secret labelled
// AWSPENDING, written by PutSecretValue with a ClientRequestToken derived from the rotation id and the key's
// fingerprint; promote moves AWSCURRENT onto the canaried version (AWS moves AWSPREVIOUS onto the one it
// left) and removes AWSPENDING; rollback moves AWSCURRENT back and strips the rolled-back version of its
// labels; retirement strips the previous version of AWSPREVIOUS. A version without labels is what the
// port calls disabled: AWS deprecates it and deletes it in time, and rekey never uses its value again.
// Per-version facts (stage, rotation, fingerprint, gateway key id, replaced version) live in the secret's
// tags (version-facts.ts). Every operation looks first at labels and facts for what an earlier attempt of
// the same rotation did, so a retried activity never writes twice, and is bounded in time
// (operation-budget.ts). One module per operation (operations/), sharing session.ts. Key values stay
// inside this folder: results, logs and errors carry ids only.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretLocationOf } from '../../../domain/secrets';
import { storeLabel } from '../../../domain/secret-refs';
import type { SecretStore } from '../../../domain/ports';
import { SILENT_LOGGER, type SecretStoreLogger } from '../backend';
import { currentActivitySignal, OPERATION_DEADLINE_MS } from './operation-budget';
import { discardPending } from './operations/discard';
import { history } from './operations/history';
import { promote } from './operations/promote';
import { readCurrent, readPending, resolve } from './operations/read';
import { retirePrevious } from './operations/retire';
import { rollback } from './operations/rollback';
import { stagePending } from './operations/stage';
import { secretIo } from './secret-io';
import type { SecretsManagerSession } from './session';

export interface SecretsManagerStoreOptions {
  client: SecretsManagerClient;
  location: SecretLocationOf<'aws-secrets-manager'>;
  logger?: SecretStoreLogger;
  /** One operation's deadline (default OPERATION_DEADLINE_MS). */
  deadlineMs?: number;
  /** The calling activity's cancellation; defaults to Temporal's activity Context, none outside one. */
  cancellationSignal?: () => AbortSignal | undefined;
}

/** A SecretStore over one Secrets Manager secret: AWSCURRENT is what apps read, AWSPENDING the replacement. */
export function createSecretsManagerStore(opts: SecretsManagerStoreOptions): SecretStore {
  const s = secretsManagerSession(opts);
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

/** The session of one secret, its options defaulted. */
export function secretsManagerSession(opts: SecretsManagerStoreOptions): SecretsManagerSession {
  const secretId = opts.location.secretId;
  const store = storeLabel(opts.location);
  const log = opts.logger ?? SILENT_LOGGER;
  return {
    secretId,
    store,
    log,
    io: secretIo({ client: opts.client, secretId, store, log }),
    where: { store, secret: secretId },
    deadlineMs: opts.deadlineMs ?? OPERATION_DEADLINE_MS,
    cancellationSignal: opts.cancellationSignal ?? currentActivitySignal,
  };
}
