// The workflow code a recorded history was made with: the sources the workflow bundle is built from
// (workflows/index.ts and every relative module it imports at run time, type-only imports aside),
// hashed, so CI can tell when workflow code changed without histories recorded for it.
//   tsx scripts/workflow-version.ts          prints the hash and the files
//   tsx scripts/workflow-version.ts --write  writes test/histories/<package version>/MANIFEST.json
//   tsx scripts/workflow-version.ts --clean  empties that folder before it is recorded again
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const ENTRY = path.join(ROOT, 'workflows', 'index.ts');

/** What test/histories/<version>/MANIFEST.json records. */
export interface HistoryManifest {
  version: string;
  workflowSourcesSha256: string;
  sources: string[];
  histories: string[];
}

/** Relative modules a file imports at run time (`import type` and `export type` do not reach the bundle). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gms)) {
    if (m[1]) continue;
    const base = path.resolve(path.dirname(file), m[2]!);
    const found = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
    if (found) out.push(found);
  }
  return out;
}

/** The workflow bundle's own sources, relative to the repository, sorted. */
export function workflowSources(): string[] {
  const seen = new Set<string>();
  const queue = [ENTRY];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...runtimeImports(file));
  }
  return [...seen].map((f) => path.relative(ROOT, f).split(path.sep).join('/')).sort();
}

/** sha256 over each source's path and content. */
export function workflowSourcesHash(files = workflowSources()): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(readFileSync(path.join(ROOT, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

if (require.main === module) {
  const files = workflowSources();
  const hash = workflowSourcesHash(files);
  const version = packageVersion();
  const dir = path.join(ROOT, 'test', 'histories', version);
  if (process.argv.includes('--clean')) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    console.log(`emptied test/histories/${version}/ (the version being developed; released ones stay)`);
  } else if (process.argv.includes('--write')) {
    const manifest: HistoryManifest = {
      version,
      workflowSourcesSha256: hash,
      sources: files,
      histories: readdirSync(dir)
        .filter((f) => f.endsWith('.json') && f !== 'MANIFEST.json')
        .sort(),
    };
    writeFileSync(path.join(dir, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`wrote test/histories/${version}/MANIFEST.json (${manifest.histories.length} histories)`);
  } else {
    console.log(hash);
    for (const f of files) console.log(`  ${f}`);
  }
}
