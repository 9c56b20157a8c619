// Verifies an evidence store end to end: the hash chain (every link names the one before it, every file
// hashes to what the chain recorded) and every bundle against the schema of its version.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { EvidenceReader } from './filesystem-store';
import { checkEvidenceBundle } from '../../domain/evidence/bundle-schema';

/** What `verify` found; `ok` only when the chain is whole and every bundle is valid. */
export interface EvidenceVerification {
  links: number;
  bundles: { checked: number; valid: number };
  problems: string[];
  ok: boolean;
}

/**
 * Walks the chain, then reads and validates every bundle it links. With the store's folder, bundle
 * files that no link names (a link removed from the chain) are reported too.
 */
export async function verifyEvidenceStore(
  store: EvidenceReader,
  opts: { dir?: string } = {},
): Promise<EvidenceVerification> {
  const problems: string[] = [];
  let links = 0;
  try {
    const chain = await store.verify();
    links = chain.links;
    problems.push(...chain.problems);
  } catch (err) {
    problems.push(`the chain cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    return { links, bundles: { checked: 0, valid: 0 }, problems, ok: false };
  }
  const bundles = { checked: 0, valid: 0 };
  const linked = new Set<string>();
  for (const rotationId of await store.list()) {
    let found;
    try {
      found = await store.read(rotationId);
    } catch (err) {
      // A missing file is already a chain problem; anything else (unparsable JSON) is new.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        problems.push(`${rotationId}: the bundle cannot be read: ${(err as Error).message}`);
      }
      continue;
    }
    if (!found) continue;
    linked.add(path.basename(found.record.location));
    bundles.checked += 1;
    const { document } = found;
    const check = checkEvidenceBundle(document.bundle);
    if (!check.ok) {
      problems.push(`${rotationId}: ${check.message}`);
      continue;
    }
    if (document.rotationId !== rotationId || check.bundle.rotationId !== rotationId) {
      problems.push(`${rotationId}: the bundle is about ${check.bundle.rotationId}, not this rotation`);
      continue;
    }
    bundles.valid += 1;
  }
  if (opts.dir) {
    for (const file of (await readdir(opts.dir)).filter((f) => f.endsWith('.json')).sort()) {
      if (!linked.has(file)) problems.push(`${file}: a bundle file that no link of the chain names`);
    }
  }
  return { links, bundles, problems, ok: problems.length === 0 };
}
