import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, TOOLS, stopProcessGroup } from '../../scripts/local-stack';
import { stopRecorded } from '../../scripts/demo/processes';

// `make demo` end to end: scripts/demo.ts as a child process, both scenarios side by side, each with its
// own folder and its own stack on free ports (Temporal dev server, the secret store, the reference
// gateway, the worker and the API as `npm run` processes), on each secret backend in turn (`make demo
// BACKEND=azure|vault|aws`). What is checked is what a person running it would see.
jest.setTimeout(9 * 60_000);

const BACKENDS = [
  { backend: 'azure', kind: 'azure-key-vault' },
  { backend: 'vault', kind: 'hashicorp-vault' },
  { backend: 'aws', kind: 'aws-secrets-manager' },
] as const;
type Backend = (typeof BACKENDS)[number]['backend'];

interface DemoRun {
  scenario: 'completed' | 'rollback';
  dir: string;
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

const base = path.join(ROOT, '.run', 'test-demo');
let runDir: string;
const pids: number[] = [];
const dirs: string[] = [];

function runDemo(backend: Backend, scenario: DemoRun['scenario']): Promise<DemoRun> {
  const dir = path.join(runDir, `${backend}-${scenario}`);
  dirs.push(dir);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/demo.ts', 'run', '--scenario', scenario, '--backend', backend, '--dir', dir],
      {
        cwd: ROOT,
        // Its own process group, so that a test that gives up can stop the demo and its children.
        detached: true,
        env: {
          ...process.env,
          PATH: [path.join(TOOLS, 'bin'), path.dirname(process.execPath), process.env.PATH].join(
            path.delimiter,
          ),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    if (child.pid) pids.push(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ scenario, dir, code, stdout, stderr, seconds: (Date.now() - started) / 1000 }),
    );
  });
}

/** The phases the demo printed as they changed (`▶ PHASE`), in order. */
const phasesOf = (stdout: string) => [...stdout.matchAll(/▶ ([A-Z_]+)/g)].map((m) => m[1]);

/** Every file of a demo folder the leak check reads: process logs, the Temporal database, evidence, config. */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      // The gateway's admin keys live there on purpose (mode 0600); they must appear nowhere else.
      if (name !== 'simulator') out.push(...filesOf(full));
    } else out.push(full);
  }
  return out;
}

// Shapes of everything the demo generates: gateway keys (sk-…, sk-master-…, sk-or-…) and API tokens.
const KEY_SHAPES = [/(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}/, /rkd_[0-9a-f]{48}/];

function assertNoKeys(run: DemoRun) {
  const admin = JSON.parse(readFileSync(path.join(run.dir, 'simulator', 'admin-keys.json'), 'utf8')) as {
    masterKey: string;
    provisioningKey: string;
  };
  const places: [string, string][] = [
    ['stdout', run.stdout],
    ['stderr', run.stderr],
    ...filesOf(run.dir).map((f): [string, string] => [path.relative(run.dir, f), readFileSync(f, 'latin1')]),
  ];
  expect(places.map(([where]) => where)).toEqual(
    expect.arrayContaining(['worker.log', 'api.log', 'gateway.log', 'temporal.log', 'demo.log']),
  );
  for (const [where, text] of places) {
    for (const value of [admin.masterKey, admin.provisioningKey]) {
      if (text.includes(value)) throw new Error(`a gateway admin key appears in ${where}`);
    }
    for (const shape of KEY_SHAPES) {
      if (shape.test(text)) throw new Error(`something shaped like a generated key appears in ${where}`);
    }
  }
}

function evidenceOf(run: DemoRun): { file: string; bundle: Record<string, unknown> } {
  const file = /evidence\s+(\/\S+\.json)/.exec(run.stdout)?.[1];
  if (!file) throw new Error('the demo printed no evidence path');
  expect(existsSync(file)).toBe(true);
  expect(file.startsWith(run.dir)).toBe(true);
  return { file, bundle: JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> };
}

const allRuns: DemoRun[] = [];

beforeAll(() => {
  mkdirSync(base, { recursive: true });
  runDir = mkdtempSync(path.join(base, 'run-'));
});

afterAll(async () => {
  // A demo still running (the test gave up) is stopped with everything it started.
  for (const pid of pids) await stopProcessGroup(pid, 15_000);
  for (const dir of dirs) await stopRecorded(path.join(dir, 'state.json'));
  const passed = allRuns.length === 2 * BACKENDS.length && allRuns.every((r) => r.code === 0);
  if (passed && process.env.REKEY_KEEP_TEST_RUN !== '1') rmSync(runDir, { recursive: true, force: true });
});

describe.each(BACKENDS)('make demo BACKEND=$backend', ({ backend, kind }) => {
  let runs: Record<DemoRun['scenario'], DemoRun>;
  beforeAll(async () => {
    const [completed, rollback] = await Promise.all([
      runDemo(backend, 'completed'),
      runDemo(backend, 'rollback'),
    ]);
    runs = { completed, rollback };
    allRuns.push(completed, rollback);
  });

  it('runs a rotation through every phase to COMPLETED, bob approving the revocation with the CLI, in under 5 minutes', () => {
    const run = runs.completed;
    if (run.code !== 0)
      throw new Error(`demo exited ${run.code}:\n${run.stdout.slice(-4000)}\n${run.stderr}`);
    expect(run.seconds).toBeLessThan(5 * 60);
    expect(phasesOf(run.stdout)).toEqual([
      'PREPARING',
      'ISSUING',
      'CANARY',
      'FLIPPING',
      'HOLDING',
      'AWAITING_REVOKE_APPROVAL',
      'REVOKING',
      'VERIFYING_REVOCATION',
      'ARCHIVING',
      'COMPLETED',
    ]);
    expect(run.stdout).toMatch(/\$ rekey start -f \S+rotation-policy\.yaml\s+# as alice@demo/);
    // Prometheus sees every signal the seed requires, so the gate opens on positive evidence alone.
    expect(run.stdout).toMatch(/the revoke gate is open with positive evidence/);
    for (const row of ['authentication', 'routing', 'usageAttribution', 'quotaAndBudget', 'runtimeCoverage'])
      expect(run.stdout).toMatch(new RegExp(`✓ ${row}\\n`));
    expect(run.stdout).not.toMatch(/✗ new-key traffic: fail|risk-accepted|--accept-risk/);
    expect(run.stdout).toMatch(/\$ rekey approve \S+ --gate revoke .*# as alice@demo/);
    expect(run.stdout).toMatch(/four-eyes: alice@demo requested this rotation and cannot approve it/);
    expect(run.stdout).toMatch(/\$ rekey approve \S+ --gate revoke .*# as bob@demo/);
    expect(run.stdout).toMatch(/revoke-approved: .*\(by bob@demo\)/);
    expect(run.stdout).toMatch(/negative test: old key 401 after \d+ attempt\(s\), new key 200/);
    expect(run.stdout).toMatch(
      /Temporal UI\s+http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/rekey%3Ademo%3Arouter-key\//,
    );
    expect(run.stdout).toContain('# Key rotation evidence — demo:router-key:');
    const { bundle } = evidenceOf(run);
    expect(bundle).toMatchObject({
      rotationId: expect.stringMatching(/^demo:router-key:/),
      bundle: { secretVersions: { backend: kind, source: 'secret-store-history' } },
    });
    expect(JSON.stringify(bundle)).toContain('"completed"');
    expect(run.stdout).toMatch(
      /evidence verified: schema v\d+, seed rows change ticket, secret version history, gateway logs, negative test, exception list, post-change review; hash chain of 1 link\(s\) sound/,
    );
    expect(run.stdout).toMatch(
      /leak check\s+4 key values, 2 API tokens, the message-signing key.* searched .*: none found/,
    );
    expect(existsSync(path.join(run.dir, 'state.json'))).toBe(false);
  });

  it('rolls back by itself when the new key gets 5xx after the flip, the app reads the old key again, and bob has the kept key revoked once drained', () => {
    const run = runs.rollback;
    if (run.code !== 0)
      throw new Error(`demo exited ${run.code}:\n${run.stdout.slice(-4000)}\n${run.stderr}`);
    expect(run.seconds).toBeLessThan(5 * 60);
    expect(phasesOf(run.stdout)).toEqual([
      'PREPARING',
      'ISSUING',
      'CANARY',
      'FLIPPING',
      'HOLDING',
      'ROLLING_BACK',
      'ROLLED_BACK',
    ]);
    expect(run.stdout).toMatch(/fault injected at the gateway/);
    expect(run.stdout).toMatch(/✗ new-key traffic: fail: \d+ app req, .* [1-9]\d* 5xx/);
    expect(run.stdout).toMatch(/rolling-back: new-key traffic failed the hold analysis/);
    const oldFp = /the current key (sha256:[0-9a-f]{12})/.exec(run.stdout)?.[1];
    const newFp = /the stable secret now serves (sha256:[0-9a-f]{12}) .*; was (sha256:[0-9a-f]{12})/.exec(
      run.stdout,
    );
    expect(oldFp).toBeDefined();
    // The app moved to the new key at the flip, and back to the old one after the rollback.
    expect(newFp?.[2]).toBe(oldFp);
    expect(run.stdout).toContain(`the stable secret now serves ${oldFp}`);
    expect(run.stdout).toContain(`reads the old key ${oldFp} again, and the gateway answers it`);
    // The replacement key stays enabled until bob has it revoked; rekey refuses while it has traffic.
    expect(run.stdout).toMatch(
      /stays enabled for consumers that reloaded; ROLLING_BACK waits for its revocation/,
    );
    expect(run.stdout).toMatch(/\$ rekey revoke-replacement-key \S+ --reason .*# as bob@demo/);
    expect(run.stdout).toMatch(
      /replacement-key-revocation-refused: \S+ still used in the last .* by customer-chat-api/,
    );
    expect(run.stdout).toMatch(/replacement-key-revoked: \S+ disabled-and-deleted: .*\(by bob@demo\)/);
    expect(run.stdout).toMatch(
      /kept key revoked at \S+ by bob@demo: the gateway's \/key\/info answers 200 status deleted .* gets 401/,
    );
    const { bundle } = evidenceOf(run);
    expect(bundle).toMatchObject({
      rotationId: expect.stringMatching(/^demo:router-key:/),
      bundle: { secretVersions: { backend: kind } },
    });
    expect(JSON.stringify(bundle)).toContain('"rolled_back"');
    expect(run.stdout).toMatch(/evidence verified: schema v\d+, .*; hash chain of 1 link\(s\) sound/);
    expect(run.stdout).not.toContain('rekey approve');
    expect(existsSync(path.join(run.dir, 'state.json'))).toBe(false);
  });

  it('prints no key and writes none to a log, the Temporal database or the evidence', () => {
    for (const run of Object.values(runs)) assertNoKeys(run);
  });
});
