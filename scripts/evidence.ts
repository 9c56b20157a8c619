// `npm run evidence -- verify [--dir DIR] [--json]`: checks an evidence store for auditors and CI. Walks
// the hash chain and validates every bundle against its schema; exit 0 when sound, 1 on any problem,
// 2 on a usage error. Reads the folder only: it never needs the API, Temporal or the vault.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createFilesystemEvidenceStore } from '../activities/evidence/filesystem-store';
import { EVIDENCE_SCHEMA_VERSION } from '../domain/evidence/bundle-schema';
import { verifyEvidenceStore, type EvidenceVerification } from '../activities/evidence/verify-store';

const USAGE = `usage: npm run evidence -- verify [--dir DIR] [--json]

  verify   walk the evidence store's hash chain and validate every bundle (schema v${EVIDENCE_SCHEMA_VERSION})
  --dir    the store folder (default: $REKEY_EVIDENCE_DIR, else .run/evidence)
  --json   print the result as JSON

exit status: 0 sound, 1 a problem was found, 2 usage error
`;

interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

/** Runs one command line; resolves to the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const command = args.shift();
  let dir = io.env.REKEY_EVIDENCE_DIR || '.run/evidence';
  let json = false;
  while (args.length) {
    const arg = args.shift()!;
    if (arg === '--json') json = true;
    else if (arg === '--dir' && args.length && !args[0]!.startsWith('--')) dir = args.shift()!;
    else if (arg.startsWith('--dir=')) dir = arg.slice('--dir='.length);
    else return usageError(io, `unexpected argument ${arg}`);
  }
  if (command !== 'verify') return usageError(io, command ? `unknown command ${command}` : 'no command');

  const where = path.resolve(dir);
  const isDir = await stat(where).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const result: EvidenceVerification = isDir
    ? await verifyEvidenceStore(createFilesystemEvidenceStore(where), { dir: where })
    : { links: 0, bundles: { checked: 0, valid: 0 }, problems: [`no evidence store at ${where}`], ok: false };

  if (json) io.stdout.write(`${JSON.stringify({ dir: where, ...result }, null, 2)}\n`);
  else io.stdout.write(summary(where, result));
  return result.ok ? 0 : 1;
}

function summary(dir: string, r: EvidenceVerification): string {
  const head = `evidence store ${dir}: ${r.links} link(s), ${r.bundles.valid} of ${r.bundles.checked} bundle(s) valid`;
  if (r.ok) return `${head}: sound\n`;
  return `${head}: ${r.problems.length} problem(s)\n${r.problems.map((p) => `  - ${p}\n`).join('')}`;
}

function usageError(io: Io, message: string): number {
  io.stderr.write(`evidence: ${message}\n\n${USAGE}`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`evidence: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
