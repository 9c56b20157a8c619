// Bundle section `secretVersions`: the versions this rotation touched plus the old one, in any secret
// backend. The location is read through domain/secrets.ts so that credentials and refs recorded
// before rekey 0.3 (Azure-only `vaultUrl`, `secretName`) read the same as current ones.
import { type SecretLocation } from '../../../domain/secrets';
import { secretLocationOf, secretPaths, storeLabel, storeOf } from '../../../domain/secret-refs';
import type { RotationStatus } from '../../../domain/status';
import { sha256Hex } from '../../../domain/fingerprint';
import type { CredentialRef, SecretVersionRecord, SecretVersionRef } from '../../../domain/activity-io';
import type { EvidenceBundle } from '../../../domain/evidence/bundle-schema';

type Section = EvidenceBundle['secretVersions'];
type VersionRole = Section['versions'][number]['roles'][number];

const key = (r: { name: string; version: string }) => `${r.name}@${r.version}`;

/**
 * The versions this rotation touched plus the old one, from the vault's history when there is one
 * (tags and times, never values), else from the references the rotation recorded.
 */
export function secretVersionsOf(
  status: RotationStatus,
  credential: CredentialRef | undefined,
  history: SecretVersionRecord[] | undefined,
  note: string | undefined,
): Section {
  const v = status.versions;
  const location: SecretLocation | undefined = credential ? secretLocationOf(credential) : undefined;
  const paths = location ? secretPaths(location) : undefined;
  const store = location ? storeLabel(location) : v.old ? storeOf(v.old) || null : null;
  const stablePath = paths?.stable ?? v.old?.name ?? v.current?.name ?? null;
  const roles = rolesOf(v);
  const isStable = (name: string, r: VersionRole[]) =>
    stablePath ? name.toLowerCase() === stablePath.toLowerCase() : !r.includes('pending');
  // A long rotation id is tagged as its hash (Key Vault's 256-character tag limit).
  const ours = new Set([status.rotationId, `sha256:${sha256Hex(status.rotationId)}`]);
  const records = history ? history.filter(touchedBy(ours, roles)) : fromStatus(v);
  const stableOrder = (history ?? records).filter((r) => isStable(r.name, roles.get(key(r)) ?? []));
  const nextOf = (r: SecretVersionRecord) => stableOrder[stableOrder.findIndex((s) => key(s) === key(r)) + 1];
  // Secrets Manager moves a label instead of writing a new version: the promoted version became what
  // apps read at the flip, not when it was written.
  const labelled = location?.backend === 'aws-secrets-manager';
  const at = (event: string, detail?: string) =>
    status.timeline.filter((t) => t.event === event && (!detail || t.detail === detail)).at(-1)?.at;

  return {
    // `vaultUrl` keeps its name for readers of older bundles: it is the store label in every backend.
    vaultUrl: store,
    backend: location?.backend ?? null,
    store,
    stablePath,
    pendingPath: paths?.pending ?? v.pending?.name ?? null,
    source: history ? 'secret-store-history' : 'rotation-status',
    sourceNote: history ? null : (note ?? 'no vault history was available'),
    versions: records.map((r) => {
      const r0 = roles.get(key(r)) ?? [];
      const stable = isStable(r.name, r0);
      const next = stable ? nextOf(r) : undefined;
      const retiredFallback = r0.includes('retired')
        ? at('previous-version-retired')
        : r0.includes('current')
          ? at('compensated', 'restore old secret version')
          : undefined;
      return {
        name: r.name,
        version: r.version,
        roles: r0,
        stage: r.stage ?? null,
        fingerprint: r.fingerprint ?? null,
        enabled: r.enabled,
        writtenByThisRotation: history
          ? r.rotationId !== undefined && ours.has(r.rotationId)
          : r0.some((x) => x === 'pending' || x === 'current' || x === 'restored'),
        gatewayKeyId: r.gatewayKeyId ?? null,
        createdAt: r.createdAt ?? null,
        activatedAt: stable
          ? labelled && r0.includes('current')
            ? (at('promoted') ?? null)
            : (r.createdAt ?? null)
          : null,
        // The version apps read now was not superseded, whatever was written after it.
        supersededAt: r.stage === 'current' && r.enabled ? null : (next?.createdAt ?? null),
        retiredAt: r.enabled ? null : (r.updatedAt ?? retiredFallback ?? null),
      };
    }),
  };
}

/** Which roles (old, pending, current, restored, retired) each `name@version` played in the rotation. */
function rolesOf(v: RotationStatus['versions']): Map<string, VersionRole[]> {
  const roles = new Map<string, VersionRole[]>();
  for (const role of ['old', 'pending', 'current', 'restored', 'retired'] as const) {
    const ref = v[role];
    if (ref) roles.set(key(ref), [...(roles.get(key(ref)) ?? []), role]);
  }
  return roles;
}

/** A history record the rotation played a role in, wrote, or replaced (`ours`: its tag values). */
function touchedBy(ours: Set<string>, roles: Map<string, VersionRole[]>) {
  return (r: SecretVersionRecord) =>
    roles.has(key(r)) ||
    (r.rotationId !== undefined && ours.has(r.rotationId)) ||
    ours.has(r.tags['rekey-replaced-by'] ?? '');
}

/** Version records from the references in the status, when the vault history is not available. */
function fromStatus(v: RotationStatus['versions']): SecretVersionRecord[] {
  const byKey = new Map<string, SecretVersionRecord>();
  for (const ref of [v.old, v.pending, v.current, v.restored, v.retired] as (
    SecretVersionRef | undefined
  )[]) {
    if (!ref) continue;
    const k = key(ref);
    const seen = byKey.get(k);
    byKey.set(k, {
      store: storeOf(ref),
      name: ref.name,
      version: ref.version,
      // A later reference (retired) knows it was disabled.
      enabled: (seen?.enabled ?? true) && ref.enabled,
      ...((seen?.createdAt ?? ref.createdAt) ? { createdAt: seen?.createdAt ?? ref.createdAt } : {}),
      fingerprint: ref.fingerprint,
      ...(ref.gatewayKeyId ? { gatewayKeyId: ref.gatewayKeyId } : {}),
      tags: {},
    });
  }
  return [...byKey.values()];
}
