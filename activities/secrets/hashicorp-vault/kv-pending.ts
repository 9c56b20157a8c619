// The pending path: where the replacement key waits before the flip, at a path of its own. Apps read
// only the stable path; a new version there would be read by every app at once, before any canary.
import type { SecretVersionRef } from '../../../domain/secrets';
import { fingerprint } from '../../../domain/fingerprint';
import type { KvOperation } from './kv-operation';
import { KV_WRITE_TRIES } from './kv-operation';
import type { KvStoreCore } from './kv-store-core';
import { rotationTag, type VersionFacts } from './version-facts';

/** Writes the replacement as a new version of the pending path, or finds the one this rotation wrote. */
export async function stagePending(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  value: string,
  gatewayKeyId: string | undefined,
): Promise<SecretVersionRef> {
  const { pendingPath: pending, field } = core.location;
  const rot = rotationTag(rotationId);
  const fp = fingerprint(value);
  const operation = 'stage the replacement key as';
  for (let t = 1; t <= KV_WRITE_TRIES; t++) {
    const state = await core.snapshot(op, pending, 'read the pending secret');
    const current = state.meta?.currentVersion ?? 0;
    const meta = state.meta?.versions.get(current);
    // An earlier attempt's write (also one whose answer was lost) is found by its entry and fingerprint.
    const facts = current > 0 && core.isLive(meta) ? await core.verified(op, state, current) : undefined;
    if (facts?.rotation === rot && facts.fingerprint === fp) {
      core.log.info(
        { store: core.store, path: pending, rotationId, version: current, fingerprint: fp },
        'pending version already staged by this rotation; reused',
      );
      return core.ref(pending, current, fp, meta, facts.gatewayKey);
    }
    const written = await core.writeVersion(
      op,
      state,
      { [field]: value },
      {
        rotation: rot,
        stage: 'pending',
        fingerprint: fp,
        ...(gatewayKeyId ? { gatewayKey: gatewayKeyId } : {}),
      } satisfies VersionFacts,
      operation,
    );
    if (written === 'conflict') continue;
    core.log.info(
      { store: core.store, path: pending, rotationId, version: written.version, fingerprint: fp },
      'staged the replacement key as the pending version',
    );
    return core.ref(pending, written.version, fp, { createdTime: written.createdTime }, gatewayKeyId);
  }
  throw core.conflict(pending, operation);
}

/**
 * Destroys the pending versions this rotation wrote (their value is gone for good: after a promote it
 * lives on in the stable path, after a discard the key is being revoked). Versions of anyone else are
 * left alone; nothing to destroy is success.
 */
export async function dropPending(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  operation: string,
): Promise<void> {
  const pending = core.location.pendingPath;
  const rot = rotationTag(rotationId);
  const state = await core.snapshot(op, pending, 'read the pending secret');
  if (!state.meta) return;
  const ours: number[] = [];
  for (const meta of state.meta.versions.values()) {
    if (meta.destroyed || state.facts.get(meta.version)?.rotation !== rot) continue;
    // A live version is checked against its entry first: a stale entry must not destroy another's key.
    if ((await core.verified(op, state, meta.version))?.rotation === rot) ours.push(meta.version);
  }
  const current = state.meta.currentVersion;
  if (core.isLive(state.meta.versions.get(current)) && !ours.includes(current))
    core.log.warn(
      {
        store: core.store,
        path: pending,
        rotationId,
        version: current,
        owner: state.facts.get(current)?.rotation ?? null,
      },
      'the current pending version is not this rotation’s; left in place',
    );
  if (ours.length === 0) return;
  await core.client.removeVersions(op, pending, ours, 'destroy', operation);
  core.log.info(
    { store: core.store, path: pending, rotationId, versions: ours },
    'destroyed the pending versions of this rotation',
  );
}
