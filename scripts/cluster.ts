// `make cluster-up` / `make cluster-down` / `make cluster-status`: a real Temporal cluster in the
// background — PostgreSQL and Temporal Server with SQL visibility, the namespace and rekey's search
// attributes (scripts/cluster-stack.ts) — with its data, config and logs under .run/cluster/.
//   tsx scripts/cluster.ts up [--port N] [--postgres-port N]   start what is not running (idempotent)
//   tsx scripts/cluster.ts down                                stop both servers, keep the data
//   tsx scripts/cluster.ts status                              what runs, and where
//   tsx scripts/cluster.ts restart [--kill] [--postgres]       restart Temporal Server (and PostgreSQL)
//   tsx scripts/cluster.ts purge                               stop, then delete the data as well
import path from 'node:path';
import { postgresRunning } from './cluster-postgres';
import { clusterDown, clusterPurge, clusterUp, restartCluster } from './cluster-stack';
import { CLUSTER_DIR, clusterPaths, readClusterState } from './cluster-state';
import { temporalRunning } from './cluster-temporal';

const rel = (p: string) => path.relative(process.cwd(), p) || '.';
const say = (line: string) => console.log(`[rekey cluster] ${line}`);

function portArg(args: string[], flag: string, envName: string): number | undefined {
  const i = args.indexOf(flag);
  const raw = i >= 0 ? args[i + 1] : process.env[envName];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`${flag} / ${envName}: expected a port, got ${raw}`);
  return n;
}

async function up(args: string[]) {
  const started = Date.now();
  const { state, started: what } = await clusterUp({
    dir: CLUSTER_DIR,
    frontendPort: portArg(args, '--port', 'REKEY_CLUSTER_PORT'),
    postgresPort: portArg(args, '--postgres-port', 'REKEY_CLUSTER_POSTGRES_PORT'),
    log: say,
  });
  const p = clusterPaths(state.dir);
  say(
    what.length
      ? `up in ${((Date.now() - started) / 1000).toFixed(1)} s (started ${what.join(' and ')})`
      : 'already up',
  );
  say(`Temporal frontend  ${state.address}, namespace ${state.namespace} (SQL visibility on PostgreSQL)`);
  say(`server metrics     http://127.0.0.1:${state.ports.metrics}/metrics`);
  say(`PostgreSQL         127.0.0.1:${state.ports.postgres}, user temporal, password in ${rel(p.password)}`);
  say(`logs               ${rel(p.temporalLog)}, ${rel(p.pgLog)}`);
  say(`for clients        source ${rel(p.env)}   (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE)`);
}

async function down() {
  if (!readClusterState(CLUSTER_DIR)) {
    say('no cluster here');
    return;
  }
  const stopped = await clusterDown(CLUSTER_DIR);
  say(
    stopped.length
      ? `stopped ${stopped.join(' and ')} (data kept in ${rel(CLUSTER_DIR)})`
      : 'nothing was running',
  );
}

async function status() {
  const state = readClusterState(CLUSTER_DIR);
  if (!state) {
    say('no cluster here: make cluster-up');
    return;
  }
  const [pg, tp] = await Promise.all([postgresRunning(CLUSTER_DIR), temporalRunning(CLUSTER_DIR)]);
  say(`PostgreSQL      127.0.0.1:${state.ports.postgres}  ${pg ? 'running' : 'NOT running'}`);
  say(
    `Temporal Server ${state.address}  ${tp ? `running (pid ${state.temporalPid}), namespace ${state.namespace}` : 'NOT running'}`,
  );
}

async function restart(args: string[]) {
  const { downMs } = await restartCluster(CLUSTER_DIR, {
    kill: args.includes('--kill'),
    postgres: args.includes('--postgres'),
  });
  say(
    `Temporal Server restarted${args.includes('--postgres') ? ' with PostgreSQL' : ''}: unreachable for ${(downMs / 1000).toFixed(1)} s`,
  );
}

async function purge() {
  await clusterPurge(CLUSTER_DIR);
  say(`stopped and deleted ${rel(CLUSTER_DIR)}, data included`);
}

const commands: Record<string, (args: string[]) => Promise<void>> = { up, down, status, restart, purge };
const [name = '', ...rest] = process.argv.slice(2);
const command = commands[name];
if (!command) {
  console.error(
    'usage: tsx scripts/cluster.ts up [--port N] [--postgres-port N] | down | status | restart [--kill] [--postgres] | purge',
  );
  process.exit(2);
}
command(rest).catch((err: unknown) => {
  console.error(`[rekey cluster] ERROR: ${(err as Error).message}`);
  process.exit(1);
});
