import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { fingerprintHex } from '../domain/fingerprint';
import { REKEY_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/** The repository root, from which the tool folder and run folder are found. */
export const ROOT = path.resolve(__dirname, '..');
/** Where scripts/bootstrap.sh installs tools. */
export const TOOLS = process.env.REKEY_TOOLS_DIR ?? path.join(ROOT, '.tools');

/** A path under .tools/bin, or a clear error naming the bootstrap step that provides it. */
export function toolPath(name: string): string {
  const p = path.join(TOOLS, 'bin', name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`make bootstrap\` (scripts/bootstrap.sh) first`);
  return p;
}

/** Asks the kernel for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Polls `check` every 200 ms until it holds; throws naming `what` after the timeout or when `child` exits. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: ChildProcess,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`${what}: the process exited with ${child.exitCode}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000}s`);
}

/** What a finished command printed and how it exited. */
export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (not a server): its exit code and everything it printed. */
export function runCommand(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string } = {},
): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits before reading its input (e.g. `id`) closes the pipe: EPIPE is no failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

/** A server process started by the stack; `stop` ends its whole process group. */
export interface RunningServer {
  name: string;
  pid: number;
  /** When the process started (processStartTime), so that a recorded pid used again by another is left alone. */
  started?: string;
  stop(): Promise<void>;
}

/**
 * When process `pid` started, in clock ticks since boot (/proc/<pid>/stat, field 22); undefined where
 * there is no such process or no /proc. With `pid` it names one process for good: pids are reused (a
 * 2-core CI machine has pid_max 32768, and a run starts thousands of processes).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Ends a process group started with `detached: true`: TERM, then KILL after a grace period. Given when
 * its leader started, it leaves alone a group whose id a later process took (the leader gone, its pid
 * used again): a stale state file never stops someone else's server.
 */
export async function stopProcessGroup(pid: number, graceMs = 5000, started?: string): Promise<void> {
  if (started !== undefined) {
    const now = processStartTime(pid);
    if (now !== undefined && now !== started) return;
  }
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-pid, 'SIGKILL');
}

/** Starts a server in a process group of its own, its output appended to `logFile`; `stop` ends the group. */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
) {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  // Without a listener a missing binary (ENOENT) would crash the whole process.
  child.on('error', () => undefined);
  if (child.pid === undefined)
    throw new Error(`${name}: could not start ${cmd} (is it installed? scripts/bootstrap.sh)`);
  child.unref();
  const pid = child.pid;
  const started = processStartTime(pid);
  return {
    child,
    server: { name, pid, started, stop: () => stopProcessGroup(pid, 5000, started) } satisfies RunningServer,
  };
}

async function assertPortsFree(what: string, ports: number[]) {
  for (const port of ports) {
    if (await portOpen(port)) {
      throw new Error(
        `${what}: port ${port} is already in use (another stack running? \`make down\`, or pick other ports)`,
      );
    }
  }
}

/** Options of a Temporal dev server. */
export interface TemporalDevServerOptions {
  grpcPort: number;
  uiPort: number;
  dbFile: string;
  logFile: string;
}

/** Starts `temporal server start-dev` with rekey's search attributes and waits until they are registered. */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<RunningServer> {
  await assertPortsFree('Temporal dev server', [opts.grpcPort, opts.uiPort]);
  mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.grpcPort)];
  args.push('--ui-port', String(opts.uiPort), '--db-filename', opts.dbFile, '--log-level', 'warn');
  for (const key of REKEY_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  const { child, server } = startProcess('temporal', toolPath('temporal'), args, opts.logFile);
  try {
    await waitFor('Temporal dev server', () => portOpen(opts.grpcPort), 60_000, child);
    await waitFor(
      'Temporal search attributes',
      async () => {
        const conn = await Connection.connect({
          address: `127.0.0.1:${opts.grpcPort}`,
          connectTimeout: 2000,
        });
        try {
          const res = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
          return REKEY_SEARCH_ATTRIBUTES.every((k) => k.name in (res.customAttributes ?? {}));
        } finally {
          await conn.close();
        }
      },
      60_000,
      child,
    );
    await waitFor('Temporal Web UI', () => portOpen(opts.uiPort), 30_000, child);
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (log: ${opts.logFile})`, { cause: err });
  }
  return server;
}

/** A pinned version (or other setting) from scripts/versions.env. */
export function readVersion(name: string): string {
  const text = readFileSync(path.join(ROOT, 'scripts', 'versions.env'), 'utf8');
  const m = new RegExp(`^${name}=(.+)$`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`scripts/versions.env has no ${name}`);
  return m[1].trim();
}

/** Where the reference Key Vault's entry point and the TLS material scripts/bootstrap.sh generates live. */
export function keyVaultPaths() {
  const dir = path.join(TOOLS, 'reference-key-vault');
  return {
    dir,
    certPem: path.join(dir, 'cert.pem'),
    keyPem: path.join(dir, 'key.pem'),
    main: path.join(ROOT, 'simulator', 'key-vault', 'main.ts'),
    tsx: path.join(ROOT, 'node_modules', '.bin', 'tsx'),
  };
}

/** Why the reference Key Vault cannot run here, or undefined when it can. */
export function referenceKeyVaultUnavailableReason(): string | undefined {
  const p = keyVaultPaths();
  if (!existsSync(p.certPem) || !existsSync(p.keyPem))
    return `the reference Key Vault certificate ${p.certPem} or its key is missing (run \`bash scripts/bootstrap.sh reference-key-vault-tls\`)`;
  if (!existsSync(p.tsx)) return `${p.tsx} is missing (run \`npm ci\`)`;
  return undefined;
}

/** Options of a reference Key Vault (simulator/key-vault) process. */
export interface ReferenceKeyVaultOptions {
  httpsPort: number;
  logFile: string;
  /** Keeps secrets (values included, mode 0600) across a restart on the same port. */
  stateFile?: string;
  purgeProtection?: boolean;
  /** Deletes, purges and recovers finish this long after they are accepted, as in the service (0: at once). */
  operationDelayMs?: number;
}

/** Starts the reference Key Vault over HTTPS as its own process group; Node trusts it via NODE_EXTRA_CA_CERTS. */
export async function startReferenceKeyVault(opts: ReferenceKeyVaultOptions): Promise<RunningServer> {
  const reason = referenceKeyVaultUnavailableReason();
  if (reason) throw new Error(reason);
  const p = keyVaultPaths();
  await assertPortsFree('reference Key Vault', [opts.httpsPort]);
  const env: NodeJS.ProcessEnv = {
    REKEY_KEYVAULT_PORT: String(opts.httpsPort),
    REKEY_KEYVAULT_TLS_CERT: p.certPem,
    REKEY_KEYVAULT_TLS_KEY: p.keyPem,
    REKEY_KEYVAULT_PURGE_PROTECTION: opts.purgeProtection ? '1' : '0',
  };
  if (opts.stateFile) env.REKEY_KEYVAULT_STATE_FILE = opts.stateFile;
  if (opts.operationDelayMs) env.REKEY_KEYVAULT_OPERATION_DELAY_MS = String(opts.operationDelayMs);
  const { child, server } = startProcess('reference-key-vault', p.tsx, [p.main], opts.logFile, env);
  try {
    await waitFor('reference Key Vault', () => portOpen(opts.httpsPort), 30_000, child);
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (log: ${opts.logFile})`, { cause: err });
  }
  return server;
}

/** The Key Vault a local stack runs, and how to reach and trust it. */
export interface LocalKeyVault extends RunningServer {
  /** The emulator that runs: always the reference Key Vault (simulator/key-vault). */
  kind: 'reference';
  url: string;
  /** Its certificate, for NODE_EXTRA_CA_CERTS. */
  certPem: string;
}

/** Azure Key Vault for local runs (tests, `make up`, `make demo`): the reference Key Vault over HTTPS. */
export async function startKeyVault(opts: {
  httpsPort: number;
  logFile: string;
  /** Keeps its secrets here across restarts (values included, mode 0600). */
  stateFile?: string;
}): Promise<LocalKeyVault> {
  const server = await startReferenceKeyVault({
    httpsPort: opts.httpsPort,
    logFile: opts.logFile,
    ...(opts.stateFile ? { stateFile: opts.stateFile } : {}),
  });
  return {
    ...server,
    kind: 'reference',
    url: `https://localhost:${opts.httpsPort}`,
    certPem: keyVaultPaths().certPem,
  };
}

/**
 * Writes one PEM file for NODE_EXTRA_CA_CERTS: what the environment already trusted that way (kept, so a
 * proxy's CA still works) and the given certificate files. Returns its path.
 */
export function writeCaBundle(file: string, certs: string[]): string {
  process.env.REKEY_ORIGINAL_NODE_EXTRA_CA_CERTS ??= process.env.NODE_EXTRA_CA_CERTS ?? '';
  const original = process.env.REKEY_ORIGINAL_NODE_EXTRA_CA_CERTS;
  const files = [...new Set([original, ...certs])].filter((f): f is string => !!f && existsSync(f));
  writeFileSync(file, files.map((f) => readFileSync(f, 'utf8').trim()).join('\n') + '\n');
  return file;
}

/**
 * Adds the certificates of the file NODE_EXTRA_CA_CERTS names to this process's default CA store, when
 * they are not there yet. Node reads that variable only at start; jest runs a lone test file inside its
 * own process, which started before global setup set it. Verification stays on: only these certificates
 * are added.
 */
export function applyNodeExtraCaCerts(): void {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file || !existsSync(file)) return;
  const pems =
    readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const current = tls.getCACertificates('default');
  const normalize = (pem: string) => pem.replace(/\s+/g, '');
  const have = new Set(current.map(normalize));
  const missing = pems.filter((pem) => !have.has(normalize(pem)));
  if (missing.length > 0) tls.setDefaultCACertificates([...current, ...missing]);
}

/** Options of a Prometheus instance of our own (never the system service). */
export interface PrometheusOptions {
  port: number;
  /** host:port targets scraped every `scrapeIntervalS` seconds. */
  targets: string[];
  scrapeIntervalS?: number;
  dir: string;
  /** Bearer token the scrapes send: the gateway's master key (LiteLLM's require_auth_for_metrics_endpoint). */
  bearerToken?: string;
  /** Where the token is written (mode 0600) for Prometheus to read; `dir`/scrape-token by default. */
  bearerTokenFile?: string;
}

/** Starts Prometheus (Debian's binary on PATH) scraping the targets; resolves once it is ready. */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningServer & { url: string }> {
  await assertPortsFree('Prometheus', [opts.port]);
  mkdirSync(path.join(opts.dir, 'data'), { recursive: true });
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  const config = path.join(opts.dir, 'prometheus.yml');
  const targets = opts.targets.map((t) => `'${t}'`).join(', ');
  // The token goes to a file only the owner reads (credentials_file), never into the config itself.
  const tokenFile = opts.bearerTokenFile ?? path.join(opts.dir, 'scrape-token');
  if (opts.bearerToken) {
    mkdirSync(path.dirname(tokenFile), { recursive: true });
    writeFileSync(tokenFile, opts.bearerToken, { mode: 0o600 });
  }
  const auth = opts.bearerToken
    ? `    authorization:\n      type: Bearer\n      credentials_file: '${tokenFile}'\n`
    : '';
  writeFileSync(
    config,
    `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\n` +
      `scrape_configs:\n  - job_name: gateway\n${auth}    static_configs:\n      - targets: [${targets}]\n`,
  );
  const args = [`--config.file=${config}`, `--storage.tsdb.path=${path.join(opts.dir, 'data')}`];
  args.push(`--web.listen-address=127.0.0.1:${opts.port}`, '--log.level=warn');
  const logFile = path.join(opts.dir, 'prometheus.log');
  const { child, server } = startProcess('prometheus', 'prometheus', args, logFile);
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitFor('Prometheus', async () => (await fetch(`${url}/-/ready`)).ok, 30_000, child);
  } catch (err) {
    await server.stop();
    throw new Error(
      `${(err as Error).message} (log: ${logFile}; is Prometheus installed? scripts/bootstrap.sh)`,
      { cause: err },
    );
  }
  return { ...server, url };
}

/** One PromQL template of the worker's Prometheus telemetry, for a key, evaluated now (over the last hour). */
export async function promScalar(url: string, template: string, fp: string): Promise<number> {
  const promql = template.replaceAll('{key}', fingerprintHex(fp)).replaceAll('{range}', '3600');
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  const v = Number(body.data?.result?.[0]?.value[1] ?? 0);
  return Number.isFinite(v) ? v : 0;
}
