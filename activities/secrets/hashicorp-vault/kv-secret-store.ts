// SecretStore on a KV v2 mount of HashiCorp Vault or OpenBao. Apps read `field` of the current version
// of `path`; the replacement waits at `pendingPath`; promote writes the canaried value to `path` as a new
// version (the other keys of the data map copied forward); rollback copies the old value forward again
// and soft-deletes the rolled-back version; retirement soft-deletes (or destroys) the previous version.
// rekey's per-version facts live in the secret's custom_metadata (version-facts.ts). Every operation is
// bounded in time (kv-operation.ts) and looks before it writes (kv-store-core.ts).
// Key values stay inside this module: results, logs and errors carry paths, versions and fingerprints.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import { type SecretVersionRecord } from '../../../domain/secrets';
import { storeLabel } from '../../../domain/secret-refs';
import { fingerprint } from '../../../domain/fingerprint';
import type { SecretStore } from '../../../domain/ports';
import { SILENT_LOGGER, type SecretStoreLogger } from '../backend';
import type { KvClient } from './kv-client';
import { KvFailureTypes } from './kv-errors';
import {
  currentActivitySignal,
  KV_OPERATION_DEADLINE_MS,
  startKvOperation,
  type KvOperation,
} from './kv-operation';
import { dropPending, stagePending } from './kv-pending';
import { promote } from './kv-promote';
import { retirePrevious, rollback } from './kv-rollback';
import { createKvStoreCore, isoTime, type KvLocation, type PathState } from './kv-store-core';
import { factsAsTags, rotationTag, userMetadata } from './version-facts';

export interface KvSecretStoreOptions {
  location: KvLocation;
  /** The client of the location's address, namespace and mount. */
  client: KvClient;
  logger?: SecretStoreLogger;
  /** Per-operation deadline (kv-operation.ts). */
  deadlineMs?: number;
  /** The calling activity's cancellation; defaults to Temporal's activity Context, none outside one. */
  cancellationSignal?: () => AbortSignal | undefined;
}

/** A SecretStore over one credential's stable and pending paths on one KV v2 mount. */
export function createKvSecretStore(opts: KvSecretStoreOptions): SecretStore {
  const { location } = opts;
  const store = storeLabel(location);
  const { path: stable, pendingPath: pending } = location;
  // A pending path equal to the stable one would stage the unproven key straight into what apps read.
  if (stable === pending)
    throw ApplicationFailure.create({
      type: KvFailureTypes.SecretNamesCollide,
      message: `the pending path ${pending} is the stable path in ${store}: staging would overwrite what apps read; register a distinct pending_path (e.g. ${stable}-pending)`,
      nonRetryable: true,
    });
  const core = createKvStoreCore({ location, store, client: opts.client, log: opts.logger ?? SILENT_LOGGER });
  const deadlineMs = opts.deadlineMs ?? KV_OPERATION_DEADLINE_MS;
  const cancellationSignal = opts.cancellationSignal ?? currentActivitySignal;

  function begin(): KvOperation {
    const cancellation = cancellationSignal();
    return startKvOperation({ deadlineMs, ...(cancellation ? { cancellation } : {}) });
  }

  function records(state: PathState): SecretVersionRecord[] {
    const users = userMetadata(state.meta?.customMetadata ?? {});
    return [...(state.meta?.versions.values() ?? [])].map((m) => {
      const facts = state.facts.get(m.version) ?? {};
      const createdAt = isoTime(m.createdTime);
      const deletedAt = core.isLive(m) ? undefined : isoTime(m.deletionTime);
      return {
        store,
        name: state.path,
        version: String(m.version),
        enabled: core.isLive(m),
        ...(createdAt ? { createdAt } : {}),
        ...(deletedAt ? { updatedAt: deletedAt } : {}),
        ...(facts.fingerprint ? { fingerprint: facts.fingerprint } : {}),
        ...(facts.stage ? { stage: facts.stage } : {}),
        ...(facts.rotation ? { rotationId: facts.rotation } : {}),
        ...(facts.gatewayKey ? { gatewayKeyId: facts.gatewayKey } : {}),
        // custom_metadata is the secret's, not the version's: the platform team's keys show on every version.
        tags: { ...users, ...factsAsTags(facts), ...(m.destroyed ? { 'kv-destroyed': 'true' } : {}) },
      };
    });
  }

  return {
    async readCurrent() {
      const op = begin();
      const r = await core.readOrFail(op, stable, undefined, 'read the current version of');
      const fp = fingerprint(r.value);
      return core.ref(
        stable,
        r.version,
        fp,
        r.meta,
        r.facts?.fingerprint === fp ? r.facts.gatewayKey : undefined,
      );
    },

    async readPending(rotationId) {
      const op = begin();
      const r = await core.read(op, pending, undefined, 'read the pending secret');
      if (typeof r === 'string') return undefined;
      const fp = fingerprint(r.value);
      if (r.facts?.rotation !== rotationTag(rotationId) || r.facts.fingerprint !== fp) return undefined;
      return core.ref(pending, r.version, fp, r.meta, r.facts.gatewayKey);
    },

    async resolve(ref) {
      if ((ref.name !== stable && ref.name !== pending) || !/^\d+$/.test(ref.version))
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `version ${ref.version} of ${ref.name} is not a version of ${stable} or ${pending} in ${store}`,
          nonRetryable: true,
        });
      const r = await core.readOrFail(
        begin(),
        ref.name,
        Number(ref.version),
        `read version ${ref.version} of`,
      );
      return r.value;
    },

    stagePending: (rotationId, value, gatewayKeyId) =>
      stagePending(core, begin(), rotationId, value, gatewayKeyId),
    promote: (rotationId, expected) => promote(core, begin(), rotationId, expected),
    rollback: (rotationId) => rollback(core, begin(), rotationId),
    retirePrevious: (rotationId) => retirePrevious(core, begin(), rotationId),
    discardPending: (rotationId) => dropPending(core, begin(), rotationId, 'discard the pending value of'),

    async history() {
      const op = begin();
      const all = [
        ...records(await core.snapshot(op, stable, 'list the versions of')),
        ...records(await core.snapshot(op, pending, 'list the versions of')),
      ];
      return all.sort(
        (a, b) =>
          (a.createdAt ?? '').localeCompare(b.createdAt ?? '') ||
          a.name.localeCompare(b.name) ||
          Number(a.version) - Number(b.version),
      );
    },
  };
}
