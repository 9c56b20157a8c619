// After the flip: roll back writes the old value again as a new version (copy forward, so apps read it
// at once) and then soft-deletes the rolled-back version; retiring soft-deletes the previous version (an
// operator can still undelete it), or destroys it where the location says `destroy_retired`. Both find
// what an earlier attempt did by this rotation's entries, so a retry never writes twice.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { SecretVersionRef } from '../../../domain/secrets';
import { fingerprint } from '../../../domain/fingerprint';
import { KV_WRITE_TRIES, type KvOperation } from './kv-operation';
import { promotedBy } from './kv-promote';
import type { KvStoreCore } from './kv-store-core';
import { rotationTag, type VersionFacts } from './version-facts';

/** Restores the value the stable path had before this rotation's promote; nothing promoted is {}. */
export async function rollback(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
): Promise<{ restored?: SecretVersionRef; disabled?: SecretVersionRef }> {
  const { path: stable, mount, field } = core.location;
  const rot = rotationTag(rotationId);
  const operation = 'restore the previous value into';
  for (let t = 1; t <= KV_WRITE_TRIES; t++) {
    const state = await core.snapshot(op, stable, 'read the versions of');
    const promoted = await promotedBy(core, op, state, rotationId);
    // Nothing was promoted: the stable path still holds the old key (pre-flip rollback discards pending).
    if (promoted === undefined) return {};
    const promotedFacts = state.facts.get(promoted) ?? {};
    let restored: SecretVersionRef;
    const copy = await core.newestWith(op, state, (f) => f.rotation === rot && f.rollsBack === promoted);
    if (copy !== undefined) {
      const f = state.facts.get(copy) ?? {};
      restored = core.ref(stable, copy, f.fingerprint!, state.meta?.versions.get(copy), f.gatewayKey);
    } else {
      const previous = promotedFacts.replaces;
      if (previous === undefined)
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `version ${promoted} of ${stable} in ${core.store} records no version it replaced: nothing to roll back to`,
          nonRetryable: true,
        });
      const old = await core.read(op, stable, previous, `read the previous version ${previous} of`);
      if (old === 'disabled')
        throw ApplicationFailure.create({
          type: FailureTypes.SecretDisabled,
          message:
            `version ${previous} of ${stable} in ${core.store}, the value before rotation ${rotationId}, is deleted ` +
            `(retired?); undelete it (bao kv undelete -mount=${mount} -versions=${previous} ${stable}) to roll back`,
          nonRetryable: true,
        });
      if (old === 'missing')
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `version ${previous} of ${stable} in ${core.store}, the value before rotation ${rotationId}, is gone (destroyed, or pruned by max_versions)`,
          nonRetryable: true,
        });
      const current = await core.read(op, stable, undefined, 'read the current version of');
      const currentVersion = state.meta?.currentVersion ?? 0;
      if (typeof current !== 'string' && current.version !== currentVersion) continue; // written meanwhile
      const fp = fingerprint(old.value);
      const oldFacts = state.facts.get(previous);
      const gatewayKey = oldFacts?.fingerprint === fp ? oldFacts.gatewayKey : undefined;
      const copyFacts: VersionFacts = {
        rotation: rot,
        stage: 'current',
        fingerprint: fp,
        rollsBack: promoted,
        restores: previous,
        ...(gatewayKey ? { gatewayKey } : {}),
      };
      core.assertFits(
        state,
        new Map([
          [currentVersion + 1, copyFacts],
          [promoted, { ...promotedFacts, stage: 'rolled-back' }],
        ]),
        'roll back',
      );
      // Copy forward first, delete second: apps reading the current version never meet a deleted one.
      const base = typeof current === 'string' ? old.data : current.data;
      const written = await core.writeVersion(
        op,
        state,
        { ...base, [field]: old.value },
        copyFacts,
        operation,
        [promoted, previous],
      );
      if (written === 'conflict') continue;
      restored = core.ref(stable, written.version, fp, { createdTime: written.createdTime }, gatewayKey);
    }
    const promotedMeta = state.meta?.versions.get(promoted);
    if (core.isLive(promotedMeta))
      await core.client.removeVersions(op, stable, [promoted], 'delete', 'delete the rolled-back version of');
    if (promotedFacts.stage !== 'rolled-back')
      await core.writeFacts(
        op,
        state,
        new Map([[promoted, { ...promotedFacts, stage: 'rolled-back' }]]),
        'mark the rolled-back version of',
        [Number(restored.version)],
      );
    core.log.info(
      { store: core.store, path: stable, rotationId, restored: restored.version, disabled: promoted },
      'rolled the stable path back: old value copied forward, rolled-back version deleted',
    );
    const disabled = core.ref(
      stable,
      promoted,
      promotedFacts.fingerprint!,
      promotedMeta,
      promotedFacts.gatewayKey,
    );
    return { restored, disabled: { ...disabled, enabled: false } };
  }
  throw core.conflict(stable, operation);
}

/** Soft-deletes (or destroys) the version this rotation's promote replaced; undefined when there is none. */
export async function retirePrevious(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
): Promise<SecretVersionRef | undefined> {
  const stable = core.location.path;
  const how = core.location.destroyRetired ? 'destroy' : 'delete';
  const state = await core.snapshot(op, stable, 'read the versions of');
  const promoted = await promotedBy(core, op, state, rotationId);
  const promotedFacts = promoted === undefined ? undefined : state.facts.get(promoted);
  if (promoted === undefined || promotedFacts?.stage === 'rolled-back') return undefined;
  const previous = promotedFacts?.replaces;
  const meta = previous === undefined ? undefined : state.meta?.versions.get(previous);
  if (previous === undefined || !meta) {
    core.log.info(
      { store: core.store, path: stable, rotationId, version: previous ?? null },
      'the previous version is gone already; nothing to retire',
    );
    return undefined;
  }
  let facts = state.facts.get(previous) ?? {};
  if (!facts.fingerprint && core.isLive(meta)) {
    const r = await core.readOrFail(op, stable, previous, `read the previous version ${previous} of`);
    facts = { ...facts, fingerprint: fingerprint(r.value) };
  }
  if (how === 'destroy' ? !meta.destroyed : core.isLive(meta))
    await core.client.removeVersions(op, stable, [previous], how, `${how} the previous version of`);
  if (facts.stage !== 'retired' || facts.replacedBy !== rotationTag(rotationId)) {
    facts = { ...facts, stage: 'retired', replacedBy: rotationTag(rotationId) };
    await core.writeFacts(op, state, new Map([[previous, facts]]), 'mark the retired version of', [promoted]);
  }
  core.log.info(
    { store: core.store, path: stable, rotationId, version: previous, how },
    how === 'destroy'
      ? 'retired (destroyed) the previous version'
      : 'retired (soft-deleted) the previous version',
  );
  if (!facts.fingerprint)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${previous} of ${stable} in ${core.store} is retired but has no rekey fingerprint`,
      nonRetryable: true,
    });
  return { ...core.ref(stable, previous, facts.fingerprint, meta, facts.gatewayKey), enabled: false };
}
