// The tags rekey writes on Key Vault secret versions. They are how every operation finds what an earlier
// attempt of the same rotation already did (idempotency keyed by rotation id) and what the evidence
// reports; tags never hold key material, only ids, stages and fingerprints.
import type { SecretProperties } from '@azure/keyvault-secrets';
import type { SecretStage } from '../../types';

export const Tag = {
  /** The rotation that wrote this version. */
  rotation: 'rekey-rotation',
  /** pending | current | previous | rolled-back | retired. */
  stage: 'rekey-stage',
  /** `sha256:` + 12 hex of the value, so versions can be told apart without reading them. */
  fingerprint: 'rekey-fingerprint',
  /** The gateway's id of the key the version holds, when rekey issued it. */
  gatewayKey: 'rekey-gateway-key',
  /** On a version promote wrote: the version of the stable path it replaced. */
  replaces: 'rekey-replaces',
  /** On a replaced version: the rotation that replaced it. */
  replacedBy: 'rekey-replaced-by',
  /** On a rollback copy: the version it rolls back. */
  rollsBack: 'rekey-rolls-back',
  /** On a rollback copy: the version whose value it copies forward. */
  restores: 'rekey-restores',
} as const;

const STAGES: readonly SecretStage[] = ['pending', 'current', 'previous', 'rolled-back', 'retired'];

/** The tags of a version (an empty object when it has none). */
export function tagsOf(p: Pick<SecretProperties, 'tags'>): Record<string, string> {
  return p.tags ?? {};
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
  return newestFirst(
    versions.filter((v) => tagsOf(v)[Tag.rotation] === rotationId && !tagsOf(v)[Tag.rollsBack]),
  )[0];
}

/** The rollback copy this rotation wrote for a rolled-back version, among a secret's versions. */
export function rollbackCopy<T extends Pick<SecretProperties, 'tags' | 'createdOn'>>(
  versions: T[],
  rotationId: string,
  rolledBackVersion: string,
): T | undefined {
  return newestFirst(
    versions.filter(
      (v) => tagsOf(v)[Tag.rotation] === rotationId && tagsOf(v)[Tag.rollsBack] === rolledBackVersion,
    ),
  )[0];
}

function newestFirst<T extends Pick<SecretProperties, 'createdOn'>>(versions: T[]): T[] {
  return [...versions].sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
}
