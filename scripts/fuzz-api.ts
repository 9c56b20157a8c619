// `make fuzz-api`: schemathesis (PyPI, pinned in scripts/versions.env, installed by scripts/bootstrap.sh
// into .tools/venv) against the API's own /openapi.json, every check on, a fixed seed. Starts what the
// API needs on free ports under .run/fuzz-api/: a Temporal dev server and the real API process
// (api/server.ts) with a tokens file holding a token for every role. No worker polls the task queue, so
// rotations the fuzzer manages to start wait in PREPARING and never reach out to a gateway or a secret
// store; status reads bound their query (5 s), which is all the API promises without a worker.
// Prints a summary (operations, requests, failures per check), stops what it started, and exits 1 on any
// failure, on a warning that means the fuzzer's own token was refused, or on fewer than 1,000 requests.
//   --max-examples N   test cases per operation in the fuzzing and stateful phases (default 80)
//   --seed N           the run's random seed (default 14): the same seed, the same requests
//   --workers N        schemathesis workers (default 1). More than one runs hypothesis in threads, and
//                      CPython 3.11 (the venv's Python here) shares the ast module's recursion counter between threads
//                      (python/cpython#106905): hypothesis, parsing a lambda's source to describe it,
//                      then fails at random with SystemError "AST constructor recursion depth
//                      mismatch", which schemathesis reports as an error of the API operation.
// Files: .run/fuzz-api/ (schemathesis.log, api.log, temporal.log, report/ with JUnit XML and NDJSON).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { z } from 'zod';
import { tokenHash } from '../api/auth';
import { ROLES } from '../domain/policy';
import {
  ROOT,
  TOOLS,
  freePort,
  readVersion,
  runCommand,
  startProcess,
  startTemporalDevServer,
  waitFor,
  type RunningServer,
} from './local-stack';

const RUN_DIR = path.join(process.env.REKEY_RUN_DIR ?? path.join(ROOT, '.run'), 'fuzz-api');

/**
 * Checks left out of `--checks all`, each with the reason; the README says the same. Empty: every check
 * schemathesis 4.x has runs.
 */
const EXCLUDED_CHECKS: Record<string, string> = {};

/**
 * Operations left out of the run, each with the reason; the README says the same. The scanners' webhooks
 * authenticate by a signature over the raw body (HMAC or ECDSA with a key the fuzzer does not hold), so
 * every generated request ends at 401 and the run's missing_auth warning would fail it without testing
 * anything; their parsing and signature checks are tested in test/unit/exposure-*.test.ts and on the
 * real stack in test/integration/exposures.test.ts.
 */
export const EXCLUDED_PATHS: Record<string, string> = {
  '^/v1/exposures/(github|gitguardian)$':
    'signed scanner webhooks: the fuzzer cannot sign, so every request is 401 (tested by their own suites)',
  '^/v1/expiry-events/azure-key-vault$':
    'Event Grid deliveries: authenticated by the subscription secret the fuzzer does not hold, so every event is 401 (tested by test/unit/event-grid.test.ts and test/integration/expiry-events.test.ts)',
};

/**
 * Where a check's expected answers are widened (for one operation, or all), and why: statuses the API
 * gives for a reason JSON Schema cannot express. Each list is the check's own default plus the codes
 * named in `why`. The README lists the same.
 */
export const TUNED_CHECKS: {
  operation?: string;
  check: string;
  expected: (number | string)[];
  why: string;
}[] = [
  {
    check: 'negative_data_rejection',
    expected: [400, 401, 403, 404, 405, 406, 409, 414, 415, 422, 428, 429, '5xx'],
    why:
      '414: an id longer than any rotation id can be (over maxLength) is refused by the router with ' +
      '414 URI Too Long before validation runs, which is a rejection',
  },
  {
    operation: 'POST /v1/rotations',
    check: 'positive_data_acceptance',
    expected: ['2xx', '3xx', 400, 401, 403, 404, 409, 422, 429, '5xx'],
    why:
      '400 and 422: a schema-valid policy may still lack a change ticket (the body or the X-Change-Ticket ' +
      'header must carry one, a rule across body and header that JSON Schema cannot state: 400), or name ' +
      'a credential the registry does not hold (runtime data the document does not list, since only ' +
      'operators may see the names: 422)',
  },
  {
    operation: 'POST /v1/fleets',
    check: 'positive_data_acceptance',
    expected: ['2xx', '3xx', 401, 403, 404, 409, 422, 429, '5xx'],
    why:
      '422: a schema-valid selector may match no registered credential, name one the registry does not ' +
      'hold, or pick an entry whose rotation_policy is not valid (runtime data the document does not ' +
      'list: 422)',
  },
];

/**
 * Warnings that fail the run: a valid token answered 429 (rate_limited) or 401/403 (missing_auth) means
 * the fuzzer's own requests were refused, so the logic behind them went untested.
 */
const FAIL_ON_WARNINGS = ['rate_limited', 'missing_auth'];

/** schemathesis.toml for the run. The token comes from the environment, never argv or a file. */
export function schemathesisConfig(): string {
  const lines = [
    '# Written by scripts/fuzz-api.ts for one run.',
    '[auth.openapi.bearerAuth]',
    'bearer = "${REKEY_FUZZ_TOKEN}"',
    '',
    '[warnings]',
    `fail-on = ${JSON.stringify(FAIL_ON_WARNINGS)}`,
    '',
    // A crash cache would replay an earlier run's failures first: every run starts from the seed alone.
    '[cache]',
    'enabled = false',
  ];
  const global = TUNED_CHECKS.filter((t) => !t.operation);
  if (global.length > 0) lines.push('', '[checks]');
  for (const t of global) lines.push(`${t.check}.expected-statuses = ${JSON.stringify(t.expected)}`);
  for (const t of TUNED_CHECKS.filter((x) => x.operation)) {
    lines.push('', '[[operations]]', `include-name = ${JSON.stringify(t.operation)}`);
    lines.push(`checks.${t.check}.expected-statuses = ${JSON.stringify(t.expected)}`);
  }
  return lines.join('\n') + '\n';
}

/** At least this many requests, or the run fails: a fuzz run that barely ran proves nothing. */
const MIN_REQUESTS = 1000;

function log(line: string) {
  console.log(`[fuzz-api] ${line}`);
}

/**
 * A token for every role, as a deployment has, plus the one the fuzzer sends: all roles, so that every
 * route's logic is reached past its role check. Only hashes go to disk; the tokens die with the run.
 */
function writeTokens(file: string): { fuzz: string } {
  const entries = ROLES.map((role) => ({
    token: `rk_${randomBytes(24).toString('hex')}`,
    principal: `fuzz-${role}@rekey.invalid`,
    roles: [role],
  }));
  const fuzz = `rk_${randomBytes(24).toString('hex')}`;
  entries.push({ token: fuzz, principal: 'fuzz-all-roles@rekey.invalid', roles: [...ROLES] });
  writeFileSync(
    file,
    stringify(entries.map(({ token, principal, roles }) => ({ sha256: tokenHash(token), principal, roles }))),
    { mode: 0o600 },
  );
  return { fuzz };
}

/** Starts Temporal and the API on free ports; resolves once the API answers /healthz. */
async function startStack(started: RunningServer[]) {
  const grpcPort = await freePort();
  const uiPort = await freePort();
  started.push(
    await startTemporalDevServer({
      grpcPort,
      uiPort,
      dbFile: path.join(RUN_DIR, 'temporal.sqlite'),
      logFile: path.join(RUN_DIR, 'temporal.log'),
    }),
  );
  const tokensFile = path.join(RUN_DIR, 'api-tokens.yaml');
  const { fuzz } = writeTokens(tokensFile);
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const apiLog = path.join(RUN_DIR, 'api.log');
  const { child, server } = startProcess(
    'api',
    path.join(ROOT, 'node_modules', '.bin', 'tsx'),
    [path.join(ROOT, 'api', 'server.ts')],
    apiLog,
    {
      TEMPORAL_ADDRESS: `127.0.0.1:${grpcPort}`,
      TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_PORT: String(apiPort),
      REKEY_API_TOKENS_FILE: tokensFile,
      REKEY_CREDENTIALS_FILE: path.join(ROOT, 'config', 'credentials.example.yaml'),
      REKEY_EVIDENCE_DIR: path.join(RUN_DIR, 'evidence'),
      REKEY_TASK_QUEUE: 'rekey-fuzz-api',
      // The fuzzer sends thousands of requests without a valid credential on purpose (missing_required_header,
      // ignored_auth): each must get its 401, not the brute-force limiter's 429, which
      // test/integration/api-brute-force.test.ts covers.
      REKEY_API_AUTH_MAX_FAILURES: '1000000',
      REKEY_LOG_LEVEL: 'warn',
    },
  );
  started.push(server);
  try {
    const healthy = async () => (await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
    await waitFor('API', healthy, 60_000, child);
  } catch (err) {
    throw new Error(`${(err as Error).message} (log: ${apiLog})`, { cause: err });
  }
  log(`API at ${apiUrl} (log ${path.relative(ROOT, apiLog)}), Temporal at 127.0.0.1:${grpcPort}`);
  return { apiUrl, fuzz };
}

/** The st command line: every check, the seed, reports in the run folder. */
export function stArgs(apiUrl: string, config: string, reportDir: string, opts: Record<string, string>) {
  const args = ['--config-file', config, 'run', `${apiUrl}/openapi.json`, '--url', apiUrl];
  args.push('--checks', 'all');
  if (Object.keys(EXCLUDED_CHECKS).length > 0)
    args.push('--exclude-checks', Object.keys(EXCLUDED_CHECKS).join(','));
  // Schemathesis keeps only the last --exclude-path-regex it is given (measured with 4.32.5: two flags
  // fuzzed the first path), so every pattern goes into one alternation.
  const excluded = Object.keys(EXCLUDED_PATHS);
  if (excluded.length > 0) args.push('--exclude-path-regex', excluded.map((p) => `(?:${p})`).join('|'));
  args.push('--max-examples', opts.maxExamples!, '--seed', opts.seed!, '--workers', opts.workers!);
  args.push('--generation-database', 'none', '--request-timeout', '30', '--no-color');
  args.push('--report', 'junit,ndjson', '--report-dir', reportDir);
  args.push('--report-ndjson-path', path.join(reportDir, 'events.ndjson'));
  return args;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'max-examples': { type: 'string', default: '80' },
      seed: { type: 'string', default: '14' },
      workers: { type: 'string', default: '1' },
    },
  });
  const st = path.join(TOOLS, 'bin', 'st');
  if (!existsSync(st))
    throw new Error(`${st} is missing: run \`bash scripts/bootstrap.sh schemathesis\` (or make bootstrap)`);
  const want = readVersion('SCHEMATHESIS_VERSION');
  const version = (await runCommand(st, ['--version'])).stdout.trim();
  if (version !== `st, version ${want}`)
    throw new Error(`${st} is "${version}", scripts/versions.env pins ${want}: run make bootstrap`);

  rmSync(RUN_DIR, { recursive: true, force: true });
  mkdirSync(RUN_DIR, { recursive: true });
  const started: RunningServer[] = [];
  const stopAll = async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
  };
  // A Ctrl-C or CI's timeout stops the servers too: each runs in a process group of its own.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  try {
    const { apiUrl, fuzz } = await startStack(started);
    const config = path.join(RUN_DIR, 'schemathesis.toml');
    writeFileSync(config, schemathesisConfig());
    const reportDir = path.join(RUN_DIR, 'report');
    const args = stArgs(apiUrl, config, reportDir, {
      maxExamples: values['max-examples'],
      seed: values.seed,
      workers: values.workers,
    });
    for (const [check, why] of Object.entries(EXCLUDED_CHECKS)) log(`excluded check ${check}: ${why}`);
    for (const t of TUNED_CHECKS)
      log(`${t.check} on ${t.operation ?? 'every operation'} expects ${t.expected.join(', ')}: ${t.why}`);
    log(`failing on the warnings ${FAIL_ON_WARNINGS.join(', ')}`);
    log(`st ${args.join(' ')}`);
    // The token reaches schemathesis through its environment, never argv or a log; schemathesis masks
    // the Authorization header in what it prints (output sanitization is on by default). In the run
    // folder, so that nothing schemathesis writes to its working directory lands in the checkout.
    const code = await runTeed(st, args, path.join(RUN_DIR, 'schemathesis.log'), {
      cwd: RUN_DIR,
      env: { ...process.env, REKEY_FUZZ_TOKEN: fuzz, PYTHONUNBUFFERED: '1' },
    });
    await stopAll();

    const ndjson = path.join(reportDir, 'events.ndjson');
    const summary = summarize(existsSync(ndjson) ? readFileSync(ndjson, 'utf8') : '');
    log(
      `summary: operations=${summary.operations} requests=${summary.requests} failures=${summary.failures} ` +
        `errors=${summary.errors} seed=${values.seed} max_examples=${values['max-examples']}`,
    );
    for (const [check, n] of Object.entries(summary.perCheck).sort())
      log(`  ${check}: ${n.failed} failed of ${n.total}`);
    const problems: string[] = [];
    if (code !== 0) problems.push(`schemathesis exited ${code}`);
    if (summary.failures > 0 || summary.errors > 0)
      problems.push(`${summary.failures} failed checks, ${summary.errors} errors`);
    if (summary.requests < MIN_REQUESTS)
      problems.push(`${summary.requests} requests, fewer than ${MIN_REQUESTS} (raise --max-examples)`);
    log(
      problems.length === 0
        ? 'PASS'
        : `FAIL: ${problems.join('; ')} (details above; reports in ${path.relative(ROOT, reportDir)})`,
    );
    return problems.length === 0 ? 0 : 1;
  } finally {
    await stopAll();
  }
}

/** Runs a command to its end, its output shown as it comes and kept in `logFile`; resolves to its exit code. */
function runTeed(
  cmd: string,
  args: string[],
  logFile: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logFile);
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (process.stdout.write(d), out.write(d)));
    child.stderr.on('data', (d: Buffer) => (process.stderr.write(d), out.write(d)));
    child.on('error', reject);
    child.on('close', (code) => out.end(() => resolve(code)));
  });
}

/** One finished scenario in schemathesis's NDJSON event stream: its cases and every check's verdict. */
const ScenarioFinished = z.object({
  ScenarioFinished: z.object({
    status: z.string(),
    recorder: z.object({
      label: z.string(),
      checks: z.record(z.string(), z.array(z.object({ name: z.string(), status: z.string() }))).default({}),
      interactions: z.record(z.string(), z.unknown()).default({}),
    }),
  }),
});

/** The loaded document: how many operations schemathesis selected. */
const LoadingFinished = z.object({
  LoadingFinished: z.object({
    statistic: z.object({ operations: z.object({ total: z.number(), selected: z.number() }) }),
  }),
});

/**
 * The run's figures from schemathesis's NDJSON report: operations tested, requests sent (one per test
 * case; checks such as ignored_auth send a few more of their own) and each check's verdicts, counted
 * once per test case.
 */
export function summarize(ndjson: string) {
  const perCheck: Record<string, { total: number; failed: number }> = {};
  const requests = new Set<string>();
  const checked = new Set<string>();
  let errors = 0;
  let operations = 0;
  for (const line of ndjson.split('\n')) {
    if (!line.trim()) continue;
    const raw: unknown = JSON.parse(line);
    const loaded = LoadingFinished.safeParse(raw);
    if (loaded.success) operations = loaded.data.LoadingFinished.statistic.operations.selected;
    const event = ScenarioFinished.safeParse(raw);
    if (!event.success) continue;
    const { status, recorder } = event.data.ScenarioFinished;
    if (status === 'error') errors++;
    for (const id of Object.keys(recorder.interactions)) requests.add(id);
    for (const [id, results] of Object.entries(recorder.checks)) {
      if (checked.has(id)) continue;
      checked.add(id);
      for (const r of results) {
        const n = (perCheck[r.name] ??= { total: 0, failed: 0 });
        n.total++;
        if (r.status === 'failure') n.failed++;
      }
    }
  }
  const failures = Object.values(perCheck).reduce((sum, n) => sum + n.failed, 0);
  return { operations, requests: requests.size, failures, errors, perCheck };
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`[fuzz-api] ERROR: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
