// `make conformance-azure`: the official Azure SDK for Go (azsecrets on azcore, conformance/azure-go)
// against the reference Key Vault, to prove the emulator speaks the secrets REST API the way another SDK
// team reads it, not only the JavaScript one our code uses. Builds the Go program (Go module and build
// caches make a rebuild take seconds), starts the reference Key Vault on a free port, runs every check,
// prints a pass/fail table, stops the vault, and exits 1 on any failure.
//   --run REGEX              only the checks whose name matches
//   --operation-delay-ms N   deletes, purges and recovers finish N ms after they are accepted, as the
//                            service finishes them asynchronously (the checks wait the documented way)
// Go: `go` on PATH, /usr/local/go/bin/go or /usr/lib/go/bin/go, at least 1.21; GOTOOLCHAIN=auto fetches the
// toolchain go.mod asks for from the Go module proxy when it is older.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  ROOT,
  TOOLS,
  freePort,
  keyVaultPaths,
  referenceKeyVaultUnavailableReason,
  runCommand,
  startReferenceKeyVault,
  type RunningServer,
} from './local-stack';

const MODULE_DIR = path.join(ROOT, 'conformance', 'azure-go');
const BINARY = path.join(TOOLS, 'conformance', 'azure-go');
const RUN_DIR = path.join(process.env.REKEY_RUN_DIR ?? path.join(ROOT, '.run'), 'conformance');

/** One line the Go program prints per check. */
const CheckResult = z.object({
  check: z.string().describe('check name, area/behaviour'),
  ok: z.boolean(),
  ms: z.number().describe('duration in milliseconds'),
  error: z.string().optional().describe('why it failed: ids, status and error codes, never a value'),
});
type CheckResult = z.infer<typeof CheckResult>;

function log(line: string) {
  console.log(`[conformance-azure] ${line}`);
}

/** A go binary of at least 1.21 (GOTOOLCHAIN=auto then fetches what go.mod asks for), as bootstrap.sh's find_go. */
async function findGo(): Promise<string> {
  const onPath = (process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'go'));
  const tried: string[] = [];
  for (const candidate of [...onPath, '/usr/local/go/bin/go', '/usr/lib/go/bin/go']) {
    if (!existsSync(candidate) || tried.includes(candidate)) continue;
    tried.push(candidate);
    const res = await runCommand(candidate, ['env', 'GOVERSION'], {
      env: { ...process.env, GOTOOLCHAIN: 'local' },
    }).catch(() => undefined);
    const m = /^go(\d+)\.(\d+)/.exec(res?.stdout.trim() ?? '');
    if (m && (Number(m[1]) > 1 || Number(m[2]) >= 21)) return candidate;
  }
  throw new Error(
    `no Go 1.21 or newer found (tried ${tried.join(', ') || 'PATH, /usr/local/go/bin/go, /usr/lib/go/bin/go'}): ` +
      `install Go (https://go.dev/dl/, or apt-get install golang-go on Debian 13)`,
  );
}

/** Builds conformance/azure-go into .tools/conformance/ with the versions go.sum pins. */
async function build(go: string): Promise<void> {
  mkdirSync(path.dirname(BINARY), { recursive: true });
  const res = await runCommand(go, ['build', '-mod=readonly', '-trimpath', '-o', BINARY, '.'], {
    cwd: MODULE_DIR,
    env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'auto' },
  });
  if (res.code !== 0)
    throw new Error(
      `go build of conformance/azure-go failed (the Go module proxy must be reachable on a cold cache):\n${res.stderr}`,
    );
}

/** The reference Key Vault's TLS material, generated once by bootstrap.sh when missing. */
async function ensureTls(): Promise<void> {
  if (!referenceKeyVaultUnavailableReason()) return;
  log('generating the reference Key Vault certificate (scripts/bootstrap.sh reference-key-vault-tls)');
  const res = await runCommand('bash', [
    path.join(ROOT, 'scripts', 'bootstrap.sh'),
    'reference-key-vault-tls',
  ]);
  const reason = referenceKeyVaultUnavailableReason();
  if (res.code !== 0 || reason) throw new Error(reason ?? `bootstrap.sh failed:\n${res.stderr}`);
}

function parseResults(stdout: string): CheckResult[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => CheckResult.parse(JSON.parse(line)));
}

function table(results: CheckResult[]): string {
  const width = Math.max(5, ...results.map((r) => r.check.length));
  const rows = results.map(
    (r) => `  ${r.check.padEnd(width)}  ${r.ok ? 'pass' : 'FAIL'}  ${String(r.ms).padStart(6)} ms`,
  );
  return [`  ${'check'.padEnd(width)}  result  ${'time'.padStart(6)}`, ...rows].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { run: { type: 'string' }, 'operation-delay-ms': { type: 'string' } },
  });
  const delay = Number(values['operation-delay-ms'] ?? 0);
  if (!Number.isInteger(delay) || delay < 0)
    throw new Error(`--operation-delay-ms: expected 0 or more, got ${values['operation-delay-ms']}`);
  const started = Date.now();
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

  await ensureTls();
  const go = await findGo();
  const buildStart = Date.now();
  await build(go);
  log(`built conformance/azure-go with ${go} in ${seconds(buildStart)}`);

  mkdirSync(RUN_DIR, { recursive: true });
  const logFile = path.join(RUN_DIR, 'key-vault.log');
  let vault: RunningServer | undefined;
  const stop = async () => {
    const v = vault;
    vault = undefined;
    await v?.stop();
  };
  // Ctrl-C stops the vault's process group too.
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const port = await freePort();
    vault = await startReferenceKeyVault({
      httpsPort: port,
      logFile,
      ...(delay > 0 ? { operationDelayMs: delay } : {}),
    });
    const url = `https://localhost:${port}`;
    log(
      `reference Key Vault on ${url}${delay > 0 ? `, operations finish after ${delay} ms` : ''} (log: ${logFile})`,
    );

    const checksStart = Date.now();
    const args = ['-vault', url, '-ca', keyVaultPaths().certPem];
    if (values.run) args.push('-run', values.run);
    const res = await runCommand(BINARY, args);
    const results = parseResults(res.stdout);
    writeFileSync(path.join(RUN_DIR, 'results.jsonl'), res.stdout);

    console.log(table(results));
    for (const r of results.filter((x) => !x.ok)) console.log(`\nFAIL ${r.check}\n  ${r.error ?? ''}`);
    const failed = results.filter((r) => !r.ok).length;
    const passed = results.length - failed;
    // A crash or a refusal to start prints no result for the checks it did not run.
    if (res.code !== 0 && failed === 0) console.log(`\nthe Go program exited ${res.code}:\n${res.stderr}`);
    if (results.length === 0) console.log('\nno check ran');
    log(`checks ${seconds(checksStart)}, total ${seconds(started)}`);
    console.log(`conformance: ${passed} passed, ${failed} failed`);
    return res.code === 0 && failed === 0 && results.length > 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[conformance-azure] ERROR: ${(err as Error).message}`);
    process.exit(1);
  },
);
