// The state of one cluster (scripts/cluster-stack.ts): where its files are, its ports, and cluster.json,
// which records how clients reach it and which Temporal Server process runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, portOpen } from './local-stack';

/** Where `make cluster-up` and `make test-cluster` keep the cluster: data, config, logs. */
export const CLUSTER_DIR = path.join(ROOT, '.run', 'cluster');
/** The namespace rekey runs in, as docker-compose.yml's TEMPORAL_NAMESPACE defaults it. */
export const CLUSTER_NAMESPACE = 'default';
/** The ports of one cluster, chosen once and kept, so that clients keep their address across restarts. */
export interface ClusterPorts {
  postgres: number;
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  /** Temporal Server's own Prometheus /metrics. */
  metrics: number;
}

/** What cluster.json records: how to reach the cluster, and the server process running now. */
export interface ClusterState {
  dir: string;
  namespace: string;
  ports: ClusterPorts;
  /** host:port of the frontend: TEMPORAL_ADDRESS of the worker, the API and the CLI. */
  address: string;
  /** The process group of the Temporal Server that was started last. */
  temporalPid?: number;
  /** The Temporal Server version whose schema the databases were brought to. */
  schemaVersion?: string;
}

/** Where one cluster keeps its files. */
export function clusterPaths(dir = CLUSTER_DIR) {
  const pgDir = path.join(dir, 'postgres');
  return {
    dir,
    state: path.join(dir, 'cluster.json'),
    env: path.join(dir, 'env.sh'),
    /** The database password, mode 0600; also in the server's config, mode 0600. */
    password: path.join(dir, 'postgres-password'),
    pgDir,
    pgData: path.join(pgDir, 'data'),
    pgLog: path.join(pgDir, 'postgres.log'),
    temporalConfig: path.join(dir, 'temporal', 'config.yaml'),
    temporalLog: path.join(dir, 'temporal.log'),
    sqlToolLog: path.join(dir, 'temporal-sql-tool.log'),
  };
}
/** The files of one cluster (clusterPaths). */
export type ClusterPaths = ReturnType<typeof clusterPaths>;

/** Reads cluster.json; undefined when no cluster was set up in `dir` (or the file is unreadable). */
export function readClusterState(dir = CLUSTER_DIR): ClusterState | undefined {
  const file = clusterPaths(dir).state;
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** Writes cluster.json and env.sh. */
export function saveState(state: ClusterState): void {
  const p = clusterPaths(state.dir);
  writeFileSync(p.state, JSON.stringify(state, null, 2) + '\n');
  writeFileSync(
    p.env,
    '# The rekey cluster (scripts/cluster.ts): `source` this for the worker, the API and the CLI.\n' +
      `export TEMPORAL_ADDRESS=${state.address}\nexport TEMPORAL_NAMESPACE=${state.namespace}\n`,
  );
}

/** True while the process group of `pid` exists. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  // A killed leader nobody has reaped yet still counts for kill(0): a zombie (state Z) is gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** True when 127.0.0.1:port can be bound now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * `n` consecutive free ports below 32768. Temporal's SQL schema stores membership ports as SMALLINT
 * (cluster_membership.rpc_port), and below the kernel's ephemeral range (32768–60999) no outgoing
 * connection takes a port of the cluster while it is down.
 */
export async function freePortBlock(n: number, avoid: Set<number> = new Set()): Promise<number[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_767 - 20_000 - n));
    const block = Array.from({ length: n }, (_, i) => base + i);
    if (block.some((port) => avoid.has(port))) continue;
    const free = await Promise.all(
      block.map(async (port) => (await bindable(port)) && !(await portOpen(port))),
    );
    if (free.every(Boolean)) return block;
  }
  throw new Error(`no ${n} consecutive free ports between 20000 and 32767`);
}

/** Temporal's ports: the frontend first (or the given one), then the others in a row. */
export async function pickTemporalPorts(frontend: number | undefined, avoid: Set<number>) {
  const block = await freePortBlock(frontend ? 9 : 10, avoid);
  const [
    frontendHttp,
    frontendMembership,
    history,
    historyMembership,
    matching,
    matchingMembership,
    worker,
    workerMembership,
    metrics,
  ] = frontend ? block : block.slice(1);
  return {
    frontend: frontend ?? block[0]!,
    frontendHttp: frontendHttp!,
    frontendMembership: frontendMembership!,
    history: history!,
    historyMembership: historyMembership!,
    matching: matching!,
    matchingMembership: matchingMembership!,
    worker: worker!,
    workerMembership: workerMembership!,
    metrics: metrics!,
  };
}

/** Every port of Temporal Server, the PostgreSQL one left out. */
export function temporalPortsOf(ports: ClusterPorts): number[] {
  const { postgres: _postgres, ...temporalPorts } = ports;
  return Object.values(temporalPorts);
}

/** The cluster's state, or an error saying to bring it up first. */
export function requireState(dir: string): ClusterState {
  const state = readClusterState(dir);
  if (!state) throw new Error(`no cluster in ${dir}: \`make cluster-up\` first`);
  return state;
}
