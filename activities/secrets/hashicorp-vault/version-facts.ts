// KV v2 has no per-version tags, so rekey keeps what it knows about each version (rotation, stage,
// fingerprint, gateway key id, and which version it replaces, promotes, rolls back or restores) in the
// secret's custom_metadata: one entry per version, `rekey-v<N>`, its value a URL-encoded form, e.g.
//   rekey-v7 = rotation=rot-42&stage=current&fingerprint=sha256:0a1b2c3d4e5f&replaces=6&promotes=3
// Entries of versions that no longer exist (max_versions pruned them) are removed whenever rekey writes;
// keys not starting with `rekey-` are the platform team's and are never changed. KV's limits (64 keys,
// 128-character keys, 512-character values) are checked before anything is written.
import { createHash } from 'node:crypto';
import type { Fingerprint, SecretStage } from '../../../domain/secrets';
import { SECRET_STAGES } from '../../../domain/secrets';

/** KV v2's limits on a secret's custom_metadata. */
export const KV_METADATA_LIMITS = { keys: 64, keyLength: 128, valueLength: 512 } as const;

/** The longest rotation id kept as it is; longer ones are kept as `sha256:<hex>`. */
const ROTATION_ID_MAX = 128;

/** What rekey records about one version. Version numbers are KV's. */
export interface VersionFacts {
  rotation?: string;
  stage?: SecretStage;
  fingerprint?: Fingerprint;
  gatewayKey?: string;
  /** On a version promote wrote: the stable version it replaced. */
  replaces?: number;
  /** On a version promote wrote: the pending version (the canaried one) whose value it holds. */
  promotes?: number;
  /** On a replaced or retired version: the rotation that replaced it (same form as `rotation`). */
  replacedBy?: string;
  /** On a rollback copy: the version it rolls back. */
  rollsBack?: number;
  /** On a rollback copy: the version whose value it copies forward. */
  restores?: number;
}

/** Form field of each fact, and the tag name the evidence shows it under (Key Vault's names). */
const FIELDS = {
  rotation: ['rotation', 'rekey-rotation'],
  stage: ['stage', 'rekey-stage'],
  fingerprint: ['fingerprint', 'rekey-fingerprint'],
  gatewayKey: ['gateway-key', 'rekey-gateway-key'],
  replaces: ['replaces', 'rekey-replaces'],
  promotes: ['promotes', 'rekey-promotes'],
  replacedBy: ['replaced-by', 'rekey-replaced-by'],
  rollsBack: ['rolls-back', 'rekey-rolls-back'],
  restores: ['restores', 'rekey-restores'],
} as const satisfies Record<keyof VersionFacts, readonly [string, string]>;

const NUMERIC = new Set<keyof VersionFacts>(['replaces', 'promotes', 'rollsBack', 'restores']);

/** The custom_metadata key of a version's facts. */
export function factsKey(version: number): string {
  return `rekey-v${version}`;
}

/** True for custom_metadata keys rekey owns; everything else is the platform team's. */
export function isRekeyKey(name: string): boolean {
  return name.toLowerCase().startsWith('rekey-');
}

/** The rotation id as recorded: itself, or `sha256:<hex>` of an id too long for an entry. */
export function rotationTag(rotationId: string): string {
  if (rotationId.length <= ROTATION_ID_MAX) return rotationId;
  return `sha256:${createHash('sha256').update(rotationId, 'utf8').digest('hex')}`;
}

/** The entry value of a version's facts. */
export function encodeFacts(facts: VersionFacts): string {
  const form = new URLSearchParams();
  for (const [k, [field]] of Object.entries(FIELDS) as [keyof VersionFacts, readonly [string, string]][]) {
    const v = facts[k];
    if (v !== undefined && v !== '') form.set(field, String(v));
  }
  return form.toString();
}

/** Parses an entry; unknown fields and malformed values are ignored. */
export function decodeFacts(value: string): VersionFacts {
  const form = new URLSearchParams(value);
  const out: Record<string, string | number> = {};
  for (const [k, [field]] of Object.entries(FIELDS) as [keyof VersionFacts, readonly [string, string]][]) {
    const v = form.get(field);
    if (v === null || v === '') continue;
    if (NUMERIC.has(k)) {
      if (/^\d+$/.test(v)) out[k] = Number(v);
    } else if (k === 'stage') {
      if ((SECRET_STAGES as readonly string[]).includes(v)) out[k] = v;
    } else if (k === 'fingerprint') {
      if (/^sha256:[0-9a-f]{12}$/.test(v)) out[k] = v;
    } else out[k] = v;
  }
  return out;
}

/** Every version's facts found in a custom_metadata map. */
export function factsByVersion(custom: Record<string, string>): Map<number, VersionFacts> {
  const out = new Map<number, VersionFacts>();
  for (const [key, value] of Object.entries(custom)) {
    const m = /^rekey-v(\d+)$/.exec(key);
    if (m) out.set(Number(m[1]), decodeFacts(value));
  }
  return out;
}

/** The facts as tag-like pairs for the evidence (`rekey-rotation`, `rekey-stage`, …). */
export function factsAsTags(facts: VersionFacts): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, [, tag]] of Object.entries(FIELDS) as [keyof VersionFacts, readonly [string, string]][]) {
    const v = facts[k];
    if (v !== undefined) out[tag] = String(v);
  }
  return out;
}

/** The platform team's custom_metadata entries (what rekey never touches). */
export function userMetadata(custom: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(custom).filter(([k]) => !isRekeyKey(k)));
}

/** A planned change of custom_metadata, or why it cannot be made (names and sizes only). */
export type MetadataPlan =
  { changes: Record<string, string | null>; dropped: number[] } | { problem: string };

/**
 * The merge patch that writes `writes` and removes the entries of versions that no longer exist. When the
 * result would have more than 64 keys, the oldest rekey entries not in `keep` go first; when that is not
 * enough, or an entry is too long, the plan is a problem and nothing may be written.
 */
export function planMetadata(
  custom: Record<string, string>,
  existing: ReadonlySet<number>,
  writes: Map<number, VersionFacts>,
  keep: ReadonlySet<number> = new Set(),
): MetadataPlan {
  const changes: Record<string, string | null> = {};
  for (const [version, facts] of writes) {
    const value = encodeFacts(facts);
    if (value.length > KV_METADATA_LIMITS.valueLength)
      return {
        problem:
          `the facts of version ${version} would need ${value.length} characters, KV allows ` +
          `${KV_METADATA_LIMITS.valueLength} (is the rotation or gateway key id unusually long?)`,
      };
    changes[factsKey(version)] = value;
  }
  const live = new Map(factsByVersion(custom));
  for (const version of live.keys())
    if (!existing.has(version) && !writes.has(version)) {
      changes[factsKey(version)] = null;
      live.delete(version);
    }
  for (const version of writes.keys()) live.set(version, {});
  const users = Object.keys(userMetadata(custom)).length;
  const rekeyOther = Object.keys(custom).filter((k) => isRekeyKey(k) && !/^rekey-v\d+$/.test(k)).length;
  const dropped: number[] = [];
  const droppable = [...live.keys()].filter((v) => !writes.has(v) && !keep.has(v)).sort((a, b) => a - b);
  while (users + rekeyOther + live.size > KV_METADATA_LIMITS.keys && droppable.length > 0) {
    const version = droppable.shift()!;
    live.delete(version);
    changes[factsKey(version)] = null;
    dropped.push(version);
  }
  const total = users + rekeyOther + live.size;
  if (total > KV_METADATA_LIMITS.keys)
    return {
      problem:
        `custom_metadata would need ${total} keys (${users} of the platform team's, ${total - users} of ` +
        `rekey's), KV allows ${KV_METADATA_LIMITS.keys}; remove some of the platform team's keys`,
    };
  return { changes, dropped };
}
