// history: every version of the stable and pending secret for the evidence, oldest first, without values.
import type { SecretVersionRecord } from '../../../../domain/secrets';
import { begin, versionsOf, type KeyVaultSession } from '../session';
import { Tag } from '../tags';
import { recordOf } from '../version-refs';

/** Every version of both secrets with tags and times, oldest first. */
export async function history(s: KeyVaultSession): Promise<SecretVersionRecord[]> {
  const op = begin(s);
  const all = [...(await versionsOf(s, op, s.stable)), ...(await versionsOf(s, op, s.pending))].map((p) =>
    recordOf(s, p),
  );
  // Key Vault lists versions in no particular order and keeps creation times to the second; within a
  // second, a version that names another (replaces, rolls back, restores) comes after it.
  const depth = depthIn(new Map(all.map((r) => [r.version, r])));
  return all.sort(
    (a, b) =>
      (a.createdAt ?? '').localeCompare(b.createdAt ?? '') ||
      depth(a) - depth(b) ||
      a.name.localeCompare(b.name) ||
      a.version.localeCompare(b.version),
  );
}

/** How many versions a record names before it, through replaces, rolls-back and restores tags. */
function depthIn(byVersion: Map<string, SecretVersionRecord>) {
  const depth = (r: SecretVersionRecord, seen = new Set<string>()): number => {
    if (seen.has(r.version)) return 0;
    seen.add(r.version);
    const named = [Tag.replaces, Tag.rollsBack, Tag.restores]
      .map((t) => byVersion.get(r.tags[t] ?? ''))
      .filter((x): x is SecretVersionRecord => x !== undefined);
    return named.length ? 1 + Math.max(...named.map((x) => depth(x, new Set(seen)))) : 0;
  };
  return depth;
}
