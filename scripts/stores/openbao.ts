// OpenBao (the open-source fork of HashiCorp Vault, same HTTP API) as the local KV v2 server: `bao server
// -dev` keeps everything in memory, starts unsealed with KV v2 mounted at `secret/`, and listens on
// plain HTTP on loopback. Its root token is random per start and handed over in the environment
// (BAO_DEV_ROOT_TOKEN_ID), never on the command line where `ps` would show it.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { portOpen, startProcess, toolPath, waitFor, type RunningServer } from '../local-stack';

/** A running dev server: its address (http://127.0.0.1:port), root token, and a least-privilege token. */
export interface RunningOpenBao extends RunningServer {
  address: string;
  rootToken: string;
  /** A token with only the `rekey` policy (KV v2 data, metadata, delete, destroy under secret/): what a worker gets. */
  workerToken: string;
}

/** The policy README "Running against the real thing" documents, over the whole dev mount. */
const REKEY_POLICY = `
path "secret/data/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/*" { capabilities = ["create", "read", "update", "patch"] }
path "secret/delete/*"   { capabilities = ["update"] }
path "secret/destroy/*"  { capabilities = ["update"] }
`;

/**
 * The dev server prints its root token in its start-up banner. Masks it in the log, same length in
 * place (the server keeps appending to the file), so no log of a local run holds a token.
 */
async function maskInLog(logFile: string, token: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const text = readFileSync(logFile, 'utf8');
    if (text.includes(token)) {
      const fd = openSync(logFile, 'r+');
      try {
        const bytes = Buffer.from(text, 'utf8');
        const needle = Buffer.from(token, 'utf8');
        for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + needle.length))
          writeSync(fd, Buffer.alloc(needle.length, '*'), 0, needle.length, at);
      } finally {
        closeSync(fd);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes the `rekey` policy and creates a token that has only it (and OpenBao's default policy). */
async function createWorkerToken(address: string, rootToken: string): Promise<string> {
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${address}/v1/${path}`, {
      method: 'POST',
      headers: { 'X-Vault-Token': rootToken, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`OpenBao: POST /v1/${path} answered ${res.status}`);
    return res.status === 204 ? undefined : ((await res.json()) as { auth?: { client_token?: string } });
  };
  await call('sys/policies/acl/rekey', { policy: REKEY_POLICY });
  const created = await call('auth/token/create', {
    policies: ['rekey'],
    ttl: '72h',
    display_name: 'rekey-worker',
  });
  const token = created?.auth?.client_token;
  if (!token) throw new Error('OpenBao: auth/token/create returned no token');
  return token;
}

export interface OpenBaoOptions {
  port: number;
  logFile: string;
  /** Defaults to a random token. */
  rootToken?: string;
}

/** Starts `bao server -dev` on 127.0.0.1:port and waits until it answers unsealed and active. */
export async function startOpenBao(opts: OpenBaoOptions): Promise<RunningOpenBao> {
  if (await portOpen(opts.port)) throw new Error(`OpenBao: port ${opts.port} is already in use`);
  const rootToken = opts.rootToken ?? `rekey-dev-${randomBytes(18).toString('base64url')}`;
  const address = `http://127.0.0.1:${opts.port}`;
  const home = path.join(path.dirname(opts.logFile), 'openbao-home');
  mkdirSync(home, { recursive: true });
  const { child, server } = startProcess(
    'openbao',
    toolPath('bao'),
    ['server', '-dev', '-dev-no-store-token', `-dev-listen-address=127.0.0.1:${opts.port}`],
    opts.logFile,
    // HOME of its own: the dev server never touches the user's ~/.vault-token or token helper.
    { BAO_DEV_ROOT_TOKEN_ID: rootToken, HOME: home, BAO_ADDR: address },
  );
  try {
    await waitFor(
      'OpenBao dev server',
      async () => {
        const res = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      },
      30_000,
      child,
    );
    // KV v2 at secret/ is mounted during start-up; wait until a token can see it.
    await waitFor(
      'OpenBao KV v2 mount secret/',
      async () => {
        const res = await fetch(`${address}/v1/sys/mounts/secret/tune`, {
          headers: { 'X-Vault-Token': rootToken },
          signal: AbortSignal.timeout(2000),
        });
        return res.status === 200;
      },
      30_000,
      child,
    );
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (log: ${opts.logFile})`, { cause: err });
  }
  try {
    await maskInLog(opts.logFile, rootToken);
    return { ...server, address, rootToken, workerToken: await createWorkerToken(address, rootToken) };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
