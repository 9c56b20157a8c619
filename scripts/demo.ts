// `make demo`: one rotation end to end, each part a real process on free ports under .run/demo/ —
// Temporal dev server + Web UI, the secret store (`--backend azure`: the reference Key Vault,
// simulator/key-vault; `vault`: OpenBao's KV v2; `aws`: moto's Secrets Manager), the reference
// gateway, Prometheus scraping the gateway's per-key metrics (the credential's telemetry), and the worker
// and the API as `npm run worker` / `npm run api` with settings written here.
// An app-like consumer keeps calling the gateway with whatever the stable secret serves while alice@demo
// starts the rotation with the `rekey` CLI and bob@demo approves the revocation, which the revoke gate
// must offer on positive evidence. `--scenario rollback` makes the new key fail after the flip: the hold
// check rolls it back, and bob has the replacement key the rollback kept enabled revoked once it drained.
// Key values never reach the output: the demo searches its own output, every log and the evidence for
// the keys it made, and fails if one is there. Everything stops at the end (or on failure and Ctrl-C)
// unless `--keep`; `tsx scripts/demo.ts down` (make demo-down) stops a kept demo.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { fingerprint } from '../domain/fingerprint';
import { LITELLM_QUERIES } from '../activities/telemetry';
import {
  checkEvidenceBundle,
  createFilesystemEvidenceStore,
  verifyEvidenceStore,
} from '../activities/evidence';
import type { RotationView } from '../cli/client';
import { rotationPolicySchema } from '../domain/policy';
import type { SecretBackendKind } from '../domain/secrets';
import { TERMINAL_PHASES, type Phase, type RotationStatus } from '../workflows/messages';
import { AppTraffic, describeStats } from './demo/app-traffic';
import {
  DEMO_CREDENTIAL,
  makeTokens,
  policyYaml,
  registryYaml,
  tokensYaml,
  type DemoTokens,
} from './demo/config';
import { alive, demoPaths, DemoProcesses, readState, stopRecorded } from './demo/processes';
import { filesToScan, findLeaks, heading, indented, say, Transcript } from './demo/transcript';
import { backendOf, DEFAULT_BACKEND, startLocalStore } from './stores/local-store';
import {
  ROOT,
  TOOLS,
  applyNodeExtraCaCerts,
  freePort,
  promScalar,
  runCommand,
  startPrometheus,
  type CommandRun,
  startTemporalDevServer,
  writeCaBundle,
} from './local-stack';

const SCENARIOS = {
  completed: 'a rotation approved through to COMPLETED',
  rollback: 'the new key fails after the flip; the hold check rolls it back',
} as const;
type Scenario = keyof typeof SCENARIOS;

interface Options {
  scenario: Scenario;
  /** Where the credential's secret lives: Key Vault (default), HashiCorp Vault (OpenBao) or AWS (moto). */
  backend: SecretBackendKind;
  keep: boolean;
  dir: string;
  timeoutMs: number;
}

const TASK_QUEUE = 'rekey-rotations';
/** Prometheus scrapes the gateway this often: windows of the hold lag the gateway by at most this. */
const SCRAPE_INTERVAL_S = 1;
const RUN_FOR_HUMANS = (dir: string) => path.relative(process.cwd(), dir) || '.';

class Interrupted extends Error {}
const abort = new AbortController();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abort.signal.aborted) return reject(new Interrupted('interrupted'));
    const t = setTimeout(() => {
      abort.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Interrupted('interrupted'));
    };
    abort.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls until `check` returns a value, or fails naming what did not happen. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(intervalMs);
  }
}

const started = Date.now();
/** mm:ss since the demo started. */
function clock(): string {
  const s = Math.floor((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

// ── the CLI, as alice and bob run it ────────────────────────────────────────────────────────────────

/** Runs the `rekey` bin with a principal's token in REKEY_TOKEN (never on the command line), printing it. */
async function rekey(
  args: string[],
  as: { principal: string; token: string },
  apiUrl: string,
  expectedCode = 0,
): Promise<CommandRun> {
  const shown = args.map((a) => (/^[\w./:@=-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  say(`  $ rekey ${shown}        # as ${as.principal}`);
  const env = {
    PATH: `${path.join(TOOLS, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? ROOT,
    REKEY_API_URL: apiUrl,
    REKEY_TOKEN: as.token,
  };
  const run = await runCommand(path.join(ROOT, 'cli', 'bin', 'rekey'), args, { env });
  if (run.stdout) indented(run.stdout);
  if (run.stderr) indented(run.stderr);
  if (run.code !== expectedCode)
    throw new Error(`rekey ${args[0]} exited with ${run.code}, expected ${expectedCode}`);
  return run;
}

// ── following a rotation through the API ────────────────────────────────────────────────────────────

/** Reads GET /v1/rotations/:id and prints every new timeline entry and check as it appears. */
class Follower {
  private readonly seen = new Set<string>();
  private phase?: Phase;
  /** The latest status read. */
  last?: RotationStatus;

  constructor(
    private readonly apiUrl: string,
    private readonly id: string,
    private readonly token: string,
  ) {}

  async poll(): Promise<RotationStatus | undefined> {
    const res = await fetch(`${this.apiUrl}/v1/rotations/${encodeURIComponent(this.id)}`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) return undefined;
    const d = ((await res.json()) as RotationView).detail;
    if (!d) return undefined;
    this.last = d;
    // Checks first: at equal times a check belongs to the phase the workflow then leaves.
    const fresh = [
      ...d.checks.map((c) => ({
        key: `c|${c.at}|${c.name}`,
        at: c.at,
        text: `${c.passed ? '✓' : '✗'} ${c.name}: ${c.detail}`,
        phase: undefined,
      })),
      ...d.timeline.map((t) => ({
        key: `t|${t.at}|${t.event}|${t.phase}`,
        at: t.at,
        text: `${t.event}${t.detail ? `: ${t.detail}` : ''}${t.by ? ` (by ${t.by})` : ''}`,
        phase: t.phase,
      })),
    ]
      .filter((e) => !this.seen.has(e.key))
      .sort((a, b) => a.at.localeCompare(b.at));
    for (const e of fresh) {
      this.seen.add(e.key);
      if (e.phase && e.phase !== this.phase) {
        this.phase = e.phase;
        say(`  [${clock()}] ▶ ${e.phase}`);
      }
      say(`           ${e.at.slice(11, 19)}  ${e.text}`);
    }
    if (d.phase !== this.phase) {
      this.phase = d.phase;
      say(`  [${clock()}] ▶ ${d.phase}`);
    }
    return d;
  }

  /** Polls until `done` holds or the rotation ends; returns the last status. */
  async until(done: (s: RotationStatus) => boolean, deadline: number): Promise<RotationStatus> {
    for (;;) {
      const s = await this.poll().catch(() => undefined);
      if (s && (done(s) || TERMINAL_PHASES.includes(s.phase))) return s;
      if (Date.now() > deadline)
        throw new Error(`the rotation is still ${s?.phase ?? 'unknown'} at the deadline`);
      await sleep(400);
    }
  }

  /**
   * The final status: the workflow enters its terminal phase, then writes the evidence bundle and
   * closes, so a status read at the phase change may not name the bundle yet.
   */
  async final(deadline: number): Promise<RotationStatus> {
    let s = await this.until((x) => TERMINAL_PHASES.includes(x.phase), deadline);
    const settle = Math.min(deadline, Date.now() + 30_000);
    while (!s.evidence && Date.now() < settle) {
      await sleep(400);
      s = (await this.poll().catch(() => undefined)) ?? s;
    }
    return s;
  }
}

/** The old key's baseline the hold was compared with, and what it covers in a demo this short. */
function describeBaseline(s: RotationStatus, minVolumeRatio: number): string {
  const b = s.baseline;
  if (!b) return '  baseline: none recorded';
  const minutes = Math.max((b.toMs - b.fromMs) / 60_000, 1 / 60);
  return (
    `  baseline: the old key's previous ${Math.round(minutes)} min in Prometheus held ${b.requests} requests (${(b.requests / minutes).toFixed(1)}/min over that span).\n` +
    `            Here that is only the app's warm-up since Prometheus started with the demo, so the volume band (≥ ${minVolumeRatio * 100}%) is easy to meet;\n` +
    '            against an hour of real traffic it is what catches a consumer that stopped calling after the flip.'
  );
}

// ── the run ───────────────────────────────────────────────────────────────────────────────────────────

async function run(opts: Options): Promise<number> {
  const p = demoPaths(opts.dir);
  const previous = readState(p.state);
  if (previous) {
    const live = previous.servers.filter((s) => alive(-s.pid));
    if (live.length > 0 && (previous.keep || alive(previous.ownerPid))) {
      console.error(
        `[rekey demo] a demo is still running in ${RUN_FOR_HUMANS(opts.dir)} (${previous.keep ? 'kept with KEEP=1' : `pid ${previous.ownerPid}`}): stop it with \`make demo-down\` first`,
      );
      return 1;
    }
    // The demo that started these was killed before it could stop them.
    await stopRecorded(p.state);
  }
  // The folder is emptied only when it is the demo's own: under .run/, or marked by an earlier run.
  const ours = existsSync(p.marker) || opts.dir.startsWith(path.join(ROOT, '.run') + path.sep);
  if (!ours && existsSync(opts.dir) && readdirSync(opts.dir).length > 0) {
    console.error(`[rekey demo] ${opts.dir} is not empty and not a demo folder; choose another --dir`);
    return 2;
  }
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(p.config, { recursive: true });
  writeFileSync(p.marker, 'files of `make demo` (scripts/demo.ts); removed by the next demo run\n');
  mkdirSync(p.evidence, { recursive: true });

  const transcript = new Transcript(p.transcript);
  transcript.start();
  const procs = new DemoProcesses(p.state);
  const secrets = new Set<string>();
  let app: AppTraffic | undefined;
  let outcome = 1;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      say(`\n[rekey demo] ${signal}: stopping the demo and everything it started …`);
      abort.abort();
      return;
    }
    // A second Ctrl-C: stop what is recorded now, without waiting for the flow to unwind.
    void procs.stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    say(`rekey demo — scenario ${opts.scenario}: ${SCENARIOS[opts.scenario]}`);
    say(`files and logs: ${RUN_FOR_HUMANS(opts.dir)}/`);
    const deadline = Date.now() + opts.timeoutMs;

    // ── the stack ──
    heading('1. the stack (free ports, each process in its own group, logs beside it)');
    const grpcPort = await freePort();
    const uiPort = await freePort();
    const vaultPort = await freePort();
    const [temporal, started] = await Promise.allSettled([
      startTemporalDevServer({
        grpcPort,
        uiPort,
        dbFile: path.join(opts.dir, 'temporal.sqlite'),
        logFile: p.log('temporal'),
      }),
      startLocalStore(opts.backend, { port: vaultPort, logFile: p.log('secret-store') }),
    ]);
    if (temporal.status === 'fulfilled') procs.add(temporal.value);
    if (started.status === 'fulfilled') procs.add(started.value.server);
    if (temporal.status === 'rejected') throw temporal.reason;
    if (started.status === 'rejected') throw started.reason;
    if (abort.signal.aborted) throw new Interrupted('interrupted');
    const temporalAddress = `127.0.0.1:${grpcPort}`;
    const temporalUi = `http://127.0.0.1:${uiPort}`;
    const secretStore = started.value;
    say(`  Temporal dev server  ${temporalAddress}, Web UI ${temporalUi}   (temporal.log)`);
    say(`  secret store         ${secretStore.label}   (secret-store.log)`);

    // Node trusts the emulator's certificate through NODE_EXTRA_CA_CERTS, never by switching TLS checks off.
    writeCaBundle(p.caBundle, secretStore.certPems);
    process.env.NODE_EXTRA_CA_CERTS = p.caBundle;
    applyNodeExtraCaCerts();

    const gatewayPort = await freePort();
    const gatewayBase = `http://127.0.0.1:${gatewayPort}`;
    const childPath = `${path.join(TOOLS, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`;
    // Chosen here so Prometheus, starting alongside, can scrape /metrics with it as its bearer token.
    const scrapeKey = `sk-master-${randomBytes(12).toString('hex')}`;
    secrets.add(scrapeKey);
    procs.spawn('gateway', 'npm', ['run', 'simulator'], p.log('gateway'), {
      ...process.env,
      PATH: childPath,
      REKEY_SIMULATOR_MASTER_KEY: scrapeKey,
      REKEY_SIMULATOR_END_USER_METRICS: 'true',
      REKEY_SIMULATOR_PORT: String(gatewayPort),
      REKEY_SIMULATOR_HOST: '127.0.0.1',
      REKEY_RUN_DIR: opts.dir,
    });
    // Prometheus starts while the gateway does (a target that is not up yet is scraped again), and
    // before any app traffic, so the old key's baseline holds every request the app made.
    const [gatewayUp, prometheus] = await Promise.allSettled([
      until(
        'the reference gateway',
        async () => {
          if (!procs.running('gateway')) throw new Error('gateway exited');
          return existsSync(p.adminKeys) && (await fetch(`${gatewayBase}/health`)).ok ? true : undefined;
        },
        60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (see ${p.log('gateway')})`);
      }),
      startPrometheus({
        port: await freePort(),
        targets: [`127.0.0.1:${gatewayPort}`],
        scrapeIntervalS: SCRAPE_INTERVAL_S,
        dir: p.prometheus,
        bearerToken: scrapeKey,
        // Beside the gateway's admin keys (mode 0600), the one place the demo keeps them on purpose.
        bearerTokenFile: path.join(path.dirname(p.adminKeys), 'metrics-token'),
      }).then((server) => {
        procs.add(server);
        return server;
      }),
    ]);
    if (gatewayUp.status === 'rejected') throw gatewayUp.reason;
    if (prometheus.status === 'rejected') throw prometheus.reason;
    if (abort.signal.aborted) throw new Interrupted('interrupted');
    const prometheusUrl = prometheus.value.url;
    const admin = JSON.parse(readFileSync(p.adminKeys, 'utf8')) as {
      masterKey: string;
      provisioningKey: string;
    };
    secrets.add(admin.masterKey);
    secrets.add(admin.provisioningKey);
    say(`  reference gateway    ${gatewayBase} (OpenAI API under /v1, LiteLLM admin API)   (gateway.log)`);
    say(
      `                       its admin keys were generated into ${path.relative(opts.dir, p.adminKeys)} (mode 0600)`,
    );
    say(
      `  Prometheus           ${prometheusUrl}, scraping the gateway's per-key /metrics every ${SCRAPE_INTERVAL_S} s   (${path.relative(opts.dir, p.prometheusLog)})`,
    );

    // ── seed ──
    heading(`2. seed: the gateway admin key and the current key in ${secretStore.label.split(' http')[0]}`);
    const c = DEMO_CREDENTIAL;
    await secretStore.put(c.adminKeySecret, admin.masterKey);
    say(`  ${c.adminKeySecret}  the gateway's master key (value not shown)`);
    // LiteLLM refuses a key whose team does not exist; the platform team creates teams, not rekey.
    const team = await fetch(`${gatewayBase}/team/new`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ team_id: c.owner, team_alias: c.owner }),
    });
    if (!team.ok && team.status !== 400) throw new Error(`the gateway refused /team/new: ${team.status}`);
    const generated = await fetch(`${gatewayBase}/key/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        models: ['gpt-4o-mini', 'text-embedding-3-small'],
        team_id: c.owner,
        key_alias: `${c.app}-2024`,
        metadata: { owner: c.owner },
      }),
    });
    if (!generated.ok) throw new Error(`the gateway refused /key/generate: ${generated.status}`);
    const oldKey = ((await generated.json()) as { key: string }).key;
    secrets.add(oldKey);
    const oldFp = fingerprint(oldKey);
    await secretStore.put(c.secretName, oldKey, { owner: c.owner });
    say(`  ${c.secretName}  the current key ${oldFp}, created at the gateway for team ${c.owner}`);

    // ── app traffic ──
    heading(`3. app traffic: ${c.app} reads ${c.secretName} from the secret store and calls the gateway`);
    app = new AppTraffic({
      read: () => secretStore.appReadVersion(c.secretName),
      gatewayBaseUrl: `${gatewayBase}/v1`,
      app: c.app,
      onKeyChange: (fp, version, before) =>
        say(
          before
            ? `  [${clock()}] app ${c.app}: the stable secret now serves ${fp} (version ${version}); was ${before}`
            : `  [${clock()}] app ${c.app}: uses ${fp} (version ${version})`,
        ),
    });
    await app.start();
    for (const v of app.valuesSeen) secrets.add(v);

    // ── worker and API ──
    heading('4. the worker and the API (npm run worker, npm run api) with generated settings');
    const tokens: DemoTokens = makeTokens();
    secrets.add(tokens.alice.token);
    secrets.add(tokens.bob.token);
    writeFileSync(
      p.registry,
      registryYaml(secretStore.registrySecret(c.secretName), gatewayBase, {
        adapter: 'prometheus',
        url: prometheusUrl,
      }),
    );
    writeFileSync(p.tokens, tokensYaml(tokens));
    // The API's message-signing key: every message it sends a rotation carries its signature. Kept
    // apart from config/ (which the leak check reads): it must appear nowhere else.
    mkdirSync(path.join(opts.dir, 'keys'), { recursive: true, mode: 0o700 });
    const signingKey = path.join(opts.dir, 'keys', 'message-signing-key.pem');
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(signingKey, pem, { mode: 0o600 });
    secrets.add(pem.split('\n')[1]!);
    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const settings: Record<string, string> = {
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_UI_URL: temporalUi,
      REKEY_TASK_QUEUE: TASK_QUEUE,
      NODE_EXTRA_CA_CERTS: p.caBundle,
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_PORT: String(apiPort),
      REKEY_API_TOKENS_FILE: p.tokens,
      REKEY_MESSAGE_SIGNING_KEY_FILES: signingKey,
      REKEY_WORKER_METRICS_PORT: String(await freePort()),
      REKEY_TEMPORAL_METRICS_PORT: String(await freePort()),
      REKEY_CREDENTIALS_FILE: p.registry,
      REKEY_EVIDENCE_DIR: p.evidence,
      REKEY_LOG_LEVEL: 'info',
    };
    writeFileSync(
      path.join(p.config, 'settings.env'),
      '# The settings the demo gave the worker and the API (config/settings.ts); no secrets here.\n' +
        Object.entries(settings)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
    );
    // The secret backend's own settings (a dev token, emulator mode, local AWS keys) go in the environment
    // only: they are not rekey settings, and settings.env stays free of tokens.
    const childEnv = { ...process.env, ...settings, ...secretStore.env, PATH: childPath };
    procs.spawn('worker', 'npm', ['run', 'worker'], p.log('worker'), childEnv);
    procs.spawn('api', 'npm', ['run', 'api'], p.log('api'), childEnv);
    procs.urls = {
      temporalUi,
      api: apiUrl,
      gateway: gatewayBase,
      secretStore: secretStore.url,
      prometheus: prometheusUrl,
    };
    procs.save();
    say(
      `  settings            ${path.relative(opts.dir, path.join(p.config, 'settings.env'))} (REKEY_* and TEMPORAL_* as config/settings.ts names them)`,
    );
    say(
      `  credential registry ${path.relative(opts.dir, p.registry)}: ${c.name} (${c.environment}), litellm adapter, prometheus telemetry (${prometheusUrl}: per-key requests, 401/403, 429, 5xx, latency, tokens, spend, per end user and team)`,
    );
    say(
      `  API tokens          ${path.relative(opts.dir, p.tokens)}: ${Object.values(tokens)
        .map((t) => `${t.principal} (${t.roles.join(', ')})`)
        .join(', ')} — SHA-256 only`,
    );
    const temporalConn = await Connection.connect({ address: temporalAddress });
    try {
      await until(
        'the worker polling its task queue',
        async () => {
          if (!procs.running('worker')) throw new Error('the worker exited');
          const res = await temporalConn.workflowService.describeTaskQueue({
            namespace: 'default',
            taskQueue: { name: TASK_QUEUE },
            taskQueueType: 1,
          });
          return (res.pollers ?? []).length > 0 ? true : undefined;
        },
        120_000,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (see ${p.log('worker')})`);
      });
    } finally {
      await temporalConn.close();
    }
    say(`  worker              polling ${TASK_QUEUE}   (worker.log)`);
    await until(
      'the API',
      async () => {
        if (!procs.running('api')) throw new Error('the API exited');
        return (await fetch(`${apiUrl}/readyz`)).ok ? true : undefined;
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (see ${p.log('api')})`);
    });
    say(`  API                 ${apiUrl} (/docs, /metrics)   (api.log)`);
    const warm = app.statsOf(oldFp);
    say(
      `  app so far          ${oldFp}: ${warm ? describeStats(warm) : 'no calls yet'} — this is the baseline`,
    );
    // rekey reads the baseline from Prometheus at PREPARING: wait until it has the old key's requests
    // and enough scrapes for a p95 (a rate needs two), or the latency check would have nothing to compare.
    const scraped = await until(
      `Prometheus scraping ${oldFp}`,
      async () => {
        const [requests, p95] = await Promise.all([
          promScalar(prometheusUrl, LITELLM_QUERIES.requests, oldFp),
          promScalar(prometheusUrl, LITELLM_QUERIES.p95LatencyMs, oldFp),
        ]);
        return requests > 0 && p95 > 0 ? { requests, p95 } : undefined;
      },
      30_000,
      500,
    );
    say(
      `  Prometheus          has scraped ${scraped.requests} of them (p95 ${Math.round(scraped.p95)} ms): what rekey reads as the old key's previous hour`,
    );

    // ── start ──
    heading("5. alice@demo starts the rotation with the seed's policy template");
    const ticket = `CHG-DEMO-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}`;
    const policyText = policyYaml(gatewayBase, ticket);
    writeFileSync(p.policy, policyText);
    // The policy as the API will read it, defaults filled in: what the hold will ask of each window.
    const policy = rotationPolicySchema.parse(parseYaml(policyText)).rotation;
    const cut = policy.cutover;
    const th = policy.thresholds;
    const intervalS = cut.check_interval_minutes * 60;
    say(
      `  policy: ${path.relative(opts.dir, p.policy)} (observation ${cut.observation_window_minutes} min, checks every ${intervalS} s, drain ${cut.drain_window_minutes} min, max hold ${cut.max_hold_minutes} min)`,
    );
    // A window is evidence only with enough app requests on the new key: the demo must send clearly
    // more than that, or every window would be inconclusive and the revoke gate would lack evidence.
    const perWindow = app.rate() * intervalS;
    say(
      `  evidence: a ${intervalS}-s window counts only with ≥ ${th.min_requests} app requests on the new key (thresholds.min_requests; rekey's own probes are not counted).`,
    );
    say(
      `            ${c.app} sends ~${app.rate().toFixed(1)} req/s (two request loops), ~${Math.round(perWindow)} per window: every window can carry evidence.`,
    );
    say(
      `            the new key must also keep ≥ ${th.min_volume_ratio * 100}% of the old key's baseline rate, per consumer and in total (thresholds.min_volume_ratio).`,
    );
    if (perWindow < 2 * th.min_requests)
      throw new Error(
        `the demo app sends only ~${Math.round(perWindow)} requests per ${intervalS}-s window, not clearly more than min_requests ${th.min_requests}`,
      );
    const start = await rekey(['start', '-f', p.policy], tokens.alice, apiUrl);
    const id = start.stdout.split('\n')[0]!.trim();
    const uiUrl = /temporal\s+(\S+)/.exec(start.stdout)?.[1] ?? temporalUi;

    // ── follow ──
    heading('6. the rotation, phase by phase (GET /v1/rotations/:id, the status query)');
    const follow = new Follower(apiUrl, id, tokens.alice.token);
    let final: RotationStatus;
    if (opts.scenario === 'completed') {
      const gate = await follow.until((s) => s.phase === 'AWAITING_REVOKE_APPROVAL', deadline);
      if (gate.phase !== 'AWAITING_REVOKE_APPROVAL')
        throw new Error(`the rotation ended ${gate.phase} before the revoke gate`);
      const evidence = gate.pendingGate?.evidence;
      const revokeGate = gate.gateEvidence.revoke;
      say(
        `  [${clock()}] the revoke gate is open with ${evidence ?? 'no'} evidence; the seed's rollback checks (status.gateEvidence.revoke.rows):`,
      );
      for (const r of revokeGate?.rows ?? []) {
        const mark = r.state === 'green' ? '✓' : r.state === 'red' ? '✗' : '?';
        say(`    ${mark} ${r.signal}${r.blocking ? '' : ' (does not block)'}`);
        for (const e of r.evidence) say(`        ${e}`);
      }
      say(describeBaseline(gate, th.min_volume_ratio));
      if (evidence !== 'positive') {
        const blockers = gate.pendingGate?.blockers ?? revokeGate?.blockers ?? [];
        say(`  the gate lacks positive evidence; blockers:`);
        for (const b of blockers) say(`    - ${b}`);
        // The happy path must not need a human accepting risk: that would hide what is wrong.
        throw new Error(
          `the revoke gate opened with ${evidence ?? 'no'} evidence: ${blockers.join('; ') || 'no blockers named'}`,
        );
      }
      say(
        `  [${clock()}] every blocking row is green; alice@demo requested this rotation, so she may not approve it:`,
      );
      const refused = await rekey(
        ['approve', id, '--gate', 'revoke', '--comment', 'my own rotation'],
        tokens.alice,
        apiUrl,
        1,
      );
      if (!/four-eyes/.test(refused.stderr)) throw new Error('four-eyes did not refuse the requester');
      say(`  [${clock()}] bob@demo (approver) approves:`);
      await rekey(
        ['approve', id, '--gate', 'revoke', '--comment', 'hold clean, old-key traffic at zero'],
        tokens.bob,
        apiUrl,
      );
      final = await follow.final(deadline);
      if (final.phase !== 'COMPLETED')
        throw new Error(`expected COMPLETED, the rotation ended ${final.phase}`);
    } else {
      const holding = await follow.until((s) => s.phase === 'HOLDING', deadline);
      if (holding.phase !== 'HOLDING') throw new Error(`the rotation ended ${holding.phase} before the hold`);
      const newKeyId = holding.gatewayKeys.new;
      if (!newKeyId) throw new Error('the status names no gateway key id for the new key');
      const res = await fetch(`${gatewayBase}/sim/faults/${newKeyId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin.masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ failRate: 0.5 }),
      });
      if (!res.ok) throw new Error(`fault injection answered ${res.status}`);
      say(
        `  [${clock()}] fault injected at the gateway: half the requests with the new key ${holding.fingerprints.new ?? ''} now fail with 500 (PUT /sim/faults/<key id>)`,
      );
      const newFp = holding.fingerprints.new!;
      // The rollback restores the old key as what apps read and keeps the replacement key enabled
      // (consumers that reloaded still use it): ROLLING_BACK waits until a human has it revoked.
      const kept = await follow.until((s) => s.pendingGate?.gate === 'replacement-key-revocation', deadline);
      if (kept.pendingGate?.gate !== 'replacement-key-revocation')
        throw new Error(
          `expected the rollback to wait for the kept replacement key's revocation; the rotation is ${kept.phase}`,
        );
      say(`  [${clock()}] rolled back: ${kept.rollbackCause ?? ''}`);
      say(
        `  [${clock()}] the replacement key ${kept.keptReplacementKey?.keyId ?? newKeyId} (${newFp}) stays enabled for consumers that reloaded; ${kept.phase} waits for its revocation (gate ${kept.pendingGate.gate}, ${kept.pendingGate.requiredRoles.join(' or ')})`,
      );
      const rollbackAt = Date.now();
      await until(
        `the app reading the old key ${oldFp} again`,
        () =>
          Promise.resolve(
            app!.fingerprint === oldFp && (app!.statsOf(oldFp)?.lastOkAt ?? 0) > rollbackAt
              ? true
              : undefined,
          ),
        30_000,
      );
      say(
        `  [${clock()}] app ${c.app} reads the old key ${oldFp} again, and the gateway answers it: ${describeStats(app.statsOf(oldFp)!)}`,
      );

      // rekey revokes the kept key only when telemetry shows it unused for max(drain window, check
      // interval). Asked at once, it refuses: the app used the key seconds ago.
      const quietMs = Math.max(cut.drain_window_minutes, cut.check_interval_minutes) * 60_000;
      const refusals = (s: RotationStatus | undefined) =>
        s?.timeline.filter((t) => t.event === 'replacement-key-revocation-refused') ?? [];
      /** bob asks; the workflow checks the kept key's traffic and revokes it or records a refusal. */
      const ask = async (reason: string) => {
        const before = refusals((await follow.poll()) ?? follow.last).length;
        await rekey(['revoke-replacement-key', id, '--reason', reason], tokens.bob, apiUrl);
        const answered = await follow.until(
          (s) => refusals(s).length > before || s.keptReplacementKey?.revokedAt !== undefined,
          deadline,
        );
        return answered.keptReplacementKey?.revokedAt !== undefined ? 'revoked' : 'refused';
      };
      const lastNewKeyUse = () => app!.statsOf(newFp)?.lastAt ?? 0;
      say(
        `  [${clock()}] bob@demo asks for the kept key's revocation right away (the app's last call with it ended ${((Date.now() - lastNewKeyUse()) / 1000).toFixed(1)} s ago):`,
      );
      const first = await ask('rollback done; the app is back on the old key');
      if (first === 'revoked') {
        const quietFor = Date.now() - lastNewKeyUse();
        if (quietFor < quietMs - 2 * SCRAPE_INTERVAL_S * 1000)
          throw new Error(
            `the kept key was revoked although the app used it ${Math.round(quietFor / 1000)} s ago, within the ${quietMs / 1000}-s drain check`,
          );
      } else {
        // Quiet for the whole check window, and scraped: Prometheus lags the gateway by one scrape.
        const readyAt = lastNewKeyUse() + quietMs + 2 * SCRAPE_INTERVAL_S * 1000 + 1000;
        say(
          `  [${clock()}] refused while the key still had traffic; the app has not used it since ${new Date(lastNewKeyUse()).toISOString().slice(11, 19)}, so bob waits ${Math.max(0, Math.round((readyAt - Date.now()) / 1000))} s (the ${quietMs / 1000}-s check window and the scrape) and asks again:`,
        );
        await sleep(Math.max(0, readyAt - Date.now()));
        const second = await ask(`no traffic on the kept key for ${quietMs / 1000} s`);
        if (second !== 'revoked') {
          const refusal = refusals(follow.last).at(-1)?.detail;
          throw new Error(
            `the kept replacement key was not revoked although the app has not used it for ${Math.round((Date.now() - lastNewKeyUse()) / 1000)} s: ${refusal ?? 'refused'}`,
          );
        }
      }
      final = await follow.final(deadline);
      if (final.phase !== 'ROLLED_BACK')
        throw new Error(`expected ROLLED_BACK, the rotation ended ${final.phase}`);
      const revoked = final.keptReplacementKey;
      if (!revoked?.revokedAt || revoked.revokedBy !== 'bob@demo')
        throw new Error('the status does not record the kept replacement key as revoked by bob@demo');
      // The gateway's own answer: its admin API marks the key deleted (LiteLLM answers 200 with
      // `status: "deleted"`, not 404), and a call with it is refused.
      const info = await fetch(`${gatewayBase}/key/info?key=${encodeURIComponent(newKeyId)}`, {
        headers: { authorization: `Bearer ${admin.masterKey}` },
      });
      const infoStatus = ((await info.json()) as { info?: { status?: string } }).info?.status;
      const refusedWith = await until(
        `the gateway refusing the revoked replacement key ${newFp}`,
        async () => {
          const status = await app!.statusWith(newFp, 'rekey-demo-check');
          return status === 401 || status === 403 ? status : undefined;
        },
        20_000,
        500,
      );
      say(
        `  [${clock()}] kept key revoked at ${revoked.revokedAt} by ${revoked.revokedBy}: the gateway's /key/info answers ${info.status} status ${infoStatus} for ${newKeyId}, and a call with ${newFp} gets ${refusedWith}`,
      );
    }
    for (const v of app.valuesSeen) secrets.add(v);

    // ── results ──
    heading(`7. ${final.phase}: the timeline (rekey status)`);
    await rekey(['status', id], tokens.alice, apiUrl);
    heading('8. evidence (rekey evidence --markdown)');
    const evidenceFile = final.evidence?.location;
    if (!evidenceFile) throw new Error('the rotation wrote no evidence bundle');
    const evidencePath = evidenceFile.replace(/^file:\/\//, '');
    await rekey(['evidence', id, '--markdown'], tokens.alice, apiUrl);
    // The bundle must hold up as a reviewer would check it: schema, every seed row, the hash chain.
    const store = createFilesystemEvidenceStore(p.evidence);
    const stored = await store.read(id);
    const bundle = stored && checkEvidenceBundle(stored.document.bundle);
    if (!bundle?.ok)
      throw new Error(`the evidence bundle of ${id} does not validate: ${bundle?.message ?? 'missing'}`);
    const rows = {
      'change ticket': bundle.bundle.changeTicket.approvals.length > 0 || final.phase === 'ROLLED_BACK',
      'secret version history': bundle.bundle.secretVersions.versions.length > 0,
      'gateway logs': bundle.bundle.gateway.canary.requests.length > 0,
      'negative test': final.phase !== 'COMPLETED' || bundle.bundle.negativeTest.oldKeyRejected === true,
      'exception list': Array.isArray(bundle.bundle.exceptions.consumers),
      'post-change review': bundle.bundle.postChangeReview.before !== null,
    };
    const missing = Object.entries(rows)
      .filter(([, ok]) => !ok)
      .map(([row]) => row);
    if (missing.length) throw new Error(`the evidence bundle lacks seed rows: ${missing.join(', ')}`);
    const verified = await verifyEvidenceStore(store, { dir: p.evidence });
    if (!verified.ok) throw new Error(`the evidence store does not verify: ${verified.problems.join('; ')}`);
    say(
      `  evidence verified: schema v${bundle.bundle.schemaVersion}, seed rows ${Object.keys(rows).join(', ')}; hash chain of ${verified.links} link(s) sound`,
    );

    await app.stop();
    heading('9. summary');
    say(`  rotation     ${id}: ${final.phase} (${final.outcome ?? '-'})`);
    say(`  Temporal UI  ${uiUrl}`);
    say(`  evidence     ${evidencePath} (sha256 ${final.evidence?.sha256 ?? '?'})`);
    say(`  app traffic  ${c.app}, per key it read from ${c.secretName}:`);
    for (const s of app.allStats()) {
      say(`                 ${s.fingerprint} (version ${s.versions.join(', then ')}): ${describeStats(s)}`);
    }
    say(`  took         ${clock()} (mm:ss)`);

    // ── leak check ──
    const targets = [
      { label: 'the demo output', content: transcript.text() },
      ...filesToScan(
        opts.dir,
        opts.dir,
        (n) => n.endsWith('.log') || n.endsWith('.sqlite') || n.endsWith('.sqlite-wal'),
      ),
      ...filesToScan(opts.dir, p.evidence, () => true),
      ...filesToScan(opts.dir, p.config, () => true),
      // Its config and TSDB (WAL, head chunks): series labels carry key hashes, never key values.
      ...filesToScan(opts.dir, p.prometheus, (n) => !n.endsWith('.log')),
    ];
    // Less the two API tokens and the message-signing key.
    const keyCount = secrets.size - 3;
    // The secret store's own access token (OpenBao's dev root token) must appear nowhere either.
    const storeToken = secretStore.env.VAULT_TOKEN;
    const leaks = findLeaks(new Set([...secrets, ...(storeToken ? [storeToken] : [])]), targets);
    if (leaks.length > 0) {
      say(`  LEAK CHECK FAILED: a key or token made by the demo appears in ${leaks.join(', ')}`);
      return 1;
    }
    say(
      `  leak check   ${keyCount} key values, 2 API tokens, the message-signing key${storeToken ? ' and the store token' : ''} searched in the demo output, ${targets.length - 1} files (logs, Temporal database, Prometheus TSDB, evidence, config): none found`,
    );
    outcome = 0;
  } catch (err) {
    if (err instanceof Interrupted || abort.signal.aborted) {
      outcome = 130;
    } else {
      say();
      say(`[rekey demo] FAILED: ${(err as Error).message}`);
      say(`[rekey demo] logs: ${RUN_FOR_HUMANS(opts.dir)}/*.log`);
      outcome = 1;
    }
  } finally {
    await app?.stop().catch(() => undefined);
    if (opts.keep && outcome === 0) {
      procs.keep = true;
      procs.save();
      heading('the stack stays up (KEEP=1)');
      say(`  Temporal UI  ${procs.urls.temporalUi}`);
      say(`  API          ${procs.urls.api}/docs (the demo's tokens are gone with it: open endpoints only)`);
      say(`  gateway      ${procs.urls.gateway}`);
      say(`  Prometheus   ${procs.urls.prometheus}`);
      say(`  stop it with: make demo-down`);
    } else {
      const stopped = await procs.stopAll();
      if (stopped.length) say(`[rekey demo] stopped ${stopped.join(', ')}`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    transcript.restore();
  }
  return outcome;
}

async function down(dir: string): Promise<number> {
  const p = demoPaths(dir);
  if (!readState(p.state)) {
    console.log('no demo is running');
    return 0;
  }
  const stopped = await stopRecorded(p.state);
  console.log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running any more');
  return 0;
}

function usage(): never {
  console.error(
    'usage: tsx scripts/demo.ts [run] [--scenario completed|rollback] [--backend azure|vault|aws] [--keep]\n' +
      '                            [--dir DIR] [--timeout-minutes N]\n' +
      '       tsx scripts/demo.ts down [--dir DIR]',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { command: 'run' | 'down'; opts: Options } {
  const opts: Options = {
    scenario: 'completed',
    backend: DEFAULT_BACKEND,
    keep: false,
    dir: path.join(ROOT, '.run', 'demo'),
    timeoutMs: 5 * 60_000,
  };
  let command: 'run' | 'down' = 'run';
  const args = [...argv];
  if (args[0] === 'run' || args[0] === 'down') command = args.shift() as 'run' | 'down';
  while (args.length) {
    const a = args.shift()!;
    const value = () => args.shift() ?? usage();
    if (a === '--scenario') {
      const s = value();
      // SCENARIO= from make arrives empty when not given.
      if (s === '') continue;
      if (!(s in SCENARIOS)) {
        console.error(`unknown scenario ${s}: ${Object.keys(SCENARIOS).join(' or ')}`);
        process.exit(2);
      }
      opts.scenario = s as Scenario;
    } else if (a === '--backend') {
      const b = value();
      // BACKEND= from make arrives empty when not given.
      if (b === '') continue;
      try {
        opts.backend = backendOf(b);
      } catch (err) {
        console.error((err as Error).message);
        process.exit(2);
      }
    } else if (a === '--keep') opts.keep = true;
    else if (a === '--dir') opts.dir = path.resolve(value());
    else if (a === '--timeout-minutes') opts.timeoutMs = Number(value()) * 60_000;
    else usage();
  }
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) usage();
  return { command, opts };
}

const { command, opts } = parseArgs(process.argv.slice(2));
(command === 'down' ? down(opts.dir) : run(opts)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[rekey demo] ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
