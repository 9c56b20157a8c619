// The real rotation stack for integration tests, on the servers the harness started: the reference
// gateway (simulator/), the secret stores (the reference Key Vault at AZURE_KEYVAULT_URL, OpenBao's KV v2,
// moto's Secrets Manager: each credential names its backend), a
// real Prometheus scraping the gateway every second as the worker's telemetry, a registry of the test's
// own credentials, the real worker with the real activities, and the API. Apps that read the stable
// secret path and call the gateway give the hold windows their traffic (`startApp`).
// Used by test/integration/api-rotation.test.ts (logs, webhooks, the CLI), gates-on-evidence.test.ts,
// temporal-ui.test.ts and adapter-rotations.test.ts (one full rotation per admin adapter).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { createActivities } from '../../activities';
import { createFilesystemEvidenceStore } from '../../activities/evidence';
import { createAppReportStore } from '../../activities/telemetry/app-reports';
import { fingerprint } from '../../domain/fingerprint';
import { buildApp, type ApiDeps } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadSettings, type Settings } from '../../config';
import { webhookAllowlistOf } from '../../config/settings';
import { parseRegistry } from '../../config/registry';
import { freePort, ROOT, startPrometheus } from '../../scripts/local-stack';
import { connectLocalStore, type LocalStore } from '../../scripts/stores/local-store';
import type { SecretBackendKind } from '../../domain/secrets';
import type { AdminAdapterKind } from '../../domain/activity-io';
import {
  adapterRegistryFields,
  adminBaseUrl,
  issueAppKey,
  STACK_OPENAI_PROJECT,
  STACK_OWNER,
} from './adapter-keys';
import { OPENBAO_ENV, WORKFLOW_BUNDLE_ENV } from '../harness/harness-state';
import { buildSimulator, type Simulator } from '../../simulator/app';
import type { Faults } from '../../simulator/state';
import { configureSpendLog, type SpendLogSettings } from '../../simulator/spend-log';
import { startReplicas, type ReplicaOptions, type RunningReplica } from '../../simulator/replicas';
import { buildActivityDeps, createRotationWorker, type WorkerTuning } from '../../worker';
import { createAutomationActivities } from '../../activities/automation';
import { createStagingTwinActivities } from '../../activities/automation/staging-twin';
import type { RotationStatus } from '../../workflows/messages';
import { decodedHistoryText } from '../workflows/rotation-harness';
import { startUsageReporter, type UsageReporter } from './app-reporter';
import { allRuns } from './histories';
import { EMULATOR_ENV } from './emulator-env';

/**
 * A credential the test registers; `manual` waits for a hand-off, the others issue their own key
 * through that gateway's admin API on the reference gateway (one admin key serves them all).
 */
export interface StackCredential {
  name: string;
  environment: string;
  ticket: string;
  adapter: AdminAdapterKind;
  /** Where its secret lives; the reference Key Vault by default. */
  backend?: SecretBackendKind;
}

/** erin is the stack apps' reporter (principal STACK_CONSUMER), for app-reports telemetry. */
export type Who = 'alice' | 'bob' | 'carol' | 'dave' | 'erin';

/** The consumer the registry and the policy name; stack apps call the gateway as this end user. */
export const STACK_CONSUMER = 'customer-chat-api';

export interface RotationStackOptions {
  /**
   * Settings for the worker's activities on top of the harness's, e.g. REKEY_WEBHOOK_SIGNING_SECRET;
   * the API's webhook allowlist comes from them too.
   */
  workerSettings?: Partial<Settings>;
  /** Listen on a local port, for the CLI; the stack's `apiUrl` is then set. */
  listen?: boolean;
  /**
   * The worker's telemetry: `prometheus` (default), a real Prometheus the stack starts, scraping the
   * gateway every second, which sees every per-key signal; or the gateway's spend log, which cannot
   * see per-key 401/403 (so with `auth_error_check: required` no hold window can pass); or
   * `app-reports`: the stack apps report their own counts through the API (as erin), a manual
   * credential then names no admin key at all, and nothing else watches the gateway.
   */
  telemetry?: 'prometheus' | 'litellm-spend-logs' | 'app-reports';
  /** The gateway's spend-log batch writer (rows written at once by default), for spend-log telemetry. */
  spendLog?: Partial<SpendLogSettings>;
  /** The registry's `telemetry.lag_seconds` for spend-log telemetry (the registry's default otherwise). */
  spendLogLagSeconds?: number;
  /**
   * Replicas of the gateway, each on its own port with its own propagation delay; the registry lists
   * them (`gateway.replicas`), so probes and the negative test run on each. Apps still call the primary.
   */
  replicas?: ReplicaOptions[];
  /** Registry fields added to each credential's entry, e.g. `rotation_policy` for self-started rotations. */
  registryFields?: (c: StackCredential) => Record<string, unknown>;
  /** API deps on top of the stack's, e.g. `exposures` for the leak-alert endpoints. */
  apiDeps?: Partial<ApiDeps>;
  /**
   * Runs the worker in a child process of its own (bench/worker-process.ts: the same worker, activities,
   * registry and settings, handed over in a file) instead of in this process beside the API and the
   * gateway, so that its memory and CPU are its alone (bench/fleet.ts reads its RSS); the stack's
   * `workerPid` is then set. Its output goes to this process's stderr and the stack's log lines.
   */
  workerProcess?: boolean;
  /** Node options of the worker's process with `workerProcess`, e.g. `--max-old-space-size=384`. */
  workerNodeArgs?: string[];
  /** The worker's cache and concurrency (worker.ts WorkerTuning); the Temporal SDK's defaults otherwise. */
  workerTuning?: WorkerTuning;
  /**
   * A workflow bundle prebuilt with bundleWorkflowCode and written to this file, instead of bundling at start;
   * by default the one the harness built for this jest run (REKEY_TEST_WORKFLOW_BUNDLE), if any.
   */
  workflowBundlePath?: string;
}

/** What bench/worker-process.ts builds its worker from (JSON, in the file its one argument names). */
export interface WorkerProcessSpec {
  settings: Settings;
  /** The stack's registry, as the YAML it parsed. */
  registryYaml: string;
  /** Where the secret backends read their settings (the emulators' and the harness stores'). */
  env: Record<string, string | undefined>;
  taskQueue: string;
  tuning?: WorkerTuning;
  workflowBundlePath?: string;
}

/** The child-process worker's script (run with `node --import tsx`). */
export const WORKER_PROCESS_SCRIPT = path.join(ROOT, 'bench', 'worker-process.ts');

/** Parts of the policy a test changes; each is merged over the stack's section of the same name. */
export interface PolicyOverrides {
  changeTicket?: Record<string, unknown>;
  cutover?: Record<string, unknown>;
  thresholds?: Record<string, unknown>;
  analysis?: Record<string, unknown>;
  approvals?: Record<string, unknown>;
  evidence?: Record<string, unknown>;
}

export interface UntilPhaseOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Every status read must answer 200 with a status (a jest expectation), instead of being retried. */
  expectOk?: boolean;
}

/** What a stack app saw with one key. */
export interface AppKeyStats {
  /** Answers by HTTP status ('network' when none came). */
  answers: Record<string, number>;
  firstAt: number;
  lastAt: number;
}

/** An app with dynamic reload: re-reads the stable secret path every second and calls the gateway at a steady pace. */
export interface StackApp {
  /** The fingerprint of the key it holds now. */
  readonly fingerprint: string;
  /** Per key fingerprint, what it was answered. */
  stats(fp: string): AppKeyStats | undefined;
  /** With app-reports telemetry: usage reports the API took, and refused (each answer's status). */
  readonly reports: { stored: number; refused: string[] };
  /** With app-reports telemetry: the app stops sending usage reports (it keeps calling the gateway). */
  stopReporting(): void;
  /** Resolves once it holds the key with this fingerprint (throws after the timeout). */
  untilKey(fp: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RotationStack {
  client: Client;
  app: FastifyInstance;
  gatewayBase: string;
  /** The gateway's replicas, when started with `replicas`. */
  replicas: RunningReplica[];
  /** The secret store of each backend the stack's credentials use (the harness's servers). */
  stores: Partial<Record<SecretBackendKind, Omit<LocalStore, 'server'>>>;
  /** What an app reads of a credential's stable secret right now, from its backend. */
  readSecret(c: StackCredential): Promise<string | undefined>;
  taskQueue: string;
  /** The Prometheus the worker reads, when the stack's telemetry is `prometheus`. */
  prometheusUrl: string | undefined;
  /** The listening API's URL, when started with `listen`. */
  apiUrl: string | undefined;
  /** Each principal's raw bearer token, e.g. for running the CLI as them. */
  tokens: Record<Who, string>;
  /** Every key value the stack created or an app read; none may appear in a history, a log or a response. */
  secrets: Set<string>;
  /** The body of every response `call` (and so `start` and `untilPhase`) received. */
  responses: string[];
  /** The API's log lines (pino, info) and what the worker's runtime logged while the stack ran. */
  logLines: string[];
  /** The value in `secrets` with this fingerprint (throws when there is none). */
  keyValue(fp: string): string;
  /** The reference gateway's admin key (every admin API's), for what a person does at the gateway. */
  gatewayAdminKey: string;
  /** Creates a fresh key on the gateway (and adds it to `secrets`). */
  newGatewayKey(): Promise<string>;
  /** Replaces a gateway key's injected faults (`PUT /sim/faults/<key id>`); `null` clears them. */
  setFaults(keyId: string, faults: Faults | null): Promise<void>;
  /** Changes the gateway's spend-log batch interval or row cap, as a restarted proxy would. */
  setSpendLog(settings: Partial<SpendLogSettings>): void;
  /** The status the gateway answers one chat completion made with this key value. */
  gatewayStatus(key: string): Promise<number>;
  /** Starts an app of the credential sending `requestsPerMinute` chat completions; stopped on close. */
  startApp(c: StackCredential, opts: { requestsPerMinute: number }): Promise<StackApp>;
  /** Where the API stores usage reports (and the worker reads them), with app-reports telemetry. */
  appReportsDir: string;
  /** The worker's process id when it runs in a child process (`workerProcess`). */
  workerPid: number | undefined;
  /**
   * Responses the primary gateway gave since the stack started, per `METHOD route` (the route's
   * pattern, e.g. `POST /key/generate`): admin calls and inference calls alike, the stack's own too.
   */
  gatewayRequests(): Record<string, number>;
  /** `${environment}:${name}:${ticket}`, the API's rotation id. */
  idOf(c: StackCredential): string;
  /** The rotation policy YAML for a credential, the seed's template with a short cutover. */
  policy(c: StackCredential, overrides?: PolicyOverrides): string;
  call(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    who: Who | null,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  /** Starts the credential's rotation through the API (POST /v1/rotations, 201 expected). */
  start(
    c: StackCredential,
    overrides?: PolicyOverrides,
  ): Promise<{ id: string; workflowId: string; runId: string; temporalUiUrl: string }>;
  /** Polls the status through the API until `done` holds; throws when the rotation ends otherwise. */
  untilStatus(
    id: string,
    done: (s: RotationStatus) => boolean,
    what: string,
    opts?: UntilPhaseOptions,
  ): Promise<RotationStatus>;
  /** Polls the status query through the API until the rotation is in one of the phases. */
  untilPhase(id: string, phases: string[], opts?: UntilPhaseOptions): Promise<RotationStatus>;
  /**
   * What on-call does for a manual gateway once the revoke gate is approved: waits for the revocation
   * confirmation gate, deletes the old key at the gateway, and confirms it (as carol).
   */
  revokeByHand(c: StackCredential, oldValue: string, opts?: UntilPhaseOptions): Promise<void>;
  /** The decoded workflow history (payloads included) of each credential's rotation. */
  histories(credentials: StackCredential[]): Promise<string[]>;
  /**
   * Throws, naming where, when a key value of `secrets` appears in a history of the credentials'
   * rotations, a log line, an API response or any of the `extra` texts.
   */
  assertNoKeyLeaks(credentials: StackCredential[], extra?: Record<string, string[]>): Promise<void>;
  /** Terminates the stack's rotations, stops apps, worker, API, connections, Prometheus and gateway. */
  close(): Promise<void>;
}

/**
 * A registry entry's `rotation_policy` for rotations rekey starts itself on the stack (schedules, expiry,
 * fleets): the seed's checks with a one-minute hold checked every 15 s, no drain wait, 20 requests a
 * window, and the flip approval as the test needs it.
 */
export function stackAutoPolicy(opts: { flipApproval: boolean }) {
  return {
    change_ticket: { rollback_owner: 'carol@example.com' },
    allowed_routes: ['chat-completions', 'responses'],
    pre_checks: { inventory_confirmed: true },
    cutover: { observation_window_minutes: 1, check_interval_minutes: 0.25, drain_window_minutes: 0 },
    thresholds: { min_requests: 20 },
    approvals: { flip_approval_required: opts.flipApproval },
  };
}

const TERMINAL = ['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why the stack cannot start here, or undefined when Key Vault is available. */
export function rotationStackUnavailableReason(): string | undefined {
  if (process.env.AZURE_KEYVAULT_URL) return undefined;
  return process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE ?? 'the harness set no AZURE_KEYVAULT_URL';
}

/**
 * The harness's server of a backend, as a store apps and the stack write and read through. Called only
 * for the backends a stack's credentials use: a stack of Key Vault credentials needs no OpenBao or moto.
 */
function harnessStore(kind: SecretBackendKind): Omit<LocalStore, 'server'> {
  const need = (name: string, why: string | undefined) => {
    const v = process.env[name];
    if (!v) throw new Error(`the harness set no ${name}${why ? `: ${why}` : ''}`);
    return v;
  };
  switch (kind) {
    case 'azure-key-vault':
      return connectLocalStore(kind, {
        url: need('AZURE_KEYVAULT_URL', process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE),
      });
    case 'hashicorp-vault':
      return connectLocalStore(kind, {
        url: need(OPENBAO_ENV.address, process.env[OPENBAO_ENV.unavailable]),
        token: need(OPENBAO_ENV.token, process.env[OPENBAO_ENV.unavailable]),
      });
    case 'aws-secrets-manager':
      return connectLocalStore(kind, {
        url: need('REKEY_TEST_MOTO_URL', process.env.REKEY_TEST_MOTO_UNAVAILABLE),
      });
  }
}

/** Starts the stack for the given credentials; each one's current key is a fresh gateway key in the vault. */
export async function startRotationStack(
  credentials: StackCredential[],
  opts: RotationStackOptions = {},
): Promise<RotationStack> {
  const missing = rotationStackUnavailableReason();
  if (missing) throw new Error(`no Key Vault for the rotation stack: ${missing}`);
  const backends = [...new Set(credentials.map((c) => c.backend ?? 'azure-key-vault'))];
  const stores = Object.fromEntries(backends.map((b) => [b, harnessStore(b)])) as Partial<
    Record<SecretBackendKind, Omit<LocalStore, 'server'>>
  >;
  const storeOf = (c: StackCredential) => stores[c.backend ?? 'azure-key-vault']!;
  const settings = loadSettings();
  const workflowBundlePath = opts.workflowBundlePath ?? process.env[WORKFLOW_BUNDLE_ENV];
  const run = randomBytes(3).toString('hex');
  const token = () => `rk_${randomBytes(16).toString('hex')}`;
  const tokens: Record<Who, string> = {
    alice: token(),
    bob: token(),
    carol: token(),
    dave: token(),
    erin: token(),
  };
  const masterKey = `sk-master-${randomBytes(12).toString('hex')}`;
  const secrets = new Set<string>([masterKey]);
  const responses: string[] = [];
  const logLines: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };

  try {
    // The worker's runtime logs (activity failures, workflow warnings) go to this process's stderr.
    const stderr = process.stderr;
    const stderrWrite = stderr.write.bind(stderr);
    const capture = (chunk: string | Uint8Array, ...rest: never[]) => {
      logLines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return stderrWrite(chunk, ...rest);
    };
    stderr.write = capture;
    closers.push(async () => {
      stderr.write = stderrWrite;
    });

    const dir = mkdtempSync(path.join(process.env.REKEY_TEST_RUN_DIR ?? tmpdir(), 'rotation-stack-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const evidenceDir = path.join(dir, 'evidence');
    const appReportsDir = path.join(dir, 'app-reports');
    const gateway: Simulator = buildSimulator({
      masterKey,
      // One admin key for every admin API, so the stack's single admin secret serves each adapter.
      provisioningKey: masterKey,
      portkeyAdminKey: masterKey,
      openAiAdmin: { adminKey: masterKey, projectId: STACK_OPENAI_PROJECT, projectName: STACK_OWNER },
      openRouterAccount: STACK_OWNER,
      // Per-consumer drain on Prometheus needs end users in the series, as a deployment turns it on.
      litellm: { endUserMetrics: true },
      ...(opts.spendLog ? { spendLog: opts.spendLog } : {}),
      now: Date.now,
    });
    // Counted per route before it listens (hooks are fixed at ready): what gatewayRequests answers.
    const gatewayRequests = new Map<string, number>();
    gateway.app.addHook('onResponse', async (req) => {
      const route = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
      gatewayRequests.set(route, (gatewayRequests.get(route) ?? 0) + 1);
    });
    const gatewayBase = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => gateway.app.close());
    const replicas = await startReplicas(gateway, opts.replicas ?? []);
    for (const r of replicas) closers.push(() => r.app.close());
    const asMaster = async (method: string, url: string, body?: unknown) => {
      const res = await fetch(`${gatewayBase}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${masterKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}`);
      return res;
    };
    // LiteLLM refuses keys whose team does not exist: the platform team creates it, not rekey.
    await asMaster('POST', '/team/new', { team_id: 'platform-ai', team_alias: 'platform-ai' });
    const newGatewayKey = async () => {
      const res = await asMaster('POST', '/key/generate', {
        models: ['gpt-4o-mini', 'text-embedding-3-small'],
        team_id: 'platform-ai',
      });
      const { key } = (await res.json()) as { key: string };
      secrets.add(key);
      return key;
    };

    const telemetryKind = opts.telemetry ?? 'prometheus';
    let prometheusUrl: string | undefined;
    if (telemetryKind === 'prometheus') {
      const prometheus = await startPrometheus({
        port: await freePort(),
        targets: [new URL(gatewayBase).host],
        scrapeIntervalS: 1,
        dir: path.join(dir, 'prometheus'),
        bearerToken: masterKey,
      });
      closers.push(() => prometheus.stop());
      prometheusUrl = prometheus.url;
    }

    // The admin key sits beside each credential's secret, in every store in use.
    const adminSecret = `rekey-stack-admin-${run}`;
    for (const b of backends) await stores[b]!.put(adminSecret, masterKey);
    for (const c of credentials) {
      const adapterKey = await issueAppKey(gatewayBase, masterKey, c.adapter, `${STACK_CONSUMER}-${c.name}`);
      if (adapterKey) secrets.add(adapterKey);
      await storeOf(c).put(c.name, adapterKey ?? (await newGatewayKey()));
    }
    const registryYaml = stringify(
      {
        credentials: credentials.map((c) => ({
          name: c.name,
          environment: c.environment,
          secret: storeOf(c).registrySecret(c.name),
          gateway: {
            base_url: `${gatewayBase}/v1`,
            admin_adapter: c.adapter,
            // A manual gateway has no key admin in rekey; its admin key only reads the spend log. On
            // app-reported telemetry it needs none.
            ...(c.adapter === 'manual' && telemetryKind === 'app-reports'
              ? {}
              : { admin_base_url: adminBaseUrl(gatewayBase, c.adapter), admin_key_secret: adminSecret }),
            ...adapterRegistryFields(c.adapter),
            ...(replicas.length ? { replicas: replicas.map((r) => `${r.base}/v1`) } : {}),
          },
          telemetry: prometheusUrl
            ? { adapter: 'prometheus', url: prometheusUrl }
            : {
                adapter: telemetryKind,
                ...(telemetryKind === 'litellm-spend-logs' && opts.spendLogLagSeconds !== undefined
                  ? { lag_seconds: opts.spendLogLagSeconds }
                  : {}),
              },
          consumers: [
            {
              app: STACK_CONSUMER,
              environment: c.environment,
              reload: 'dynamic',
              // App reports attribute usage to the reporting consumer's owner.
              ...(telemetryKind === 'app-reports' ? { owner: 'platform-ai' } : {}),
            },
          ],
          ...opts.registryFields?.(c),
        })),
      },
      // No YAML aliases for objects the entries share (registryFields' policy): past 100 of them the
      // parser refuses the registry as an alias bomb.
      { aliasDuplicateObjects: false },
    );
    const registry = parseRegistry(registryYaml, 'rotation stack registry');

    const taskQueue = `rotation-stack-${run}`;
    const workerSettings: Settings = {
      ...settings,
      REKEY_EVIDENCE_DIR: evidenceDir,
      REKEY_APP_REPORTS_DIR: appReportsDir,
      ...opts.workerSettings,
    };
    const storeEnv: Record<string, string | undefined> = {
      ...EMULATOR_ENV,
      ...Object.assign({}, ...backends.map((b) => stores[b]!.env)),
    };
    const deps = buildActivityDeps(workerSettings, { registry, env: storeEnv });
    const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
    let workerPid: number | undefined;
    if (opts.workerProcess) {
      const spec: WorkerProcessSpec = {
        settings: workerSettings,
        registryYaml,
        env: storeEnv,
        taskQueue,
        ...(opts.workerTuning ? { tuning: opts.workerTuning } : {}),
        ...(workflowBundlePath ? { workflowBundlePath } : {}),
      };
      const specFile = path.join(dir, 'worker-process.json');
      writeFileSync(specFile, JSON.stringify(spec), { mode: 0o600 });
      const child = await startWorkerProcess(specFile, opts.workerNodeArgs ?? []);
      workerPid = child.pid;
      closers.push(() => stopWorkerProcess(child));
    } else {
      const nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
      closers.push(() => nativeConnection.close());
      const worker: Worker = await createRotationWorker({
        connection: nativeConnection,
        namespace: settings.TEMPORAL_NAMESPACE,
        taskQueue,
        // The rotation's activities and the triggers' and fleets' (as worker.ts main registers them).
        activities: {
          ...createActivities(deps),
          ...createAutomationActivities({ ...deps, temporal: client }),
        },
        ...(opts.workerTuning ? { tuning: opts.workerTuning } : {}),
        ...(workflowBundlePath ? { workflowBundle: { codePath: workflowBundlePath } } : {}),
      });
      const workerRun = worker.run();
      closers.push(async () => {
        worker.shutdown();
        await workerRun;
      });
    }

    const apiLog = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const app = buildApp({
      temporal: client,
      registry,
      auth: new Authenticator([
        { sha256: tokenHash(tokens.alice), principal: 'alice@example.com', roles: ['requester', 'approver'] },
        { sha256: tokenHash(tokens.bob), principal: 'bob@example.com', roles: ['approver'] },
        { sha256: tokenHash(tokens.carol), principal: 'carol@example.com', roles: ['operator'] },
        { sha256: tokenHash(tokens.dave), principal: 'dave@example.com', roles: ['viewer'] },
        { sha256: tokenHash(tokens.erin), principal: STACK_CONSUMER, roles: ['reporter'] },
      ]),
      taskQueue,
      temporalUiUrl: settings.TEMPORAL_UI_URL,
      // The API checks ticket webhooks against the same allowlist the worker enforces.
      webhookTargets: webhookAllowlistOf({ ...settings, ...opts.workerSettings }),
      secretStoreFor: (c) => deps.secretStoreFor(c),
      evidence: createFilesystemEvidenceStore(evidenceDir),
      appReports: createAppReportStore(appReportsDir),
      logger: { level: 'info', stream: apiLog },
      // The API's early staging-twin check, as api/server.ts wires it.
      stagingTwin: (input) =>
        createStagingTwinActivities({ registry, temporal: () => client }).checkStagingTwin({
          input,
          nowMs: Date.now(),
        }),
      ...opts.apiDeps,
    });
    closers.push(() => app.close());
    let apiUrl: string | undefined;
    if (opts.listen) apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    else await app.ready();
    // Runs first on close: the stack's rotations end before the worker and connections go.
    closers.push(async () => {
      for (const c of credentials) {
        await client.workflow
          .getHandle(`rekey:${c.environment}:${c.name}`)
          .terminate('test over')
          .catch(() => undefined);
      }
    });

    const setFaults: RotationStack['setFaults'] = async (keyId, faults) => {
      const url = `/sim/faults/${encodeURIComponent(keyId)}`;
      await (faults ? asMaster('PUT', url, faults) : asMaster('DELETE', url));
    };
    const gatewayStatus: RotationStack['gatewayStatus'] = async (key) => {
      const res = await fetch(`${gatewayBase}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
      });
      await res.arrayBuffer();
      return res.status;
    };

    const startApp: RotationStack['startApp'] = async (c, { requestsPerMinute }) => {
      const stats = new Map<string, AppKeyStats>();
      const read = async () => {
        const value = await storeOf(c).appRead(c.name);
        if (!value) throw new Error(`no value at ${c.name}`);
        secrets.add(value);
        return value;
      };
      let key = await read();
      let client = new OpenAI({ apiKey: key, baseURL: `${gatewayBase}/v1`, maxRetries: 0, timeout: 10_000 });
      let running = true;
      const refresh = async () => {
        while (running) {
          await sleep(1000);
          // A vault hiccup keeps the key the app already has, as a real app would.
          const value = await read().catch(() => key);
          if (value !== key) {
            key = value;
            client = new OpenAI({
              apiKey: value,
              baseURL: `${gatewayBase}/v1`,
              maxRetries: 0,
              timeout: 10_000,
            });
          }
        }
      };
      // On app-reported telemetry the app reports its calls, with an hour of reports before it started.
      const reporter: UsageReporter | undefined =
        telemetryKind === 'app-reports'
          ? await startUsageReporter({
              consumer: STACK_CONSUMER,
              instance: `stack-app-${c.name}`,
              post: async (body) =>
                (await call('POST', reportsUrl(c), 'erin', body, { 'content-type': 'application/json' }))
                  .statusCode,
              currentFingerprint: () => fingerprint(key),
              backfillMinutes: 60,
              backfillRate: requestsPerMinute,
            })
          : undefined;
      const send = async () => {
        const pause = 60_000 / requestsPerMinute;
        for (let next = Date.now(); running;) {
          const fp = fingerprint(key);
          const startedAt = Date.now();
          let answer: string;
          try {
            await client.chat.completions.create({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: 'Where is order 4711?' }],
              user: STACK_CONSUMER,
            });
            answer = '200';
          } catch (err) {
            answer = err instanceof OpenAI.APIError && err.status ? String(err.status) : 'network';
          }
          const now = Date.now();
          reporter?.record(fp, answer, now - startedAt);
          const s = stats.get(fp) ?? { answers: {}, firstAt: now, lastAt: now };
          s.answers[answer] = (s.answers[answer] ?? 0) + 1;
          s.lastAt = now;
          stats.set(fp, s);
          // A steady pace, whatever each call took.
          next += pause;
          await sleep(Math.max(0, next - Date.now()));
        }
      };
      const tasks = [refresh(), send()];
      const stop = async () => {
        running = false;
        await Promise.allSettled([...tasks, reporter?.stop()]);
      };
      closers.push(stop);
      return {
        get fingerprint() {
          return fingerprint(key);
        },
        stats: (fp) => stats.get(fp),
        reports: reporter?.reports ?? { stored: 0, refused: [] },
        stopReporting: () => void reporter?.stop(),
        async untilKey(fp, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (fingerprint(key) !== fp) {
            if (Date.now() > deadline) throw new Error(`the app never read the key ${fp}`);
            await sleep(100);
          }
        },
        stop,
      };
    };

    const idOf = (c: StackCredential) => `${c.environment}:${c.name}:${c.ticket}`;
    const reportsUrl = (c: StackCredential) => `/v1/credentials/${c.environment}/${c.name}/usage-reports`;
    const call: RotationStack['call'] = async (method, url, who, payload, headers = {}) => {
      const res = await app.inject({
        method,
        url,
        headers: { ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...headers },
        ...(payload === undefined ? {} : { payload: payload as string }),
      });
      responses.push(res.body);
      return res;
    };
    const policy: RotationStack['policy'] = (c, o = {}) =>
      stringify({
        rotation: {
          credential: c.name,
          owner: 'platform-ai',
          environment: c.environment,
          reason: 'scheduled security rotation',
          change_ticket: { id: c.ticket, rollback_owner: 'carol@example.com', ...o.changeTicket },
          scope: {
            apps: [STACK_CONSUMER],
            gateway_base_url: `${gatewayBase}/v1`,
            allowed_routes: ['chat-completions', 'responses'],
          },
          pre_checks: { inventory_confirmed: true },
          cutover: {
            observation_window_minutes: 1,
            check_interval_minutes: 0.25,
            drain_window_minutes: 0,
            max_hold_minutes: 3,
            ...o.cutover,
          },
          ...(o.approvals ? { approvals: o.approvals } : {}),
          ...(o.thresholds ? { thresholds: o.thresholds } : {}),
          ...(o.analysis ? { analysis: o.analysis } : {}),
          evidence: {
            auth_error_check: 'required',
            usage_owner_check: 'required',
            cost_anomaly_check: 'required',
            old_key_negative_test: 'required',
            ...o.evidence,
          },
        },
      });
    const start: RotationStack['start'] = async (c, overrides) => {
      const res = await call('POST', '/v1/rotations', 'alice', policy(c, overrides), {
        'content-type': 'application/yaml',
      });
      if (res.statusCode !== 201)
        throw new Error(`POST /v1/rotations answered ${res.statusCode}: ${res.body}`);
      return res.json();
    };
    const untilStatus: RotationStack['untilStatus'] = async (
      id,
      done,
      what,
      { timeoutMs = 60_000, intervalMs = 500, expectOk = false } = {},
    ) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/v1/rotations/${encodeURIComponent(id)}`, 'dave');
        if (expectOk) expect(res.statusCode).toBe(200);
        const s = res.statusCode === 200 ? res.json<{ detail: RotationStatus | null }>().detail : null;
        if (expectOk && !s) throw new Error(`no status for ${id}`);
        if (s && done(s)) return s;
        const finished = s && TERMINAL.includes(s.phase);
        if (finished || Date.now() > deadline) {
          throw new Error(
            `${id} is ${s?.phase ?? `unknown (${res.statusCode})`}, expected ${what}: ${JSON.stringify(s?.failure ?? s?.timeline.slice(-5))}`,
          );
        }
        await sleep(intervalMs);
      }
    };
    const untilPhase: RotationStack['untilPhase'] = (id, phases, o) =>
      untilStatus(id, (s) => phases.includes(s.phase), phases.join('|'), o);
    const revokeByHand: RotationStack['revokeByHand'] = async (c, oldValue, o) => {
      const id = idOf(c);
      await untilStatus(
        id,
        (s) => s.pendingGate?.gate === 'revocation-confirmation',
        'revocation-confirmation',
        o,
      );
      const res = await fetch(`${gatewayBase}/key/delete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ keys: [oldValue] }),
      });
      expect(res.status).toBe(200);
      const confirmed = await call(
        'POST',
        `/v1/rotations/${encodeURIComponent(id)}/revocation-confirmations`,
        'carol',
        {
          comment: 'deleted at the gateway',
        },
      );
      expect(confirmed.statusCode).toBe(202);
    };

    const histories: RotationStack['histories'] = async (list) => {
      const texts: string[] = [];
      for (const c of list) {
        // Every run: earlier rotations of the credential, and each run a rotation continued as.
        for (const history of await allRuns(client, `rekey:${c.environment}:${c.name}`))
          texts.push(decodedHistoryText(historyToJSON(history)));
      }
      return texts;
    };
    const assertNoKeyLeaks: RotationStack['assertNoKeyLeaks'] = async (list, extra = {}) => {
      const places: [string, string[]][] = [
        ['workflow history', await histories(list)],
        ['log line', logLines],
        ['API response', responses],
        ...Object.entries(extra),
      ];
      for (const value of secrets) {
        for (const [where, texts] of places) {
          // The value itself is never printed: the failure names only where it was found.
          if (texts.some((t) => t.includes(value))) throw new Error(`a key value appeared in a ${where}`);
        }
      }
    };

    const keyValue: RotationStack['keyValue'] = (fp) => {
      const value = [...secrets].find((v) => fingerprint(v) === fp);
      if (!value) throw new Error(`no key value the stack knows has the fingerprint ${fp}`);
      return value;
    };

    return {
      client,
      app,
      gatewayBase,
      replicas,
      stores,
      readSecret: (c) => storeOf(c).appRead(c.name),
      taskQueue,
      prometheusUrl,
      appReportsDir,
      workerPid,
      gatewayRequests: () => Object.fromEntries(gatewayRequests),
      apiUrl,
      tokens,
      secrets,
      responses,
      logLines,
      keyValue,
      gatewayAdminKey: masterKey,
      newGatewayKey,
      setFaults,
      setSpendLog: (settings) => configureSpendLog(gateway.state, settings),
      gatewayStatus,
      startApp,
      idOf,
      policy,
      call,
      start,
      untilStatus,
      untilPhase,
      revokeByHand,
      histories,
      assertNoKeyLeaks,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Starts bench/worker-process.ts on the spec file with `node --import tsx` (the worker itself is then
 * the child, not a tsx launcher in between); resolves once its worker is created (the bundle built),
 * rejects if it exits first or takes over two minutes. Its output goes to this process's stderr.
 */
async function startWorkerProcess(specFile: string, nodeArgs: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', WORKER_PROCESS_SCRIPT, specFile], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    // This process's stderr, which the stack captures into its log lines as the in-process worker's.
    stream.on('data', (chunk: string) => process.stderr.write(chunk));
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the worker process was not ready after 2 minutes'));
    }, 120_000);
    child.once('message', (m: unknown) => {
      clearTimeout(timer);
      if ((m as { ready?: boolean }).ready) resolve();
      else reject(new Error(`the worker process failed: ${JSON.stringify(m)}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the worker process exited before it was ready (${signal ?? code})`));
    });
  });
  return child;
}

/** SIGTERM (the SDK drains in-flight tasks and the process exits), SIGKILL after 30 s. */
async function stopWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
