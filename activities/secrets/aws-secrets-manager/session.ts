// What every Secrets Manager store operation shares: the secret's id and store label, the calls through
// one client (secret-io.ts), the per-operation clock (operation-budget.ts), and how refs, refusals and
// fact tag plans are built. An operation starts with begin(); every call it makes carries its signal.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { Fingerprint, SecretVersionRef } from '../../../domain/secrets';
import type { SecretStoreLogger } from '../backend';
import { startOperation, type AwsOperation } from './operation-budget';
import type { SecretIo, SecretView, VersionView } from './secret-io';
import { planFactWrites } from './tag-plan';
import type { VersionFacts } from './version-facts';

/** One secret as the operations see it: its id, its label, its calls, and how long they may take. */
export interface SecretsManagerSession {
  secretId: string;
  /** storeLabel() of the location, in every ref, record, log line and message. */
  store: string;
  log: SecretStoreLogger;
  io: SecretIo;
  /** The fields every log line starts with. */
  where: { store: string; secret: string };
  deadlineMs: number;
  /** The calling activity's cancellation, read when an operation begins. */
  cancellationSignal: () => AbortSignal | undefined;
}

/** Starts one operation's clock: every call of the operation gets its signal. */
export function begin(s: SecretsManagerSession): AwsOperation {
  const cancellation = s.cancellationSignal();
  return startOperation({ deadlineMs: s.deadlineMs, ...(cancellation ? { cancellation } : {}) });
}

/** A ref; `createdAt` only from a value read (moto's version list reports the time of the call). */
export function ref(
  s: SecretsManagerSession,
  version: string,
  fp: Fingerprint,
  labels: string[],
  createdAt: string | undefined,
  facts: VersionFacts,
): SecretVersionRef {
  return {
    store: s.store,
    name: s.secretId,
    version,
    fingerprint: fp,
    enabled: labels.length > 0,
    ...(createdAt ? { createdAt } : {}),
    ...(facts.gatewayKeyId ? { gatewayKeyId: facts.gatewayKeyId } : {}),
  };
}

/** A non-retryable failure of this store. */
export function fail(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** StagedKeyMismatch: the version promote was asked for is not the one the canary proved. */
export function mismatch(
  s: SecretsManagerSession,
  rotationId: string,
  version: string,
  problems: string[],
): ApplicationFailure {
  return fail(
    FailureTypes.StagedKeyMismatch,
    `refusing to promote version ${version} of ${s.secretId} in ${s.store} for rotation ${rotationId}: ${problems.join('; ')}`,
  );
}

/** Plans the fact writes of an operation (throws on AWS's tag limits before anything is written). */
export function plan(
  s: SecretsManagerSession,
  view: SecretView,
  operation: string,
  changes: Array<[string, VersionFacts]>,
) {
  return planFactWrites({
    secretId: s.secretId,
    store: s.store,
    operation,
    tags: view.tags,
    versions: view.versions,
    changes: new Map(changes),
  });
}

/** Removes every label of a version (after AWSCURRENT has left it): rolled back or retired. */
export async function strip(s: SecretsManagerSession, op: AwsOperation, versionId: string): Promise<void> {
  const { labels } = await s.io.describe(op);
  for (const label of labels.get(versionId) ?? []) await s.io.moveLabel(op, label, undefined, versionId);
}

/** The version this rotation's promote made AWSCURRENT (it records the version it replaced). */
export function promotedBy(view: SecretView, rot: string): VersionView | undefined {
  return view.versions.find((v) => v.facts.rotation === rot && v.facts.replaces !== undefined);
}
