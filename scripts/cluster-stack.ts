// A real Temporal cluster on this machine, for `make cluster-up` and `make test-cluster`: PostgreSQL
// (Debian's, run as an OS user of its own, its data under .run/cluster/) and Temporal Server (built by
// scripts/bootstrap.sh from the Go module proxy) keeping history and SQL visibility in PostgreSQL, with
// the namespace and rekey's search attributes. It is the executable twin of docker-compose.yml's
// `postgresql`, `temporal`, `temporal-setup-schema` and `temporal-setup-namespace` services, without a container engine.
// Idempotent: `clusterUp` starts only what is not running and keeps the data, the ports and the database
// password of earlier runs; `clusterDown` stops both servers and keeps the data for the next `clusterUp`.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  initPostgres,
  postgresBinDir,
  postgresRunning,
  prepareDatabases,
  restartPostgres,
  startPostgres,
  stopPostgres,
} from './cluster-postgres';
import {
  CLUSTER_DIR,
  CLUSTER_NAMESPACE,
  alive,
  clusterPaths,
  freePortBlock,
  pickTemporalPorts,
  readClusterState,
  saveState,
  temporalPortsOf,
  type ClusterState,
} from './cluster-state';
import {
  ensureNamespace,
  startTemporalServer,
  stopTemporalServer,
  temporalAnswers,
  temporalConfig,
} from './cluster-temporal';
import { portOpen, readVersion, waitFor } from './local-stack';

/** Options of `clusterUp`. */
export interface ClusterOptions {
  dir?: string;
  /** Temporal frontend port of a cluster set up for the first time; a free one when not given. */
  frontendPort?: number;
  /** PostgreSQL port of a cluster set up for the first time; a free one when not given. */
  postgresPort?: number;
  /** Progress lines (what starts, what already runs). */
  log?: (line: string) => void;
}

/**
 * Brings the cluster up: PostgreSQL (initdb the first time), both databases at the server's schema,
 * Temporal Server, the namespace and the search attributes. Starts only what is not running; returns the
 * state and what it started.
 */
export async function clusterUp(
  opts: ClusterOptions = {},
): Promise<{ state: ClusterState; started: string[] }> {
  const dir = opts.dir ?? CLUSTER_DIR;
  const log = opts.log ?? (() => undefined);
  const p = clusterPaths(dir);
  mkdirSync(path.dirname(p.temporalConfig), { recursive: true });
  // The database OS user must be able to reach its data directory below this one.
  chmodSync(dir, 0o755);
  const state = readClusterState(dir) ?? (await newState(dir, opts));
  if (!existsSync(p.password))
    writeFileSync(p.password, randomBytes(18).toString('base64url') + '\n', { mode: 0o600 });
  const password = readFileSync(p.password, 'utf8').trim();
  const started = [
    ...(await postgresUp(state, password, log)),
    ...(await temporalUp(state, password, opts, log)),
  ];
  const running = readClusterState(dir)!;
  await ensureNamespace(running, log);
  return { state: running, started };
}

/** A cluster set up for the first time: its ports (the given ones, else free ones) and namespace. */
async function newState(dir: string, opts: ClusterOptions): Promise<ClusterState> {
  const avoid = new Set(opts.postgresPort ? [opts.postgresPort] : []);
  const temporalPorts = await pickTemporalPorts(opts.frontendPort, avoid);
  const postgres = opts.postgresPort ?? (await freePortBlock(1, new Set(Object.values(temporalPorts))))[0]!;
  const ports = { postgres, ...temporalPorts };
  const state = { dir, namespace: CLUSTER_NAMESPACE, ports, address: `127.0.0.1:${ports.frontend}` };
  saveState(state);
  return state;
}

/** PostgreSQL running, and both databases at the schema of the pinned server version. */
async function postgresUp(state: ClusterState, password: string, log: (l: string) => void) {
  const p = clusterPaths(state.dir);
  const started: string[] = [];
  if (!existsSync(path.join(p.pgData, 'PG_VERSION'))) {
    await initPostgres(p, password, log);
    delete state.schemaVersion;
  }
  if (await postgresRunning(state.dir)) {
    log(`PostgreSQL already runs on 127.0.0.1:${state.ports.postgres}`);
  } else {
    if (await portOpen(state.ports.postgres)) {
      // Only the server's config knows this port, which it gets written anew: move to another.
      const [port] = await freePortBlock(1, new Set<number>(Object.values(state.ports)));
      log(`port ${state.ports.postgres} is taken by another process: PostgreSQL moves to ${port}`);
      state.ports.postgres = port!;
      saveState(state);
    }
    log(`starting PostgreSQL (${postgresBinDir()}) on 127.0.0.1:${state.ports.postgres}`);
    await startPostgres(p, state.ports.postgres);
    started.push('postgres');
  }
  const serverVersion = readVersion('TEMPORAL_SERVER_VERSION');
  if (state.schemaVersion !== serverVersion) {
    await prepareDatabases(p, state.ports.postgres, password, log);
    state.schemaVersion = serverVersion;
    saveState(state);
  }
  return started;
}

/** Temporal Server running and answering, with its config written for the cluster's ports. */
async function temporalUp(
  state: ClusterState,
  password: string,
  opts: ClusterOptions,
  log: (l: string) => void,
) {
  const p = clusterPaths(state.dir);
  const writeConfig = () => {
    writeFileSync(p.temporalConfig, temporalConfig(state.ports, password), { mode: 0o600 });
    chmodSync(p.temporalConfig, 0o600);
  };
  writeConfig();
  const address = state.address;
  if (alive(state.temporalPid)) {
    log(`Temporal Server already runs (pid ${state.temporalPid}) on ${address}`);
    await waitFor('Temporal Server', () => temporalAnswers(address), 120_000);
    return [];
  }
  delete state.temporalPid;
  const busy: number[] = [];
  for (const port of temporalPortsOf(state.ports)) if (await portOpen(port)) busy.push(port);
  if (busy.length > 0) {
    if (busy.includes(state.ports.frontend) && opts.frontendPort === state.ports.frontend)
      throw new Error(
        `Temporal Server: the frontend port ${state.ports.frontend} is taken by another process`,
      );
    // Clients find the new address in cluster.json and env.sh.
    const ports = await pickTemporalPorts(undefined, new Set([state.ports.postgres]));
    log(`ports ${busy.join(', ')} are taken by other processes: Temporal Server moves to ${ports.frontend}`);
    state.ports = { ...ports, postgres: state.ports.postgres };
    state.address = `127.0.0.1:${ports.frontend}`;
    writeConfig();
  }
  saveState(state);
  log(`starting Temporal Server ${readVersion('TEMPORAL_SERVER_VERSION')} on ${state.address}`);
  await startTemporalServer(state.dir);
  return ['temporal-server'];
}

/** Stops Temporal Server, then PostgreSQL; the data stays. Returns what it stopped. */
export async function clusterDown(dir = CLUSTER_DIR): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopTemporalServer(dir)) stopped.push('temporal-server');
  if (await stopPostgres(dir)) stopped.push('postgres');
  return stopped;
}

/**
 * A cluster restart as an operator does one (or a crash with `kill`): Temporal Server stops, PostgreSQL
 * restarts too with `postgres`, then the server starts again on the same ports. Returns how long
 * Temporal was unreachable.
 */
export async function restartCluster(
  dir = CLUSTER_DIR,
  opts: { kill?: boolean; postgres?: boolean } = {},
): Promise<{ downMs: number }> {
  const from = Date.now();
  await stopTemporalServer(dir, { kill: opts.kill ?? false });
  if (opts.postgres) await restartPostgres(dir);
  await startTemporalServer(dir);
  return { downMs: Date.now() - from };
}

/** Stops the cluster and deletes its folder, data included (and a data folder it links to). */
export async function clusterPurge(dir = CLUSTER_DIR): Promise<void> {
  await clusterDown(dir).catch(() => undefined);
  const p = clusterPaths(dir);
  const linked =
    existsSync(p.pgDir) && lstatSync(p.pgDir).isSymbolicLink() ? realpathSync(p.pgDir) : undefined;
  if (linked?.startsWith('/var/lib/rekey-pg/')) rmSync(linked, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
