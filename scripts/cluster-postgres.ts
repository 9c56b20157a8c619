// The cluster's PostgreSQL (scripts/cluster-stack.ts): Debian's binaries run as an OS user of its own
// (PostgreSQL refuses root), its data under .run/cluster/postgres, TCP on loopback only, and the two
// databases Temporal Server needs, brought to its schema by temporal-sql-tool.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { CLUSTER_DIR, clusterPaths, requireState, type ClusterPaths } from './cluster-state';
import { portOpen, readVersion, runCommand, toolPath, waitFor, type CommandRun } from './local-stack';

/** The database role Temporal connects as: the superuser of the cluster's own PostgreSQL instance. */
export const DB_USER = 'temporal';
const DATABASES = [
  { name: 'temporal', schema: 'postgresql/v12/temporal' },
  { name: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
] as const;
/** Temporal's SQL plugin for PostgreSQL 12 and newer, with advanced (SQL) visibility. */
export const PG_PLUGIN = 'postgres12';
/** The newest Debian PostgreSQL, e.g. /usr/lib/postgresql/15/bin (REKEY_PG_BIN names another). */
export function postgresBinDir(): string {
  if (process.env.REKEY_PG_BIN) return process.env.REKEY_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = (existsSync(base) ? readdirSync(base) : [])
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  if (!newest)
    throw new Error(
      `no PostgreSQL in ${base}/<version>/bin: run \`bash scripts/bootstrap.sh cluster\` (apt-get install postgresql)`,
    );
  return path.join(base, newest, 'bin');
}

/** The OS user PostgreSQL runs as: REKEY_PG_USER when this runs as root (PostgreSQL refuses root), else this user. */
function postgresUser(): string | undefined {
  return process.getuid?.() === 0 ? process.env.REKEY_PG_USER || readVersion('REKEY_PG_USER') : undefined;
}

/** Runs a PostgreSQL program as the cluster's database OS user. */
async function asPostgres(program: string, args: string[], cwd: string): Promise<CommandRun> {
  const bin = path.join(postgresBinDir(), program);
  const user = postgresUser();
  return user
    ? runCommand('runuser', ['-u', user, '--', bin, ...args], { cwd })
    : runCommand(bin, args, { cwd });
}

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = await Promise.all([runCommand('id', ['-u', user]), runCommand('id', ['-g', user])]);
  if (u.code !== 0 || g.code !== 0)
    throw new Error(
      `the OS user ${user} that runs the cluster's PostgreSQL does not exist: run \`bash scripts/bootstrap.sh cluster\``,
    );
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** An error with the last lines a failed command printed. */
export function failed(what: string, run: CommandRun, log?: string): Error {
  const out = `${run.stdout}\n${run.stderr}`.trim().split('\n').slice(-8).join('\n');
  return new Error(`${what} exited with ${run.code}${log ? ` (log: ${log})` : ''}:\n${out}`);
}

/** Where PostgreSQL keeps its files, as the database OS user reaches them (through no symlink). */
export function pgFiles(p: ClusterPaths) {
  const dir = existsSync(p.pgDir) ? realpathSync(p.pgDir) : p.pgDir;
  return { dir, data: path.join(dir, 'data'), log: path.join(dir, 'postgres.log') };
}

/**
 * The folder of a new data directory: .run/cluster/postgres, or, where the database OS user cannot
 * reach into the repository (a clone under a home of mode 0700, say), a folder of its own under
 * /var/lib/rekey-pg that .run/cluster/postgres links to.
 */
async function createPostgresDir(p: ClusterPaths, user: string | undefined, log: (l: string) => void) {
  rmSync(p.pgDir, { recursive: true, force: true });
  const reachable =
    !user || (await runCommand('runuser', ['-u', user, '--', 'test', '-x', p.dir])).code === 0;
  if (reachable) {
    mkdirSync(p.pgDir, { recursive: true });
  } else {
    const home = '/var/lib/rekey-pg';
    const target = path.join(
      home,
      `cluster-${createHash('sha256').update(p.dir).digest('hex').slice(0, 12)}`,
    );
    log(`${user} cannot reach ${p.dir}: PostgreSQL keeps its data in ${target} (linked from ${p.pgDir})`);
    rmSync(target, { recursive: true, force: true });
    // The parent only needs to be passable; the data folder itself is the database user's alone.
    mkdirSync(home, { recursive: true });
    chmodSync(home, 0o755);
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, p.pgDir);
  }
  if (user) {
    const { uid, gid } = await idOf(user);
    chownSync(pgFiles(p).dir, uid, gid);
  }
}

/** initdb, once: the superuser `temporal` with the cluster's password, TCP on 127.0.0.1 only. */
export async function initPostgres(
  p: ClusterPaths,
  password: string,
  log: (l: string) => void,
): Promise<void> {
  if (existsSync(path.join(p.pgData, 'PG_VERSION'))) return;
  const user = postgresUser();
  await createPostgresDir(p, user, log);
  const pg = pgFiles(p);
  log(`initdb: a new PostgreSQL data directory in ${pg.data}`);
  const pwFile = path.join(pg.dir, 'initdb-password');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (user) {
    const { uid, gid } = await idOf(user);
    chownSync(pwFile, uid, gid);
  }
  try {
    // UTF-8 whatever the environment's locale; the C collation, as Temporal's own images have it.
    const args = ['-D', pg.data, '-U', DB_USER, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256'];
    const run = await asPostgres('initdb', [...args, '--encoding=UTF8', '--no-locale'], pg.dir).catch(
      (err: Error): CommandRun => ({ code: -1, stdout: '', stderr: err.message }),
    );
    if (run.code !== 0) {
      rmSync(pg.data, { recursive: true, force: true });
      throw failed('initdb', run);
    }
  } finally {
    rmSync(pwFile, { force: true });
  }
  // No Unix socket (nobody else may connect through one), TCP on loopback only, and room for the four
  // Temporal services' connection pools. The port is given at every start (pg_ctl -o -p).
  const conf = path.join(pg.data, 'postgresql.conf');
  writeFileSync(
    conf,
    readFileSync(conf, 'utf8') +
      '\n# rekey cluster (scripts/cluster-stack.ts)\n' +
      "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\n",
  );
}

/** Whether the cluster's PostgreSQL runs (pg_ctl status). */
export async function postgresRunning(dir = CLUSTER_DIR): Promise<boolean> {
  const pg = pgFiles(clusterPaths(dir));
  if (!existsSync(path.join(pg.data, 'PG_VERSION'))) return false;
  return (await asPostgres('pg_ctl', ['-D', pg.data, 'status'], pg.dir)).code === 0;
}

/** Starts PostgreSQL on the port (pg_ctl start: it runs on when this process ends). */
export async function startPostgres(p: ClusterPaths, port: number): Promise<void> {
  const pg = pgFiles(p);
  const run = await asPostgres(
    'pg_ctl',
    ['-D', pg.data, '-l', pg.log, '-w', '-t', '60', '-o', `-p ${port}`, 'start'],
    pg.dir,
  );
  if (run.code !== 0) throw failed('pg_ctl start', run, pg.log);
  await waitFor('PostgreSQL', () => portOpen(port), 30_000);
}

/** Stops the cluster's PostgreSQL (fast shutdown: open transactions roll back, the data is safe). */
export async function stopPostgres(dir = CLUSTER_DIR): Promise<boolean> {
  const pg = pgFiles(clusterPaths(dir));
  if (!(await postgresRunning(dir))) return false;
  const run = await asPostgres('pg_ctl', ['-D', pg.data, '-m', 'fast', '-w', '-t', '60', 'stop'], pg.dir);
  if (run.code !== 0) throw failed('pg_ctl stop', run, pg.log);
  return true;
}

/** Restarts the cluster's PostgreSQL on its port. */
export async function restartPostgres(dir = CLUSTER_DIR): Promise<void> {
  const state = requireState(dir);
  await stopPostgres(dir);
  await startPostgres(clusterPaths(dir), state.ports.postgres);
}

/** Brings both databases to the schema of the Temporal Server version in scripts/versions.env. */
export async function prepareDatabases(
  p: ClusterPaths,
  port: number,
  password: string,
  log: (l: string) => void,
) {
  const tool = toolPath('temporal-sql-tool');
  // The password goes through the environment, never the command line (ps shows that).
  const env = { ...process.env, SQL_PASSWORD: password };
  const base = ['--plugin', PG_PLUGIN, '--ep', '127.0.0.1', '-p', String(port), '-u', DB_USER];
  const logLines: string[] = [];
  const sql = async (what: string, db: string, args: string[], ok?: RegExp) => {
    const run = await runCommand(tool, [...base, '--db', db, ...args], { env });
    logLines.push(`$ temporal-sql-tool --db ${db} ${args.join(' ')}  → ${run.code}`, run.stdout, run.stderr);
    writeFileSync(p.sqlToolLog, logLines.join('\n'));
    if (run.code !== 0 && !(ok && ok.test(run.stdout + run.stderr))) throw failed(what, run, p.sqlToolLog);
  };
  for (const db of DATABASES) {
    log(`temporal-sql-tool: database ${db.name}, schema ${db.schema} (embedded in the tool)`);
    await sql(`create-database ${db.name}`, db.name, ['create-database'], /already exists/);
    await sql(`setup-schema ${db.name}`, db.name, ['setup-schema', '-v', '0.0']);
    await sql(`update-schema ${db.name}`, db.name, ['update-schema', '--schema-name', db.schema]);
  }
}
