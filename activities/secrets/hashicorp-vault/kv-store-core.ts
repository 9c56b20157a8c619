// What every store operation on a KV v2 path builds on: a snapshot of the path (metadata + rekey's
// per-version facts), reading a version's field, trusting an entry only once its fingerprint matches
// the version's value, and writing a version the idempotent way:
//   1. write the facts of version N+1 into custom_metadata first (the "intent"), then
//   2. write the data with check-and-set N.
// A retry after a crash between the two, or after losing check-and-set to an earlier attempt of the same
// rotation, finds an entry naming this rotation: it adopts version N+1 only when N+1 exists and its
// value has the entry's fingerprint; an entry that does not match its version (another writer won) is
// removed. Facts first means there is never a version rekey wrote that says nothing about itself.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import type { Fingerprint, SecretLocationOf, SecretVersionRef } from '../../../domain/secrets';
import { fingerprint } from '../../../domain/fingerprint';
import type { SecretStoreLogger } from '../backend';
import type { KvClient, KvSecretMetadata, KvVersionMetadata } from './kv-client';
import { KvFailureTypes } from './kv-errors';
import type { KvOperation } from './kv-operation';
import { factsByVersion, factsKey, planMetadata, type VersionFacts } from './version-facts';

export type KvLocation = SecretLocationOf<'hashicorp-vault'>;

/** A path's metadata and rekey's facts per version, as read at the start of a try. */
export interface PathState {
  path: string;
  meta: KvSecretMetadata | undefined;
  facts: Map<number, VersionFacts>;
}

/** A readable version: the field's value and the whole data map (for copying forward). */
export interface ReadVersion {
  version: number;
  value: string;
  data: Record<string, unknown>;
  meta: KvVersionMetadata;
  facts: VersionFacts | undefined;
}

export interface KvStoreCore {
  readonly location: KvLocation;
  readonly store: string;
  readonly client: KvClient;
  readonly log: SecretStoreLogger;
  snapshot(op: KvOperation, path: string, operation: string): Promise<PathState>;
  /** The version (current when undefined) with its field; 'missing' or 'disabled' when unreadable. */
  read(
    op: KvOperation,
    path: string,
    version: number | undefined,
    operation: string,
  ): Promise<ReadVersion | 'missing' | 'disabled'>;
  /** Like read, but unreadable is a non-retryable SecretNotFound / SecretDisabled. */
  readOrFail(
    op: KvOperation,
    path: string,
    version: number | undefined,
    operation: string,
  ): Promise<ReadVersion>;
  /** A version's facts if they are trustworthy: it exists, and a live one holds the fingerprinted value. */
  verified(op: KvOperation, state: PathState, version: number): Promise<VersionFacts | undefined>;
  /** The newest version whose trusted facts satisfy `match`. */
  newestWith(
    op: KvOperation,
    state: PathState,
    match: (f: VersionFacts) => boolean,
  ): Promise<number | undefined>;
  /** Fails (nothing written) when these entries would not fit KV's custom_metadata limits. */
  assertFits(state: PathState, writes: Map<number, VersionFacts>, operation: string): void;
  /** Merge-patches facts (and prunes entries of versions gone); fails before writing past KV's limits. */
  writeFacts(
    op: KvOperation,
    state: PathState,
    writes: Map<number, VersionFacts>,
    operation: string,
    keep?: number[],
  ): Promise<void>;
  /** Facts of N+1, then data with check-and-set N; 'conflict' when another writer was first. */
  writeVersion(
    op: KvOperation,
    state: PathState,
    data: Record<string, unknown>,
    facts: VersionFacts,
    operation: string,
    keep?: number[],
  ): Promise<{ version: number; createdTime: string } | 'conflict'>;
  ref(
    path: string,
    version: number,
    fp: Fingerprint,
    meta: Partial<KvVersionMetadata> | undefined,
    gatewayKeyId?: string,
  ): SecretVersionRef;
  /** True while a version is readable (not deleted, not destroyed, no deletion time reached). */
  isLive(meta: KvVersionMetadata | undefined): boolean;
  conflict(path: string, operation: string): ApplicationFailure;
}

/** A timestamp of Vault's (nanoseconds) as an ISO string of milliseconds; undefined when absent. */
export function isoTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** What the core is built from: the location, its label, its client and the logger. */
type KvDeps = Pick<KvStoreCore, 'location' | 'store' | 'client' | 'log'>;

/** The core of one location; its methods call one another through the core object. */
export function createKvStoreCore(deps: {
  location: KvLocation;
  store: string;
  client: KvClient;
  log: SecretStoreLogger;
}): KvStoreCore {
  const { location, store, client, log } = deps;
  const core: KvStoreCore = {
    location,
    store,
    client,
    log,
    isLive,
    snapshot: (op, path, operation) => snapshot(core, op, path, operation),
    read: (op, path, version, operation) => readVersion(core, op, path, version, operation),
    readOrFail: (op, path, version, operation) => readOrFail(core, op, path, version, operation),
    verified: (op, state, version) => verified(core, op, state, version),
    newestWith: (op, state, match) => newestWith(core, op, state, match),
    assertFits(state, writes, operation) {
      planOrFail(core, state, writes, operation, [...writes.keys()]);
    },
    writeFacts: (op, state, writes, operation, keep = []) =>
      writeFacts(core, op, state, writes, operation, keep),
    writeVersion: (op, state, data, facts, operation, keep = []) =>
      writeVersion(core, op, state, data, facts, operation, keep),
    ref: (path, version, fp, meta, gatewayKeyId) => ref(core, path, version, fp, meta, gatewayKeyId),
    conflict: (path, operation) => conflict(core, path, operation),
  };
  return core;
}

/** True while a version is readable (not deleted, not destroyed, no deletion time reached). */
function isLive(meta: KvVersionMetadata | undefined): boolean {
  if (!meta || meta.destroyed) return false;
  if (!meta.deletionTime) return true;
  const at = Date.parse(meta.deletionTime);
  return !Number.isNaN(at) && at > Date.now();
}

/** SecretNotFound / SecretDisabled for a version read found missing or disabled. */
function unreadable(
  { location, store }: KvDeps,
  path: string,
  version: number | undefined,
  how: 'missing' | 'disabled',
): ApplicationFailure {
  return ApplicationFailure.create({
    type: how === 'missing' ? FailureTypes.SecretNotFound : FailureTypes.SecretDisabled,
    message:
      how === 'missing'
        ? `${version === undefined ? 'the current version' : `version ${version}`} of ${path} in ${store} ` +
          `does not exist or has no string field ${location.field}; check the registry's path and field`
        : `${version === undefined ? 'the current version' : `version ${version}`} of ${path} in ${store} ` +
          `is deleted or destroyed; apps reading it fail too — undelete it or write a new version`,
    nonRetryable: true,
  });
}

/** The custom_metadata patch of these entries; KvMetadataLimit (nothing written) when it cannot fit. */
function planOrFail(
  { store }: KvDeps,
  state: PathState,
  writes: Map<number, VersionFacts>,
  operation: string,
  keep: number[],
) {
  const plan = planMetadata(
    state.meta?.customMetadata ?? {},
    new Set(state.meta?.versions.keys() ?? []),
    writes,
    new Set(keep),
  );
  if ('problem' in plan)
    throw ApplicationFailure.create({
      type: KvFailureTypes.KvMetadataLimit,
      message: `cannot ${operation} ${state.path} in ${store}: ${plan.problem}; nothing was written`,
      nonRetryable: true,
    });
  return plan;
}

async function snapshot(
  { client }: KvDeps,
  op: KvOperation,
  path: string,
  operation: string,
): Promise<PathState> {
  const meta = await client.readMetadata(op, path, operation);
  return { path, meta, facts: factsByVersion(meta?.customMetadata ?? {}) };
}

async function readVersion(
  { client, location }: KvDeps,
  op: KvOperation,
  path: string,
  version: number | undefined,
  operation: string,
): Promise<ReadVersion | 'missing' | 'disabled'> {
  const r = await client.readData(op, path, version, operation);
  if (!r.found) return r.meta ? 'disabled' : 'missing';
  const value = r.data[location.field];
  if (typeof value !== 'string' || value === '') return 'missing';
  const v = r.meta.version;
  return {
    version: v,
    value,
    data: r.data,
    meta: r.meta,
    facts: factsByVersion(r.customMetadata).get(v),
  };
}

async function readOrFail(
  core: KvStoreCore,
  op: KvOperation,
  path: string,
  version: number | undefined,
  operation: string,
): Promise<ReadVersion> {
  const r = await core.read(op, path, version, operation);
  if (r === 'missing' || r === 'disabled') throw unreadable(core, path, version, r);
  return r;
}

async function verified(
  core: KvStoreCore,
  op: KvOperation,
  state: PathState,
  version: number,
): Promise<VersionFacts | undefined> {
  const { store, client, log } = core;
  const facts = state.facts.get(version);
  const meta = state.meta?.versions.get(version);
  if (!facts || !meta) return undefined;
  if (!isLive(meta)) return facts;
  const r = await core.read(op, state.path, version, 'check a version rekey recorded in');
  if (typeof r !== 'string' && facts.fingerprint && fingerprint(r.value) === facts.fingerprint) return facts;
  // An entry another writer's version proved wrong (an intent whose write lost): not rekey's version.
  log.warn(
    { store, path: state.path, version, recorded: facts.fingerprint ?? null },
    'rekey facts do not match the version they name (another writer was first); entry removed',
  );
  await client.patchCustomMetadata(
    op,
    state.path,
    { [factsKey(version)]: null },
    'remove a stale rekey entry of',
  );
  state.facts.delete(version);
  if (state.meta) delete state.meta.customMetadata[factsKey(version)];
  return undefined;
}

async function newestWith(
  core: KvStoreCore,
  op: KvOperation,
  state: PathState,
  match: (f: VersionFacts) => boolean,
): Promise<number | undefined> {
  const candidates = [...state.facts.entries()]
    .filter(([, f]) => match(f))
    .map(([v]) => v)
    .sort((a, b) => b - a);
  for (const v of candidates) if (await core.verified(op, state, v)) return v;
  return undefined;
}

async function writeFacts(
  core: KvDeps,
  op: KvOperation,
  state: PathState,
  writes: Map<number, VersionFacts>,
  operation: string,
  keep: number[],
): Promise<void> {
  const { store, client, log } = core;
  const plan = planOrFail(core, state, writes, operation, keep);
  if (plan.dropped.length > 0)
    log.info(
      { store, path: state.path, versions: plan.dropped },
      'dropped rekey entries of the oldest versions to stay within 64 custom_metadata keys',
    );
  await client.patchCustomMetadata(op, state.path, plan.changes, operation);
  for (const [v, f] of writes) state.facts.set(v, f);
  for (const v of plan.dropped) state.facts.delete(v);
  if (state.meta)
    for (const [k, v] of Object.entries(plan.changes))
      if (v === null) delete state.meta.customMetadata[k];
      else state.meta.customMetadata[k] = v;
}

async function writeVersion(
  core: KvStoreCore,
  op: KvOperation,
  state: PathState,
  data: Record<string, unknown>,
  facts: VersionFacts,
  operation: string,
  keep: number[],
): Promise<{ version: number; createdTime: string } | 'conflict'> {
  const { store, client, log } = core;
  const current = state.meta?.currentVersion ?? 0;
  const next = current + 1;
  await core.writeFacts(op, state, new Map([[next, facts]]), operation, [current, ...keep]);
  const written = await client.writeData(op, state.path, data, current, operation);
  if (written === 'conflict') {
    log.warn(
      { store, path: state.path, cas: current },
      'check-and-set lost to another writer; looking again',
    );
    return written;
  }
  // Looked at again: the new version is known (its entry is kept by the patches that follow) and
  // versions max_versions just removed are gone (their entries are pruned by those patches).
  const fresh = await client.readMetadata(op, state.path, operation);
  state.meta = fresh ?? { currentVersion: 0, customMetadata: {}, versions: new Map() };
  state.meta.versions.set(written.version, {
    version: written.version,
    createdTime: written.createdTime,
    deletionTime: '',
    destroyed: false,
    ...state.meta.versions.get(written.version),
  });
  state.facts.clear();
  for (const [v, f] of factsByVersion(state.meta.customMetadata)) state.facts.set(v, f);
  if (written.version !== next) {
    // Not expected with check-and-set; keep the facts on the version that was written.
    await core.writeFacts(op, state, new Map([[written.version, facts]]), operation, [current, ...keep]);
  }
  return written;
}

function ref(
  { store }: KvDeps,
  path: string,
  version: number,
  fp: Fingerprint,
  meta: Partial<KvVersionMetadata> | undefined,
  gatewayKeyId?: string,
): SecretVersionRef {
  const createdAt = isoTime(meta?.createdTime);
  // A live version with a deletion time ahead is deleted then (the path's or the mount's
  // delete_version_after): that is when it expires for the apps reading it.
  const deletion = isoTime(meta?.deletionTime);
  const expiresAt = deletion && Date.parse(deletion) > Date.now() ? deletion : undefined;
  return {
    store,
    name: path,
    version: String(version),
    fingerprint: fp,
    enabled: meta ? isLive({ version, createdTime: '', deletionTime: '', destroyed: false, ...meta }) : true,
    ...(createdAt ? { createdAt } : {}),
    ...(expiresAt ? { expiresAt } : {}),
    ...(gatewayKeyId ? { gatewayKeyId } : {}),
  };
}

function conflict({ store }: KvDeps, path: string, operation: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: KvFailureTypes.KvWriteConflict,
    message: `could not ${operation} ${path} in ${store}: another writer kept changing it (check-and-set); the next attempt looks again`,
    nonRetryable: false,
  });
}
