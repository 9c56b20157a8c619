// rekey on the real cluster (scripts/cluster-stack.ts, brought up by global-setup.ts), every part its
// own OS process as in production: two workers (`tsx worker.ts`) and two APIs (`tsx api/server.ts`) on
// one task queue with the settings of config/settings.ts, the reference gateway (`tsx simulator/main.ts`),
// Key Vault (the reference Key Vault, over TLS trusted through NODE_EXTRA_CA_CERTS), and
// a Prometheus of its own scraping the gateway every second as the credentials' telemetry. Apps that read
// the stable secret and call the gateway give the hold windows their traffic (scripts/demo/app-traffic.ts).
// Every process group it starts is recorded in processes.json, so that global-teardown.ts stops them
// also when a test fails, and global-setup.ts reaps those of a killed run.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SecretClient } from '@azure/keyvault-secrets';
import { Client, Connection } from '@temporalio/client';
import { parse as parseYaml, stringify } from 'yaml';
import { createSecretClient } from '../../activities/secrets';
import { LITELLM_QUERIES } from '../../activities/telemetry';
import { tokenHash } from '../../api/auth';
import { parseRegistry } from '../../config/registry';
import { readClusterState, type ClusterState } from '../../scripts/cluster-state';
import { AppTraffic } from '../../scripts/demo/app-traffic';
import { SEED_POLICY_FILE } from '../../scripts/demo/config';
import {
  ROOT,
  TOOLS,
  applyNodeExtraCaCerts,
  freePort,
  promScalar,
  startKeyVault,
  startProcess,
  startPrometheus,
  stopProcessGroup,
  waitFor,
} from '../../scripts/local-stack';
import { TERMINAL_PHASES, type Phase, type RotationStatus } from '../../workflows/messages';

/** Where each run of the cluster suite keeps its files, one folder per run. */
export const CLUSTER_TEST_BASE = path.join(ROOT, '.run', 'cluster', 'tests');

/** What processes.json records. */
export interface RecordedProcesses {
  ownerPid: number;
  servers: { name: string; pid: number }[];
}

export type Who = 'alice' | 'bob' | 'dave';
const PRINCIPALS: Record<Who, { principal: string; roles: string[] }> = {
  alice: { principal: 'alice@cluster', roles: ['requester', 'approver'] },
  bob: { principal: 'bob@cluster', roles: ['approver'] },
  dave: { principal: 'dave@cluster', roles: ['viewer'] },
};

/** A rekey process (worker or API) the stack started; `kill` sends a signal to its whole group. */
export interface RekeyProcess {
  name: string;
  /** The process group (the tsx launcher's pid). */
  pid: number;
  log: string;
  running(): boolean;
  /** SIGKILL: a crash, nothing drains. */
  kill(): Promise<void>;
  /** SIGTERM: a graceful stop (the worker drains, the API finishes its requests). */
  stop(): Promise<void>;
  /** Starts it again with the same settings and waits until it is ready. */
  restart(): Promise<void>;
}

export interface ClusterApi extends RekeyProcess {
  url: string;
}

export interface RotationClusterStack {
  cluster: ClusterState;
  /** A client of the cluster in the test process: histories, descriptions, termination. */
  client: Client;
  taskQueue: string;
  /** This run's environment: every credential and rotation id of the run carries it. */
  environment: string;
  workers: RekeyProcess[];
  apis: ClusterApi[];
  gatewayBase: string;
  vault: SecretClient;
  /** The process group a worker's Temporal identity (`pid@host`) belongs to. */
  workerOf(identity: string): RekeyProcess | undefined;
  /** Starts an app of the credential on its old key; waits until Prometheus has its baseline. */
  startApp(credential: string): Promise<AppTraffic>;
  /** `environment:credential:ticket`, the API's rotation id. */
  idOf(credential: string, ticket: string): string;
  /** The seed's policy template for the credential with a short cutover; `flipApproval` parks it at the flip. */
  policy(credential: string, ticket: string, opts?: { flipApproval?: boolean }): string;
  /** One request to an API process; the body's JSON (or text) and status. */
  call(
    api: ClusterApi,
    method: 'GET' | 'POST',
    url: string,
    who: Who,
    body?: unknown,
  ): Promise<{ status: number; json: <T = unknown>() => T; text: string }>;
  /** POST /v1/rotations as alice through the API. */
  start(
    api: ClusterApi,
    credential: string,
    ticket: string,
    opts?: { flipApproval?: boolean },
  ): Promise<string>;
  /** Polls GET /v1/rotations/:id on the API until `done` holds; throws when the rotation ends otherwise. */
  until(
    api: ClusterApi,
    id: string,
    done: (s: RotationStatus) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<RotationStatus>;
  untilPhase(api: ClusterApi, id: string, phases: Phase[], timeoutMs?: number): Promise<RotationStatus>;
  /** Approves (or rejects) a gate through the API as bob; the answer's status and body. */
  decide(
    api: ClusterApi,
    id: string,
    gate: 'flip' | 'revoke',
    decision?: 'approve' | 'reject',
  ): Promise<{ status: number; body: unknown }>;
  /** Terminates the run's running rotations, stops apps and every process the stack started. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The process group a pid belongs to (Linux: field 5 of /proc/<pid>/stat). */
function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

function groupAlive(pid: number): boolean {
  // kill(-0) would signal this very process group.
  if (!(pid > 0)) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the stack on the cluster global setup brought up, for the given credential names. */
export async function startRotationCluster(credentials: string[]): Promise<RotationClusterStack> {
  const cluster = readClusterState();
  if (!cluster) throw new Error('no cluster: the cluster suite runs through `make test-cluster`');
  const run = randomBytes(3).toString('hex');
  const dir = path.join(CLUSTER_TEST_BASE, `run-${run}`);
  mkdirSync(dir, { recursive: true });
  const recorded: RecordedProcesses = { ownerPid: process.pid, servers: [] };
  const record = (name: string, pid: number) => {
    recorded.servers.push({ name, pid });
    writeFileSync(path.join(dir, 'processes.json'), JSON.stringify(recorded, null, 2));
  };
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  const environment = `cluster-${run}`;
  const taskQueue = `rekey-cluster-${run}`;

  try {
    // Key Vault, and Node's trust of its certificate (this process, and every child through the env).
    const vault = await startKeyVault({
      httpsPort: await freePort(),
      logFile: path.join(dir, 'key-vault.log'),
      stateFile: path.join(dir, 'reference-key-vault.json'),
    });
    record('key-vault', vault.pid);
    closers.push(() => vault.stop());
    const caBundle = path.join(dir, 'extra-ca-certs.pem');
    writeFileSync(caBundle, readFileSync(vault.certPem, 'utf8'));
    process.env.NODE_EXTRA_CA_CERTS = caBundle;
    applyNodeExtraCaCerts();

    // The reference gateway with a master key of this run, as its own process.
    const masterKey = `sk-master-${randomBytes(12).toString('hex')}`;
    const gatewayPort = await freePort();
    const gatewayBase = `http://127.0.0.1:${gatewayPort}`;
    const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
    const childPath = [path.join(TOOLS, 'bin'), path.dirname(process.execPath), process.env.PATH].join(
      path.delimiter,
    );
    const baseEnv: NodeJS.ProcessEnv = { PATH: childPath, HOME: process.env.HOME ?? ROOT, LANG: 'C.UTF-8' };
    const gateway = startProcess('gateway', tsx, ['simulator/main.ts'], path.join(dir, 'gateway.log'), {
      ...baseEnv,
      REKEY_SIMULATOR_PORT: String(gatewayPort),
      REKEY_SIMULATOR_MASTER_KEY: masterKey,
      REKEY_SIMULATOR_END_USER_METRICS: 'true',
      REKEY_RUN_DIR: dir,
    });
    record('gateway', gateway.server.pid);
    closers.push(() => gateway.server.stop());

    const prometheus = await startPrometheus({
      port: await freePort(),
      targets: [`127.0.0.1:${gatewayPort}`],
      scrapeIntervalS: 1,
      dir: path.join(dir, 'prometheus'),
      bearerToken: masterKey,
    });
    record('prometheus', prometheus.pid);
    closers.push(() => prometheus.stop());
    await waitFor(
      'the reference gateway',
      async () => (await fetch(`${gatewayBase}/health`)).ok,
      60_000,
      gateway.child,
    );

    // The gateway's admin key and each credential's current key, in Key Vault.
    const secretClient = createSecretClient(vault.url, { emulator: true });
    await secretClient.setSecret('gateway-master-key', masterKey);
    const newGatewayKey = async (app: string) => {
      const res = await fetch(`${gatewayBase}/key/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          models: ['gpt-4o-mini', 'text-embedding-3-small'],
          team_id: 'platform-ai',
          key_alias: app,
          metadata: { owner: 'platform-ai' },
        }),
      });
      if (!res.ok) throw new Error(`the gateway refused /key/generate: ${res.status}`);
      return ((await res.json()) as { key: string }).key;
    };
    const appOf = (credential: string) => `${credential}-app`;
    // LiteLLM refuses keys whose team does not exist: the platform team creates it, not rekey.
    const team = await fetch(`${gatewayBase}/team/new`, {
      method: 'POST',
      headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ team_id: 'platform-ai', team_alias: 'platform-ai' }),
    });
    if (!team.ok) throw new Error(`the gateway refused /team/new: ${team.status}`);
    for (const c of credentials) await secretClient.setSecret(c, await newGatewayKey(appOf(c)));

    const registryFile = path.join(dir, 'credentials.yaml');
    const registryText = stringify({
      credentials: credentials.map((c) => ({
        name: c,
        environment,
        secret: { backend: 'azure-key-vault', vault_url: vault.url, name: c },
        gateway: {
          base_url: `${gatewayBase}/v1`,
          admin_adapter: 'litellm',
          admin_base_url: gatewayBase,
          admin_key_secret: 'gateway-master-key',
        },
        telemetry: { adapter: 'prometheus', url: prometheus.url },
        consumers: [{ app: appOf(c), environment, reload: 'dynamic', owner: 'platform-ai' }],
        approval_roles: { revoke: ['approver'] },
      })),
    });
    parseRegistry(registryText, registryFile);
    writeFileSync(registryFile, registryText);
    const tokens = Object.fromEntries(
      (Object.keys(PRINCIPALS) as Who[]).map((w) => [w, `rkc_${randomBytes(20).toString('hex')}`]),
    ) as Record<Who, string>;
    const tokensFile = path.join(dir, 'api-tokens.yaml');
    writeFileSync(
      tokensFile,
      stringify(
        (Object.keys(PRINCIPALS) as Who[]).map((w) => ({ sha256: tokenHash(tokens[w]), ...PRINCIPALS[w] })),
      ),
    );

    // One message-signing key for both APIs, as every replica of a deployment shares it: a rotation one
    // API started is approved through the other.
    const signingKeyFile = path.join(dir, 'message-signing-key.pem');
    writeFileSync(
      signingKeyFile,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      { mode: 0o600 },
    );

    // The settings both workers and both APIs get (config/settings.ts), as a deployment would set them.
    const settings: NodeJS.ProcessEnv = {
      ...baseEnv,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      REKEY_TASK_QUEUE: taskQueue,
      REKEY_AZURE_KEYVAULT_EMULATOR: 'true',
      NODE_EXTRA_CA_CERTS: caBundle,
      REKEY_CREDENTIALS_FILE: registryFile,
      REKEY_API_TOKENS_FILE: tokensFile,
      REKEY_MESSAGE_SIGNING_KEY_FILES: signingKeyFile,
      REKEY_EVIDENCE_DIR: path.join(dir, 'evidence'),
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_SHUTDOWN_SECONDS: '5',
      REKEY_LOG_LEVEL: 'info',
    };
    const connection = await Connection.connect({ address: cluster.address });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: cluster.namespace });

    const pollerGroups = async () => {
      const res = await connection.workflowService.describeTaskQueue({
        namespace: cluster.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: 1,
      });
      return new Set(
        (res.pollers ?? []).map((p) => processGroupOf(Number((p.identity ?? '').split('@')[0]))),
      );
    };

    const rekeyProcess = (
      name: string,
      entry: string,
      env: NodeJS.ProcessEnv,
      ready: (p: RekeyProcess) => Promise<boolean>,
    ): RekeyProcess => {
      const log = path.join(dir, `${name}.log`);
      const handle: RekeyProcess = {
        name,
        pid: 0,
        log,
        running: () => handle.pid > 0 && groupAlive(handle.pid),
        kill: async () => {
          if (!handle.running()) return;
          process.kill(-handle.pid, 'SIGKILL');
          while (handle.running()) await sleep(50);
        },
        stop: async () => {
          if (handle.running()) await stopProcessGroup(handle.pid, 15_000);
        },
        restart: async () => {
          if (handle.running()) await handle.stop();
          const started = startProcess(name, tsx, [entry], log, { ...settings, ...env });
          handle.pid = started.server.pid;
          record(name, handle.pid);
          await waitFor(`${name} ready`, () => ready(handle), 90_000, started.child).catch((err: Error) => {
            throw new Error(`${err.message} (log: ${log})`);
          });
        },
      };
      closers.push(() => handle.stop());
      return handle;
    };
    const workers: RekeyProcess[] = [];
    for (const i of [1, 2]) {
      workers.push(
        rekeyProcess(
          `worker-${i}`,
          'worker.ts',
          {
            REKEY_WORKER_METRICS_PORT: String(await freePort()),
            REKEY_TEMPORAL_METRICS_PORT: String(await freePort()),
          },
          async (w) => (await pollerGroups()).has(w.pid),
        ),
      );
    }
    const apis: ClusterApi[] = [];
    for (const i of [1, 2]) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const api = rekeyProcess(`api-${i}`, 'api/server.ts', { REKEY_API_PORT: String(port) }, async () => {
        return (await fetch(`${url}/readyz`)).ok;
      });
      apis.push(Object.assign(api, { url }));
    }
    // Four Node processes compile the project at once: on 2 cores that takes a while.
    await Promise.all([...workers, ...apis].map((p) => p.restart()));

    const apps: AppTraffic[] = [];
    closers.push(async () => {
      for (const a of apps) await a.stop();
    });
    // Runs first on close: rotations of the run end before the workers go.
    closers.push(async () => {
      for await (const wf of client.workflow.list({
        query: `RotationEnvironment = '${environment}' AND ExecutionStatus = 'Running'`,
      })) {
        await client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .terminate('cluster test over')
          .catch(() => undefined);
      }
    });

    const call: RotationClusterStack['call'] = async (api, method, url, who, body) => {
      const res = await fetch(`${api.url}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[who]}`,
          ...(body === undefined
            ? {}
            : { 'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json' }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      return { status: res.status, text, json: <T>() => JSON.parse(text) as T };
    };
    const policy: RotationClusterStack['policy'] = (credential, ticket, opts = {}) => {
      const seed = parseYaml(readFileSync(SEED_POLICY_FILE, 'utf8')) as { rotation: Record<string, unknown> };
      const r = seed.rotation;
      return stringify({
        rotation: {
          ...r,
          credential,
          owner: 'platform-ai',
          environment,
          reason: 'scheduled security rotation (cluster test)',
          change_ticket: { id: ticket, rollback_owner: 'bob@cluster' },
          scope: { ...(r.scope as object), apps: [appOf(credential)], gateway_base_url: `${gatewayBase}/v1` },
          cutover: {
            ...(r.cutover as object),
            observation_window_minutes: 1,
            check_interval_minutes: 0.25,
            drain_window_minutes: 0,
            max_hold_minutes: 5,
          },
          ...(opts.flipApproval ? { approvals: { flip_approval_required: true } } : {}),
        },
      });
    };
    const idOf = (credential: string, ticket: string) => `${environment}:${credential}:${ticket}`;
    const start: RotationClusterStack['start'] = async (api, credential, ticket, opts) => {
      const res = await call(api, 'POST', '/v1/rotations', 'alice', policy(credential, ticket, opts));
      if (res.status !== 201) throw new Error(`POST /v1/rotations answered ${res.status}: ${res.text}`);
      return res.json<{ id: string }>().id;
    };
    const until: RotationClusterStack['until'] = async (api, id, done, what, timeoutMs = 4 * 60_000) => {
      const deadline = Date.now() + timeoutMs;
      let last: RotationStatus | null = null;
      for (;;) {
        const res = await call(api, 'GET', `/v1/rotations/${encodeURIComponent(id)}`, 'dave').catch(
          () => undefined,
        );
        if (res?.status === 200) last = res.json<{ detail: RotationStatus | null }>().detail;
        if (last && done(last)) return last;
        if ((last && TERMINAL_PHASES.includes(last.phase)) || Date.now() > deadline) {
          throw new Error(
            `${id} is ${last?.phase ?? `unknown (${res?.status ?? 'no answer'})`}, expected ${what}: ${JSON.stringify(last?.failure ?? last?.timeline.slice(-4))}`,
          );
        }
        await sleep(500);
      }
    };
    const decide: RotationClusterStack['decide'] = async (api, id, gate, decision = 'approve') => {
      const res = await call(api, 'POST', `/v1/rotations/${encodeURIComponent(id)}/approvals`, 'bob', {
        gate,
        decision,
        ...(decision === 'reject' ? { reason: 'not this week' } : { comment: 'evidence reviewed' }),
      });
      return { status: res.status, body: JSON.parse(res.text) as unknown };
    };
    const startApp: RotationClusterStack['startApp'] = async (credential) => {
      const app = new AppTraffic({
        read: async () => {
          const s = await secretClient.getSecret(credential);
          return s.value === undefined ? undefined : { value: s.value, version: s.properties.version ?? '?' };
        },
        gatewayBaseUrl: `${gatewayBase}/v1`,
        app: appOf(credential),
      });
      await app.start();
      apps.push(app);
      // PREPARING reads the old key's baseline from Prometheus: its requests and a p95 need two scrapes.
      const fp = app.fingerprint!;
      await waitFor(
        `Prometheus scraping ${fp}`,
        async () =>
          (await promScalar(prometheus.url, LITELLM_QUERIES.requests, fp)) > 0 &&
          (await promScalar(prometheus.url, LITELLM_QUERIES.p95LatencyMs, fp)) > 0,
        30_000,
      );
      return app;
    };

    return {
      cluster,
      client,
      taskQueue,
      environment,
      workers,
      apis,
      gatewayBase,
      vault: secretClient,
      workerOf: (identity) => {
        const group = processGroupOf(Number(identity.split('@')[0]));
        return workers.find((w) => w.pid === group);
      },
      startApp,
      idOf,
      policy,
      call,
      start,
      until,
      untilPhase: (api, id, phases, timeoutMs) =>
        until(api, id, (s) => phases.includes(s.phase), phases.join('|'), timeoutMs),
      decide,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Stops the process groups of every run folder whose owner is gone (of all of them with `all`) and
 * removes those folders, unless REKEY_KEEP_TEST_RUN=1 keeps their logs.
 */
export async function reapClusterTestRuns(opts: { all?: boolean } = {}): Promise<void> {
  for (const entry of existsSync(CLUSTER_TEST_BASE) ? readdirSync(CLUSTER_TEST_BASE) : []) {
    const dir = path.join(CLUSTER_TEST_BASE, entry);
    let state: RecordedProcesses | undefined;
    try {
      state = JSON.parse(readFileSync(path.join(dir, 'processes.json'), 'utf8')) as RecordedProcesses;
    } catch {
      // A run killed before it recorded anything, or while writing: nothing reliable to stop.
    }
    if (state && !opts.all) {
      let ownerAlive = true;
      try {
        process.kill(state.ownerPid, 0);
      } catch {
        ownerAlive = false;
      }
      if (ownerAlive) continue;
    }
    for (const s of [...(state?.servers ?? [])].reverse())
      if (groupAlive(s.pid)) await stopProcessGroup(s.pid);
    if (process.env.REKEY_KEEP_TEST_RUN !== '1') rmSync(dir, { recursive: true, force: true });
    else if (state)
      writeFileSync(path.join(dir, 'processes.json'), JSON.stringify({ ...state, servers: [] }));
  }
}
