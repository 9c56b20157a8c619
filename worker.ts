// The rotation worker: runs the rotation workflow and its activities on the configured task queue.
// Production wiring builds real adapters from config and injects them into createActivities(deps);
// tests call createRotationWorker with their own connection and activities.
import { writeFileSync } from 'node:fs';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type BundleOptions,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import {
  createActivities,
  FailureTypes,
  type ActivityDeps,
  type CredentialRef,
  type CredentialRegistry,
  type RotationActivities,
  type Telemetry,
} from './activities';
import { createAutomationActivities } from './activities/automation';
import { createFilesystemEvidenceStore } from './activities/evidence';
import { ADMIN_ADAPTERS, createOpenAiProbe, type AdminHttpOptions } from './activities/gateway';
import { createAdminRateLimiter } from './activities/gateway/admin-rate';
import { createWebhookNotifier } from './activities/notify';
import { createSecretStores, type SecretStoreLogger, type SecretStores } from './activities/secrets';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createRekeyMetrics, type RekeyMetrics } from './common/metrics';
import { serveMetrics } from './common/metrics-server';
import {
  createLiteLlmSpendLogTelemetry,
  createOpenRouterUsageTelemetry,
  createPrometheusTelemetry,
  createAppReportStore,
  createAppReportsTelemetry,
  withUnobservable,
} from './activities/telemetry';
import { ConfigError, loadSettings, type Settings } from './config';
import { loadRegistry, toCredentialRef, type CredentialEntry } from './config/registry';
import { webhookAllowlistOf } from './config/settings';

/**
 * The worker's memory and concurrency knobs (config/settings.ts REKEY_WORKER_*; bench/fleet.ts measures
 * them). A field left out keeps the Temporal SDK's default, which is what the worker ran with before
 * these existed.
 */
export interface WorkerTuning {
  /**
   * Workflow runs kept in memory between tasks (the sticky cache). SDK default with a reused V8
   * context: 600 per GiB of V8 heap limit above 200 MiB (about 2,300 on a 4 GiB heap), so every open
   * rotation of a fleet stays cached. A run evicted from the cache is replayed from its history at its
   * next task: less memory, more CPU and history reads.
   */
  maxCachedWorkflows?: number;
  /** One V8 context shared by every cached run (SDK default true); false: a context per run, far larger. */
  reuseV8Context?: boolean;
  /** Workflow tasks run at once (SDK default 40, at most maxCachedWorkflows). */
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Activities run at once (SDK default 100): gateway admin calls, probes and telemetry reads in flight. */
  maxConcurrentActivityTaskExecutions?: number;
}

/** Options for one rotation worker; exactly one of workflowsPath (default) or a prebuilt bundle. */
export interface RotationWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RotationActivities;
  workflowBundle?: WorkflowBundleOption;
  /** Cache and concurrency settings; the SDK's defaults for what is not given. */
  tuning?: WorkerTuning;
}

/** Creates a worker for the rotation workflow with the given activities. */
export function createRotationWorker(opts: RotationWorkerOptions): Promise<Worker> {
  const t = opts.tuning ?? {};
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    ...(t.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: t.maxCachedWorkflows } : {}),
    ...(t.reuseV8Context !== undefined ? { reuseV8Context: t.reuseV8Context } : {}),
    ...(t.maxConcurrentWorkflowTaskExecutions !== undefined
      ? { maxConcurrentWorkflowTaskExecutions: t.maxConcurrentWorkflowTaskExecutions }
      : {}),
    ...(t.maxConcurrentActivityTaskExecutions !== undefined
      ? { maxConcurrentActivityTaskExecutions: t.maxConcurrentActivityTaskExecutions }
      : {}),
  });
}

/**
 * Bundles workflows/ as the worker would at start and writes the bundle (inline source map included) to
 * `file`, for REKEY_WORKFLOW_BUNDLE_FILE: `tsx worker.ts --write-bundle <file>`, e.g. in the image build,
 * from the same sources the worker runs. Bundling in the worker process leaves webpack's and swc's memory
 * in it for good (bench/fleet.ts measured about 180 MiB more RSS); a prebuilt bundle does not.
 */
export async function writeWorkflowBundle(file: string, logger?: BundleOptions['logger']): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    ...(logger ? { logger } : {}),
  });
  writeFileSync(file, code);
}

/** The tuning the REKEY_WORKER_* settings ask for (unset ones are left out: the SDK's defaults). */
export function workerTuningOf(settings: Settings): WorkerTuning {
  return {
    ...(settings.REKEY_WORKER_MAX_CACHED_WORKFLOWS !== undefined
      ? { maxCachedWorkflows: settings.REKEY_WORKER_MAX_CACHED_WORKFLOWS }
      : {}),
    ...(settings.REKEY_WORKER_REUSE_V8_CONTEXT !== undefined
      ? { reuseV8Context: settings.REKEY_WORKER_REUSE_V8_CONTEXT }
      : {}),
    ...(settings.REKEY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined
      ? { maxConcurrentWorkflowTaskExecutions: settings.REKEY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS }
      : {}),
    ...(settings.REKEY_WORKER_MAX_CONCURRENT_ACTIVITIES !== undefined
      ? { maxConcurrentActivityTaskExecutions: settings.REKEY_WORKER_MAX_CONCURRENT_ACTIVITIES }
      : {}),
  };
}

/** What buildActivityDeps needs besides settings; tests pass their own registry, environment or stores. */
export interface WiringOptions {
  registry?: CredentialRegistry & { entries: CredentialEntry[] };
  /** Where secret backends read their own settings (tokens, emulator flags); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** The secret stores; defaults to every backend in SECRET_STORES, configured from `env`. */
  secretStores?: SecretStores;
  /** Where adapters log (pino-shaped); key values never reach it. */
  logger?: SecretStoreLogger;
  /** rekey's metrics the activities count into (canary, negative test, phases, outcomes). */
  metrics?: RekeyMetrics;
}

/** How long a resolved gateway admin key is reused before its secret store is asked again. */
const ADMIN_KEY_TTL_MS = 5 * 60_000;

/**
 * Builds the production adapters from settings and the credential registry: the secret store per
 * credential (its backend's), the gateway admin adapter with its admin key read from the same store, the canary
 * probe and the telemetry adapter each credential names, the filesystem evidence store and the
 * webhook notifier.
 */
export function buildActivityDeps(settings: Settings, opts: WiringOptions = {}): ActivityDeps {
  const registry = opts.registry ?? loadRegistry(settings.REKEY_CREDENTIALS_FILE);
  const webhookTargets = webhookAllowlistOf(settings);
  const stores =
    opts.secretStores ??
    createSecretStores({ env: opts.env ?? process.env, ...(opts.logger ? { logger: opts.logger } : {}) });
  const entryOf = (credential: CredentialRef): CredentialEntry => {
    const entry = registry.entries.find(
      (c) => c.name === credential.name && c.environment === credential.environment,
    );
    if (!entry) {
      throw ApplicationFailure.nonRetryable(
        `credential ${credential.name} (${credential.environment}) is not in the registry`,
        FailureTypes.UnknownCredential,
      );
    }
    return entry;
  };
  const memo = <T>(make: (entry: CredentialEntry) => T) => {
    const made = new Map<CredentialEntry, T>();
    return (credential: CredentialRef): T => {
      const entry = entryOf(credential);
      if (!made.has(entry)) made.set(entry, make(entry));
      return made.get(entry)!;
    };
  };

  /** The admin key, read from the credential's secret store when needed and kept for a few minutes. */
  const adminKeyOf = (entry: CredentialEntry) => {
    let cached: { value: string; until: number } | undefined;
    const forget = () => {
      cached = undefined;
    };
    const resolve = async () => {
      if (cached && cached.until > Date.now()) return cached.value;
      const name = entry.gateway.admin_key_secret;
      if (!name) throw new Error(`${entry.name}: the registry names no admin_key_secret`);
      const value = await stores.readValue(toCredentialRef(entry).secret, name);
      cached = { value, until: Date.now() + ADMIN_KEY_TTL_MS };
      return value;
    };
    return { resolve, forget };
  };
  // One limit per gateway origin for the whole process, so a fleet's rotations share it.
  const rateLimiter = createAdminRateLimiter({ perSecond: settings.REKEY_GATEWAY_ADMIN_CALLS_PER_SECOND });
  const adminOptions = memo((entry): AdminHttpOptions => {
    const key = adminKeyOf(entry);
    return {
      rateLimiter,
      baseUrl: entry.gateway.admin_base_url ?? entry.gateway.base_url,
      adminKey: key.resolve,
      adminKeyRejected: key.forget,
      ...(entry.gateway.portkey_workspace_id
        ? { portkeyWorkspaceId: entry.gateway.portkey_workspace_id }
        : {}),
      ...(entry.gateway.openai_project_id ? { openaiProjectId: entry.gateway.openai_project_id } : {}),
    };
  });

  const gatewayAdminFor = memo((entry) =>
    entry.gateway.admin_adapter === 'manual'
      ? undefined
      : ADMIN_ADAPTERS[entry.gateway.admin_adapter](adminOptions(toCredentialRef(entry))),
  );
  // The reports the API stores for apps of manual gateways (one directory, shared with the API).
  const appReports = createAppReportStore(settings.REKEY_APP_REPORTS_DIR);
  const telemetryFor = memo((entry): Telemetry => {
    const t = entry.telemetry;
    switch (t.adapter) {
      case 'prometheus': {
        const tokenSecret = t.bearer_token_secret;
        return createPrometheusTelemetry({
          url: t.url,
          canaryUser: entry.gateway.canary.user,
          ...(t.queries ? { queries: t.queries } : {}),
          // Resolved from the credential's store when a query needs it (the adapter keeps it briefly).
          ...(tokenSecret
            ? { bearerToken: () => stores.readValue(toCredentialRef(entry).secret, tokenSecret) }
            : {}),
        });
      }
      case 'litellm-spend-logs':
        return createLiteLlmSpendLogTelemetry({
          ...adminOptions(toCredentialRef(entry)),
          canaryUser: entry.gateway.canary.user,
          lagSeconds: t.lag_seconds,
        });
      case 'openrouter-usage':
        return createOpenRouterUsageTelemetry(adminOptions(toCredentialRef(entry)));
      case 'app-reports':
        return createAppReportsTelemetry({ store: appReports });
    }
  });
  const probeFor = memo((entry) =>
    createOpenAiProbe({
      chatModel: entry.gateway.canary.chat_model,
      embeddingModel: entry.gateway.canary.embedding_model,
      timeoutMs: entry.gateway.canary.timeout_seconds * 1000,
      canaryUser: entry.gateway.canary.user,
      statusCheck: entry.gateway.status_check,
    }),
  );

  return {
    registry,
    secretStoreFor: (credential) => stores.secretStoreFor(credential),
    gatewayAdminFor,
    probeFor,
    telemetry: {
      // What the adapter can see, less what the registry says this deployment cannot.
      source: (c) => withUnobservable(telemetryFor(c).source(c), entryOf(c).telemetry.unobservable),
      window: (c, key, from, to) => telemetryFor(c).window(c, key, from, to),
      usageByConsumer: (c, key, from, to) => telemetryFor(c).usageByConsumer(c, key, from, to),
      attribution: (c, key, owner) => telemetryFor(c).attribution(c, key, owner),
    },
    evidence: createFilesystemEvidenceStore(settings.REKEY_EVIDENCE_DIR),
    telemetryCatchUpMs: settings.REKEY_TELEMETRY_CATCH_UP_SECONDS * 1000,
    // One allowlist for every URL a policy names: ticket webhooks and the rollout hook.
    webhookTargets,
    notifier: createWebhookNotifier({
      allowlist: webhookTargets,
      ...(settings.REKEY_WEBHOOK_SIGNING_SECRET
        ? { signingSecret: settings.REKEY_WEBHOOK_SIGNING_SECRET }
        : {}),
      ...(opts.logger ? { log: (message, fields) => opts.logger!.info(fields, message) } : {}),
    }),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  };
}

/** host:port for a listener; an IPv6 host goes in brackets. */
const bindAddress = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Entry point: `npm run worker`. Two Prometheus endpoints: rekey's metrics on REKEY_WORKER_METRICS_PORT
 * and the Temporal SDK's own (pollers, slots, task latencies) on REKEY_TEMPORAL_METRICS_PORT.
 */
export async function main(): Promise<void> {
  const settings = loadSettings();
  const host = settings.REKEY_WORKER_METRICS_HOST;
  if (settings.REKEY_WORKER_METRICS_PORT === settings.REKEY_TEMPORAL_METRICS_PORT) {
    throw new ConfigError('REKEY_TEMPORAL_METRICS_PORT: must differ from REKEY_WORKER_METRICS_PORT');
  }
  // Core's exporter is part of the runtime, which is installed once per process and before any
  // connection or worker: that is why main() does it, and tests run main() in a child process.
  Runtime.install({
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: bindAddress(host, settings.REKEY_TEMPORAL_METRICS_PORT) } },
    },
  });
  const registry = new Registry();
  const deps = buildActivityDeps(settings, {
    logger: pino({ level: settings.REKEY_LOG_LEVEL, base: { service: 'rekey-worker' } }),
    metrics: createRekeyMetrics(registry),
  });
  const metricsServer = await serveMetrics(registry, { host, port: settings.REKEY_WORKER_METRICS_PORT });
  try {
    const connection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    // A client for the activities that read other workflows (a fleet's members).
    const clientConnection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    const temporal = new Client({ connection: clientConnection, namespace: settings.TEMPORAL_NAMESPACE });
    try {
      const worker = await createRotationWorker({
        connection,
        namespace: settings.TEMPORAL_NAMESPACE,
        taskQueue: settings.REKEY_TASK_QUEUE,
        // The rotation's activities, and those of the triggers that start rotations themselves
        // (workflows/scheduled-rotation.ts: notices, reminders, the current key's expiry) and fleets
        // (workflows/fleet.ts: where each member's rotation is).
        activities: { ...createActivities(deps), ...createAutomationActivities({ ...deps, temporal }) },
        tuning: workerTuningOf(settings),
        ...(settings.REKEY_WORKFLOW_BUNDLE_FILE
          ? { workflowBundle: { codePath: settings.REKEY_WORKFLOW_BUNDLE_FILE } }
          : {}),
      });
      // SIGINT/SIGTERM make the SDK drain in-flight tasks and resolve run().
      await worker.run();
    } finally {
      await connection.close();
      await clientConnection.close();
    }
  } finally {
    await metricsServer.close();
  }
}

if (require.main === module) {
  const bundleFile = process.argv[2] === '--write-bundle' ? process.argv[3] : undefined;
  (bundleFile ? writeWorkflowBundle(bundleFile) : main()).catch((err: unknown) => {
    console.error(`[rekey] ${(err as Error).message}`);
    process.exit(1);
  });
}
