// The tags rekey writes on Key Vault secret versions. They are how every operation finds what an earlier
// attempt of the same rotation already did (idempotency keyed by rotation id) and what the evidence
// reports; tags never hold key material, only ids, stages and fingerprints. Tags whose name does not start
// with `rekey-` belong to the platform team (cost centre, owner, …) and are carried forward untouched.
import { createHash } from 'node:crypto';
import type { SecretProperties } from '@azure/keyvault-secrets';
import type { SecretStage } from '../../../domain/secrets';

export const Tag = {
  /** The rotation that wrote this version (its id, or `sha256:<hex>` of an id too long for a tag). */
  rotation: 'rekey-rotation',
  /** pending | current | previous | rolled-back | retired. */
  stage: 'rekey-stage',
  /** `sha256:` + 12 hex of the value, so versions can be told apart without reading them. */
  fingerprint: 'rekey-fingerprint',
  /** The gateway's id of the key the version holds, when rekey issued it. */
  gatewayKey: 'rekey-gateway-key',
  /** On a version promote wrote: the version of the stable path it replaced. */
  replaces: 'rekey-replaces',
  /** On a version promote wrote: the pending version (the one the canary proved) whose value it holds. */
  promotes: 'rekey-promotes',
  /** On a replaced version: the rotation that replaced it (same form as `rekey-rotation`). */
  replacedBy: 'rekey-replaced-by',
  /** On a rollback copy: the version it rolls back. */
  rollsBack: 'rekey-rolls-back',
  /** On a rollback copy: the version whose value it copies forward. */
  restores: 'rekey-restores',
} as const;

/** Key Vault's limits on the tags of one secret version. */
export const TAG_LIMITS = { count: 15, nameLength: 512, valueLength: 256 } as const;

const STAGES: readonly SecretStage[] = ['pending', 'current', 'previous', 'rolled-back', 'retired'];

/**
 * The value rekey tags a version with for a rotation: the id itself, or `sha256:<hex>` of it when the id is
 * longer than a tag value may be (256 characters). Every look-up compares against this, never the raw id.
 */
export function rotationTag(rotationId: string): string {
  if (rotationId.length <= TAG_LIMITS.valueLength) return rotationId;
  return `sha256:${createHash('sha256').update(rotationId, 'utf8').digest('hex')}`;
}

/** The tags of a version (an empty object when it has none). */
export function tagsOf(p: Pick<SecretProperties, 'tags'>): Record<string, string> {
  return p.tags ?? {};
}

/** True for the tags rekey owns (and rewrites); everything else is the platform team's. */
export function isRekeyTag(name: string): boolean {
  return name.toLowerCase().startsWith('rekey-');
}

/** The tags of a version that are not rekey's: what a copy forward carries to the new version. */
export function userTagsOf(p: Pick<SecretProperties, 'tags'>): Record<string, string> {
  return Object.fromEntries(Object.entries(tagsOf(p)).filter(([name]) => !isRekeyTag(name)));
}

/** The rekey stage of a version, if it has a valid one. */
export function stageOf(p: Pick<SecretProperties, 'tags'>): SecretStage | undefined {
  const stage = tagsOf(p)[Tag.stage];
  return STAGES.find((s) => s === stage);
}

/** The version promote wrote for this rotation (not a rollback copy), among a secret's versions. */
export function promotedBy<T extends Pick<SecretProperties, 'tags' | 'createdOn'>>(
  versions: T[],
  rotationId: string,
): T | undefined {
  const rot = rotationTag(rotationId);
  return newestFirst(versions.filter((v) => tagsOf(v)[Tag.rotation] === rot && !tagsOf(v)[Tag.rollsBack]))[0];
}

/** The rollback copy this rotation wrote for a rolled-back version, among a secret's versions. */
export function rollbackCopy<T extends Pick<SecretProperties, 'tags' | 'createdOn'>>(
  versions: T[],
  rotationId: string,
  rolledBackVersion: string,
): T | undefined {
  const rot = rotationTag(rotationId);
  return newestFirst(
    versions.filter((v) => tagsOf(v)[Tag.rotation] === rot && tagsOf(v)[Tag.rollsBack] === rolledBackVersion),
  )[0];
}

/** Versions by creation time, newest first (Key Vault lists them in no particular order). */
export function newestFirst<T extends Pick<SecretProperties, 'createdOn'>>(versions: T[]): T[] {
  return [...versions].sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
}
