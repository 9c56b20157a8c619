// The cluster's Temporal Server (scripts/cluster-stack.ts): its config (the module's
// development-postgres12.yaml with the cluster's ports), its process, a readiness probe of all four
// services, and the namespace with rekey's search attributes.
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { grpc, temporal } from '@temporalio/proto';
import { stringify } from 'yaml';
import { REKEY_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { DB_USER, PG_PLUGIN } from './cluster-postgres';
import {
  CLUSTER_DIR,
  alive,
  clusterPaths,
  readClusterState,
  requireState,
  saveState,
  temporalPortsOf,
  type ClusterPorts,
  type ClusterState,
} from './cluster-state';
import { ROOT, portOpen, startProcess, stopProcessGroup, toolPath, waitFor } from './local-stack';

// gRPC status codes (google.rpc.Code) the SDK passes through from the server.
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const grpcCode = (err: unknown) => (isGrpcServiceError(err) ? Number(err.code) : undefined);

/** The server's config: Temporal's development-postgres12.yaml with the cluster's ports and password. */
export function temporalConfig(ports: ClusterPorts, password: string): string {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: PG_PLUGIN,
      databaseName,
      connectAddr: `127.0.0.1:${ports.postgres}`,
      connectProtocol: 'tcp',
      user: DB_USER,
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...(httpPort ? { httpPort } : {}) },
  });
  return (
    '# Written by scripts/cluster-stack.ts at every `make cluster-up`: Temporal Server v1.32 on PostgreSQL,\n' +
    "# from the module's config/development-postgres12.yaml with ports of this cluster. Mode 0600.\n" +
    stringify({
      log: { stdout: true, level: 'info' },
      persistence: {
        defaultStore: 'postgres-default',
        visibilityStore: 'postgres-visibility',
        numHistoryShards: 4,
        datastores: {
          'postgres-default': store('temporal', 10),
          'postgres-visibility': store('temporal_visibility', 4),
        },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
        // Port 0: no pprof listener.
        pprof: { port: 0 },
        metrics: {
          prometheus: {
            framework: 'tally',
            timerType: 'histogram',
            listenAddress: `127.0.0.1:${ports.metrics}`,
          },
        },
      },
      services: {
        frontend: rpc(ports.frontend, ports.frontendMembership, ports.frontendHttp),
        history: rpc(ports.history, ports.historyMembership),
        matching: rpc(ports.matching, ports.matchingMembership),
        worker: rpc(ports.worker, ports.workerMembership),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: {
          active: {
            enabled: true,
            initialFailoverVersion: 1,
            rpcName: 'frontend',
            rpcAddress: `127.0.0.1:${ports.frontend}`,
            httpAddress: `127.0.0.1:${ports.frontendHttp}`,
          },
        },
      },
      dcRedirectionPolicy: { policy: 'noop' },
    })
  );
}

/** One readiness probe of the server: frontend healthy, and history and matching answering through it. */
export async function temporalAnswers(address: string): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    const soon = () => Date.now() + 3000;
    const health = await conn.withDeadline(soon(), () =>
      conn.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' }),
    );
    if (health.status !== grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) return false;
    // A workflow nobody started: NOT_FOUND comes from the history service, so history is up.
    const history = await conn
      .withDeadline(soon(), () =>
        conn.workflowService.describeWorkflowExecution({
          namespace: 'temporal-system',
          execution: { workflowId: 'rekey-readiness-probe' },
        }),
      )
      .then(
        () => true,
        (err: unknown) => grpcCode(err) === NOT_FOUND,
      );
    if (!history) return false;
    await conn.withDeadline(soon(), () =>
      conn.workflowService.describeTaskQueue({
        namespace: 'temporal-system',
        taskQueue: { name: 'rekey-readiness-probe' },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    return true;
  } finally {
    await conn.close();
  }
}

/** Whether the cluster's Temporal Server process runs and answers. */
export async function temporalRunning(dir = CLUSTER_DIR): Promise<boolean> {
  const state = readClusterState(dir);
  return !!state && alive(state.temporalPid) && (await temporalAnswers(state.address).catch(() => false));
}

/** Starts Temporal Server on the cluster's ports and waits until frontend, history and matching answer. */
export async function startTemporalServer(dir = CLUSTER_DIR): Promise<ClusterState> {
  const p = clusterPaths(dir);
  const state = requireState(dir);
  if (alive(state.temporalPid)) throw new Error(`Temporal Server already runs (pid ${state.temporalPid})`);
  for (const port of temporalPortsOf(state.ports)) {
    if (await portOpen(port))
      throw new Error(
        `Temporal Server: port ${port} of ${path.relative(ROOT, p.state)} is taken by another process`,
      );
  }
  const args = ['--config-file', p.temporalConfig, '--allow-no-auth', 'start'];
  const { child, server } = startProcess('temporal-server', toolPath('temporal-server'), args, p.temporalLog);
  state.temporalPid = server.pid;
  saveState(state);
  try {
    await waitFor('Temporal Server', () => temporalAnswers(state.address), 120_000, child);
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (log: ${p.temporalLog})`, { cause: err });
  }
  return state;
}

/**
 * Stops the cluster's Temporal Server: SIGTERM (a graceful shutdown, up to 30 s), or at once with
 * `kill` (SIGKILL, as a crash). Returns whether one was running.
 */
export async function stopTemporalServer(dir = CLUSTER_DIR, opts: { kill?: boolean } = {}): Promise<boolean> {
  const state = readClusterState(dir);
  const pid = state?.temporalPid;
  if (!state || !pid || !alive(pid)) return false;
  if (opts.kill) {
    process.kill(-pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  } else {
    await stopProcessGroup(pid, 30_000);
  }
  delete state.temporalPid;
  saveState(state);
  return true;
}

/** The namespace and rekey's search attributes (Keyword), each created when missing; waits until usable. */
export async function ensureNamespace(state: ClusterState, log: (l: string) => void): Promise<void> {
  const conn = await Connection.connect({ address: state.address });
  const namespace = state.namespace;
  try {
    const exists = await conn.workflowService.describeNamespace({ namespace }).then(
      () => true,
      (err: unknown) => {
        if (grpcCode(err) === NOT_FOUND) return false;
        throw err;
      },
    );
    if (!exists) {
      log(`namespace ${namespace}: registering (retention 3 days)`);
      await conn.workflowService
        .registerNamespace({
          namespace,
          description: 'rekey rotations',
          workflowExecutionRetentionPeriod: msToTs('3 days'),
        })
        .catch((err: unknown) => {
          if (grpcCode(err) !== ALREADY_EXISTS) throw err;
        });
    }
    // describeNamespace reads the database; the other calls wait for the services' namespace caches,
    // which refresh every 2 s (system.namespaceCacheRefreshInterval).
    let listed: temporal.api.operatorservice.v1.IListSearchAttributesResponse | undefined;
    await waitFor(
      `namespace ${namespace}`,
      async () => !!(listed = await conn.operatorService.listSearchAttributes({ namespace })),
      30_000,
    );
    const missing = REKEY_SEARCH_ATTRIBUTES.filter((k) => !(k.name in (listed?.customAttributes ?? {})));
    if (missing.length > 0) {
      log(`search attributes: adding ${missing.map((k) => k.name).join(', ')} (Keyword)`);
      await conn.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, KEYWORD])),
      });
    }
    // Usable once the frontend accepts a visibility query on every one of them.
    const query = REKEY_SEARCH_ATTRIBUTES.map((k) => `${k.name} = 'rekey-probe'`).join(' AND ');
    await waitFor(
      `search attributes of namespace ${namespace}`,
      async () => {
        await conn.workflowService.listWorkflowExecutions({ namespace, pageSize: 1, query });
        return true;
      },
      30_000,
    );
    // The history service validates the attributes a workflow upserts against its own namespace cache.
    if (!exists || missing.length > 0) await new Promise((r) => setTimeout(r, 2500));
  } finally {
    await conn.close();
  }
}
