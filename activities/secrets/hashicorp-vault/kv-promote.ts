// Promote: the canaried pending version (that version id, that fingerprint, else StagedKeyMismatch) is
// written to the stable path as a new version — the other keys of the data map copied forward — so the
// version it replaces becomes "previous". Idempotent per rotation: a retry finds the version this
// rotation promoted by its entry and finishes what is left (mark the previous, destroy the pending).
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { Fingerprint, SecretVersionRef } from '../../../domain/secrets';
import { fingerprint } from '../../../domain/fingerprint';
import type { KvVersionMetadata } from './kv-client';
import { KvFailureTypes } from './kv-errors';
import { KV_WRITE_TRIES, type KvOperation } from './kv-operation';
import { dropPending } from './kv-pending';
import type { KvStoreCore, PathState, ReadVersion } from './kv-store-core';
import { rotationTag, type VersionFacts } from './version-facts';

type Expected = { version: string; fingerprint: Fingerprint };
type Promoted = { current: SecretVersionRef; previous: SecretVersionRef };

function mismatch(
  core: KvStoreCore,
  rotationId: string,
  version: string,
  problems: string[],
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.StagedKeyMismatch,
    message:
      `refusing to promote pending version ${version} of ${core.location.pendingPath} in ${core.store} for ` +
      `rotation ${rotationId}: ${problems.join('; ')}`,
    nonRetryable: true,
  });
}

/** The version of the stable path this rotation's promote wrote (not a rollback copy). */
export function promotedBy(core: KvStoreCore, op: KvOperation, state: PathState, rotationId: string) {
  const rot = rotationTag(rotationId);
  return core.newestWith(
    op,
    state,
    (f) => f.rotation === rot && f.promotes !== undefined && f.rollsBack === undefined,
  );
}

const PROMOTE = 'promote the pending value into';

/** Makes the canaried pending version the stable path's current version. */
export async function promote(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  expected: Expected,
): Promise<Promoted> {
  const stable = core.location.path;
  if (!/^\d+$/.test(expected.version))
    throw mismatch(core, rotationId, expected.version, ['it is not a KV version number']);
  const pendingVersion = Number(expected.version);
  for (let t = 1; t <= KV_WRITE_TRIES; t++) {
    const state = await core.snapshot(op, stable, 'read the versions of');
    const done = await promotedBy(core, op, state, rotationId);
    if (done !== undefined) return finishPromote(core, op, rotationId, state, done, expected);
    const staged = await canariedPending(core, op, rotationId, expected, pendingVersion);
    await warnOfNewerPending(core, op, rotationId, pendingVersion);
    const replaced = await core.readOrFail(op, stable, undefined, 'read the current version of');
    if (replaced.version !== state.meta?.currentVersion) continue; // written meanwhile: look again
    const promoted = await writePromotion(core, op, state, rotationId, pendingVersion, staged, replaced);
    if (promoted !== 'conflict') return promoted;
  }
  throw core.conflict(stable, PROMOTE);
}

/** The pending version the canary proved, by number, once its entry and value match what it proved. */
async function canariedPending(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  expected: Expected,
  pendingVersion: number,
): Promise<ReadVersion & { fp: Fingerprint }> {
  const pending = core.location.pendingPath;
  const rot = rotationTag(rotationId);
  // The version the canary proved, by number: a pending version written after the canary is never promoted.
  const staged = await core.read(op, pending, pendingVersion, `read pending version ${pendingVersion} of`);
  if (typeof staged === 'string')
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `pending version ${pendingVersion} of ${pending} in ${core.store} (rotation ${rotationId}) is ${staged === 'missing' ? 'gone' : 'deleted or destroyed'}; nothing was promoted`,
      nonRetryable: true,
    });
  const fp = fingerprint(staged.value);
  const problems: string[] = [];
  if (staged.facts?.rotation !== rot)
    problems.push(`it is recorded for rotation ${staged.facts?.rotation ?? '(none)'}, not this one`);
  if (staged.facts?.fingerprint !== expected.fingerprint)
    problems.push(
      `its recorded fingerprint is ${staged.facts?.fingerprint ?? '(none)'}, the canary proved ${expected.fingerprint}`,
    );
  if (fp !== expected.fingerprint)
    problems.push(`its value's fingerprint is ${fp}, the canary proved ${expected.fingerprint}`);
  if (problems.length > 0) throw mismatch(core, rotationId, expected.version, problems);
  return { ...staged, fp };
}

/** Says so when live pending versions newer than the canaried one exist: they are not promoted. */
async function warnOfNewerPending(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  pendingVersion: number,
): Promise<void> {
  const pending = core.location.pendingPath;
  const later = (await core.snapshot(op, pending, 'read the versions of')).meta?.versions;
  const newer = [...(later?.values() ?? [])].filter((m) => m.version > pendingVersion && core.isLive(m));
  if (newer.length > 0)
    core.log.warn(
      {
        store: core.store,
        path: pending,
        rotationId,
        promoting: pendingVersion,
        notPromoted: newer.map((m) => m.version),
      },
      'other pending versions exist (written after the canaried one?); only the canaried version is promoted',
    );
}

/** The entries of the replaced version (now previous) and of the version promote writes. */
function promotionFacts(
  rot: string,
  pendingVersion: number,
  staged: ReadVersion & { fp: Fingerprint },
  replaced: ReadVersion,
): { previousFacts: VersionFacts; currentFacts: VersionFacts; oldFp: Fingerprint } {
  const oldFp = fingerprint(replaced.value);
  const known = replaced.facts?.fingerprint === oldFp ? replaced.facts : {};
  const previousFacts: VersionFacts = { ...known, stage: 'previous', replacedBy: rot, fingerprint: oldFp };
  const gatewayKey = staged.facts?.gatewayKey;
  const currentFacts: VersionFacts = {
    rotation: rot,
    stage: 'current',
    fingerprint: staged.fp,
    replaces: replaced.version,
    promotes: pendingVersion,
    ...(gatewayKey ? { gatewayKey } : {}),
  };
  return { previousFacts, currentFacts, oldFp };
}

/** Writes the promoted version over `replaced` (check-and-set), marks the replaced one, drops pending. */
async function writePromotion(
  core: KvStoreCore,
  op: KvOperation,
  state: PathState,
  rotationId: string,
  pendingVersion: number,
  staged: ReadVersion & { fp: Fingerprint },
  replaced: ReadVersion,
): Promise<Promoted | 'conflict'> {
  const { path: stable, field } = core.location;
  const rot = rotationTag(rotationId);
  const { previousFacts, currentFacts, oldFp } = promotionFacts(rot, pendingVersion, staged, replaced);
  // Both entries are checked against KV's limits before the flip: a 400 after it would leave it half done.
  const entries = new Map([
    [replaced.version, previousFacts],
    [replaced.version + 1, currentFacts],
  ]);
  core.assertFits(state, entries, 'promote into');
  const data = { ...replaced.data, [field]: staged.value };
  const written = await core.writeVersion(op, state, data, currentFacts, PROMOTE, [replaced.version]);
  if (written === 'conflict') return written;
  const marks = new Map([[replaced.version, previousFacts]]);
  await core.writeFacts(op, state, marks, 'mark the replaced version of', [written.version]);
  core.log.info(
    {
      store: core.store,
      path: stable,
      rotationId,
      promoted: pendingVersion,
      current: written.version,
      previous: replaced.version,
      fingerprint: staged.fp,
    },
    'promoted the canaried pending version to the current version of the stable path',
  );
  await dropPending(core, op, rotationId, 'destroy the promoted pending value of');
  const gatewayKey = staged.facts?.gatewayKey;
  return {
    current: core.ref(stable, written.version, staged.fp, { createdTime: written.createdTime }, gatewayKey),
    previous: core.ref(stable, replaced.version, oldFp, replaced.meta, previousFacts.gatewayKey),
  };
}

/** promote after an earlier attempt already wrote the new version: check it is the canaried one, finish. */
async function finishPromote(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  state: PathState,
  promoted: number,
  expected: Expected,
): Promise<Promoted> {
  const stable = core.location.path;
  const facts = state.facts.get(promoted) ?? {};
  if (facts.stage === 'rolled-back')
    throw ApplicationFailure.create({
      type: KvFailureTypes.RotationRolledBack,
      message: `rotation ${rotationId} already rolled ${stable} back in ${core.store} (version ${promoted} is deleted); promote refused`,
      nonRetryable: true,
    });
  const problems: string[] = [];
  if (String(facts.promotes) !== expected.version)
    problems.push(`this rotation already promoted pending version ${facts.promotes} (as ${promoted})`);
  if (facts.fingerprint !== expected.fingerprint)
    problems.push(
      `the version it already promoted (${promoted}) has fingerprint ${facts.fingerprint ?? '(none)'}, the canary proved ${expected.fingerprint}`,
    );
  if (problems.length > 0) throw mismatch(core, rotationId, expected.version, problems);
  const previous = facts.replaces ?? 0;
  const previousMeta = state.meta?.versions.get(previous);
  if (!previousMeta)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${previous}, the one ${stable} had before rotation ${rotationId}, is gone from ${core.store} (max_versions?)`,
      nonRetryable: true,
    });
  const previousFacts = await markedPrevious(core, op, rotationId, state, promoted, previous, previousMeta);
  await dropPending(core, op, rotationId, 'destroy the promoted pending value of');
  core.log.info(
    { store: core.store, path: stable, rotationId, current: promoted, previous },
    'promote already done by an earlier attempt; nothing written',
  );
  return {
    current: core.ref(
      stable,
      promoted,
      expected.fingerprint,
      state.meta?.versions.get(promoted),
      facts.gatewayKey,
    ),
    previous: core.ref(stable, previous, previousFacts.fingerprint!, previousMeta, previousFacts.gatewayKey),
  };
}

/** The replaced version's entry, written now if the earlier attempt did not get to mark it previous. */
async function markedPrevious(
  core: KvStoreCore,
  op: KvOperation,
  rotationId: string,
  state: PathState,
  promoted: number,
  previous: number,
  previousMeta: KvVersionMetadata,
): Promise<VersionFacts> {
  const stable = core.location.path;
  const rot = rotationTag(rotationId);
  const recorded = state.facts.get(previous);
  if (recorded?.replacedBy === rot && recorded.fingerprint) return recorded;
  const read = core.isLive(previousMeta)
    ? await core.read(op, stable, previous, `read version ${previous} of`)
    : undefined;
  const fp = read && typeof read !== 'string' ? fingerprint(read.value) : recorded?.fingerprint;
  if (!fp)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${previous} of ${stable} in ${core.store} has no rekey fingerprint and its value cannot be read`,
      nonRetryable: true,
    });
  const known = recorded?.fingerprint === fp ? recorded : {};
  const previousFacts: VersionFacts = { ...known, stage: 'previous', replacedBy: rot, fingerprint: fp };
  await core.writeFacts(op, state, new Map([[previous, previousFacts]]), 'mark the replaced version of', [
    promoted,
  ]);
  return previousFacts;
}
