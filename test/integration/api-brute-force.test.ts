import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tokenHash } from '../../api/auth';
import { startServer, type RunningServer } from '../../api/server';
import { loadRegistry, loadSettings } from '../../config';

// Brute-force protection that never refuses a valid credential, on APIs that startServer builds from
// settings (REKEY_API_TRUST_PROXY, the default limit of 20 failures a minute) and real HTTP. Valid
// requests list rotations on the harness's Temporal dev server.
const ROOT = path.join(__dirname, '..', '..');
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const bob = token();
let connection: Connection;
let client: Client;
let dir: string;
let tokensFile: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  const settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-brute-force-'));
  tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(
    tokensFile,
    `- sha256: ${tokenHash(bob)}\n  principal: bob@example.com\n  roles: [approver]\n`,
  );
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await connection?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A listening API that trusts proxies as REKEY_API_TRUST_PROXY says. */
async function api(trustProxy: string): Promise<string> {
  const server = await startServer(
    loadSettings({
      ...process.env,
      REKEY_API_PORT: '0',
      REKEY_API_TOKENS_FILE: tokensFile,
      REKEY_API_TRUST_PROXY: trustProxy,
    }),
    {
      temporal: client,
      registry: loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml')),
      logger: false,
    },
  );
  servers.push(server);
  return server.url;
}

async function list(base: string, bearer: string, forwardedFor?: string) {
  const res = await fetch(`${base}/v1/rotations`, {
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
    },
  });
  const body = (await res.json()) as { detail?: string };
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body,
  };
}

/** Statuses of wrong tokens sent one after another, each with the X-Forwarded-For `via(i)` names. */
async function wrongTokens(base: string, n: number, via: (i: number) => string | undefined, same?: string) {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await list(base, same ?? token(), via(i))).status);
  return statuses;
}
const twentyThen429 = (n: number) => [...Array<number>(20).fill(401), ...Array<number>(n - 20).fill(429)];

describe('brute-force protection', () => {
  it('never blocks a valid approver: 1,000 wrong tokens from her address get 429s, her token is served every time', async () => {
    const base = await api('false');
    const flood: { status: number; retryAfter: string | null; type: string | null }[] = [];
    const served: number[] = [];
    let flooding = true;
    const began = Date.now();
    // Ten attackers in parallel, 100 wrong tokens each, all from 127.0.0.1, and the approver meanwhile.
    const attackers = Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 100; i++) {
        const { status, retryAfter, type } = await list(base, token());
        flood.push({ status, retryAfter, type });
      }
    });
    const approver = (async () => {
      while (flooding) served.push((await list(base, bob)).status);
    })();
    await Promise.all(attackers);
    flooding = false;
    await approver;
    const floodMs = Date.now() - began;
    for (let i = 0; i < 10; i++) served.push((await list(base, bob)).status);

    expect(flood).toHaveLength(1000);
    expect(flood.filter((f) => f.status === 401)).toHaveLength(20);
    const limited = flood.filter((f) => f.status === 429);
    expect(limited).toHaveLength(980);
    for (const f of limited) {
      expect(Number(f.retryAfter)).toBeGreaterThan(0);
      expect(Number(f.retryAfter)).toBeLessThanOrEqual(60);
      expect(f.type).toMatch(/^application\/problem\+json/);
    }
    expect(served.length).toBeGreaterThan(10);
    expect(served.every((s) => s === 200)).toBe(true);
    console.log(
      `brute-force: 1000 wrong tokens (10 parallel) in ${floodMs} ms, ${limited.length} answered 429; ` +
        `the approver was served ${served.length}/${served.length} times`,
    );
  });

  it('answers 429 problem+json with Retry-After past the limit', async () => {
    const base = await api('false');
    await wrongTokens(base, 20, () => undefined);
    const limited = await list(base, token());
    expect(limited).toMatchObject({
      status: 429,
      type: expect.stringMatching(/^application\/problem\+json/),
      body: { detail: expect.stringMatching(/a valid credential is still served/) },
    });
    expect(Number(limited.retryAfter)).toBeGreaterThan(0);
  });

  it('ignores X-Forwarded-For without REKEY_API_TRUST_PROXY: every forwarded name is the one peer', async () => {
    const base = await api('false');
    expect(await wrongTokens(base, 30, (i) => `198.51.100.${i}`)).toEqual(twentyThen429(30));
    expect((await list(base, bob, '198.51.100.7')).status).toBe(200);
  });

  it('counts each forwarded client on its own when proxies are trusted, and one client past the limit', async () => {
    const base = await api('true');
    expect(await wrongTokens(base, 30, (i) => `198.51.100.${i}`)).toEqual(Array<number>(30).fill(401));
    expect(await wrongTokens(base, 30, () => '203.0.113.5')).toEqual(twentyThen429(30));
    expect((await list(base, bob, '203.0.113.5')).status).toBe(200);
  });

  it('honours X-Forwarded-For only from a peer in the trusted CIDRs', async () => {
    const trusted = await api('127.0.0.0/8, ::1');
    expect(await wrongTokens(trusted, 25, (i) => `198.51.100.${i}`)).toEqual(Array<number>(25).fill(401));
    const untrusted = await api('10.0.0.0/8');
    expect(await wrongTokens(untrusted, 25, (i) => `198.51.100.${i}`)).toEqual(twentyThen429(25));
  });

  it('with a hop count, takes the address the nearest proxy saw, not what the client prepended', async () => {
    const oneHop = await api('1');
    // The client writes any address it likes first; the proxy appends the one it saw (203.0.113.9).
    expect(await wrongTokens(oneHop, 25, (i) => `198.51.100.${i}, 203.0.113.9`)).toEqual(twentyThen429(25));
    const all = await api('true');
    expect(await wrongTokens(all, 25, (i) => `198.51.100.${i}, 203.0.113.9`)).toEqual(
      Array<number>(25).fill(401),
    );
  });

  it('slows one wrong token tried from many addresses, by its fingerprint', async () => {
    const base = await api('true');
    const leaked = token();
    expect(await wrongTokens(base, 25, (i) => `192.0.2.${i}`, leaked)).toEqual(twentyThen429(25));
    expect((await list(base, token(), '192.0.2.200')).status).toBe(401);
    expect((await list(base, bob, '192.0.2.3')).status).toBe(200);
  });
});
