import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFilesystemEvidenceStore } from '../../activities/evidence';
import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import {
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
} from '../helpers/evidence-fixtures';
import { runCommand } from '../../scripts/local-stack';

const TSX = require.resolve('tsx/cli');

/** Runs a command in the repository root, with no evidence folder configured. */
const run = (command: string, args: string[]) =>
  runCommand(command, args, { env: { ...process.env, REKEY_EVIDENCE_DIR: '' } });

/** `npm run evidence -- …` without npm's own start-up: the same script through tsx. */
const evidence = (...args: string[]) => run(process.execPath, [TSX, 'scripts/evidence.ts', ...args]);

const TICKETS = ['CHG-1', 'CHG-2', 'CHG-3'];
let dir: string;

/** A store with three real bundles, chained. */
async function writeStore(): Promise<void> {
  const store = createFilesystemEvidenceStore(dir);
  for (const ticket of TICKETS) {
    const status = { ...evidenceStatus(), rotationId: `production:flatkey-router-key:${ticket}` };
    const bundle = buildEvidenceBundle(
      status,
      { input: evidenceInput(), credential: evidenceCredential() },
      evidenceHistory(),
      { generatedAt: '2026-06-19T12:00:00.000Z' },
    );
    await store.write(status.rotationId, bundle);
  }
}

const bundleFile = (ticket: string) => {
  const file = readdirSync(dir).find((f) => f.includes(`_${ticket}.`));
  if (!file) throw new Error(`no bundle file for ${ticket}`);
  return path.join(dir, file);
};

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-evidence-verify-'));
  await writeStore();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run evidence -- verify', () => {
  it('reports a sound store and exits 0', async () => {
    const res = await run('npm', ['run', '--silent', 'evidence', '--', 'verify', '--dir', dir]);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe(`evidence store ${dir}: 3 link(s), 3 of 3 bundle(s) valid: sound\n`);
  });

  it('catches a bundle edited after it was written, and exits 1', async () => {
    const file = bundleFile('CHG-2');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"oldKeyStatus": 401', '"oldKeyStatus": 403'));
    const res = await evidence('verify', '--dir', dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('1 problem(s)');
    expect(res.stdout).toMatch(
      /- production:flatkey-router-key:CHG-2: .*\.json was changed after it was written/,
    );
  });

  it('catches a link removed from the chain, and exits 1', async () => {
    const chain = path.join(dir, 'chain.jsonl');
    const lines = readFileSync(chain, 'utf8').split('\n');
    const removed = JSON.parse(lines[1]!) as { sha256: string };
    writeFileSync(chain, [lines[0], ...lines.slice(2)].join('\n'));
    const res = await evidence('verify', '--dir', dir, '--json');
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as { ok: boolean; links: number; problems: string[] };
    expect(report).toMatchObject({ ok: false, links: 2 });
    expect(report.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^production:flatkey-router-key:CHG-3: links to ${removed.sha256}, expected [0-9a-f]{64}$`,
        ),
      ),
      // The unlinked bundle is still on disk: named, so nobody mistakes it for part of the record.
      `${path.basename(bundleFile('CHG-2'))}: a bundle file that no link of the chain names`,
    ]);
  });

  it('catches a bundle whose chain is whole but whose shape is no known schema version', async () => {
    // Written through the store, so the chain is sound: only the schema check can catch it.
    await createFilesystemEvidenceStore(dir).write('production:flatkey-router-key:CHG-4', evidenceStatus());
    const res = await evidence('verify', '--dir', dir, '--json');
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({
      ok: false,
      links: 4,
      bundles: { checked: 4, valid: 3 },
      problems: [
        'production:flatkey-router-key:CHG-4: bundle schema version (none) unknown: this rekey reads version 2',
      ],
    });
  });

  it('refuses a folder that is not an evidence store, and a command it does not know', async () => {
    const missing = await evidence('verify', '--dir', path.join(dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/no evidence store at .*nope/);
    const unknown = await evidence('check');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command check/);
  });
});
