import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Authenticator, tokenHash } from '../../api/auth';
import { problemSchema } from '../../api/problem';
import { startServer, type RunningServer } from '../../api/server';
import { loadRegistry, loadSettings, type Settings } from '../../config';
import { rotationIdFor, workflowIdFor } from '../../domain/policy';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import { startTcpProxy, type TcpProxy } from '../contract/tcp-proxy';
import { messageRecorder, receivedQuery } from './workflows/message-recorder';

// The production wiring (api/server.ts startServer: a lazy Temporal connection with bounded calls) in
// front of a Temporal that is not there in three ways — nothing listens, a proxy resets every connection,
// a server accepts and never answers — and in front of the harness's real dev server. Requests go over
// real HTTP; every answer is timed.
const ROOT = path.join(__dirname, '..', '..');
const CREDENTIALS_FILE = path.join(ROOT, 'config', 'credentials.example.yaml');
const seedYaml = readFileSync(path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml'), 'utf8');
const run = randomBytes(3).toString('hex');
const token = `rk_${randomBytes(16).toString('hex')}`;
const auth = () =>
  new Authenticator([
    {
      sha256: tokenHash(token),
      principal: 'olga@example.com',
      roles: ['viewer', 'requester', 'approver', 'operator'],
    },
  ]);
const id = rotationIdFor('flatkey-router-key', 'production', `CHG-FF-${run}`);
const at = (p: string) => `/v1/rotations/${encodeURIComponent(id)}${p}`;

/** Every /v1 route that calls Temporal, with a body it accepts: each must get as far as Temporal. */
const TEMPORAL_ROUTES: { method: string; path: string; body?: unknown; type?: string }[] = [
  { method: 'GET', path: '/v1/rotations' },
  { method: 'GET', path: at('') },
  { method: 'POST', path: '/v1/rotations', body: seedYaml, type: 'application/yaml' },
  { method: 'POST', path: at('/approvals'), body: { gate: 'flip' } },
  { method: 'POST', path: at('/approvals'), body: { gate: 'flip', decision: 'reject', reason: 'no' } },
  { method: 'POST', path: at('/rollback'), body: { reason: 'errors up' } },
  { method: 'POST', path: at('/abort'), body: { reason: 'wrong ticket' } },
  { method: 'POST', path: at('/hold-extensions'), body: { minutes: 30, reason: 'batch job tonight' } },
  { method: 'POST', path: at('/revocation-confirmations'), body: { comment: 'revoked at the gateway' } },
  { method: 'POST', path: at('/replacement-key-revocations'), body: { reason: 'drained' } },
  { method: 'POST', path: at('/signal-inputs'), body: { message: 'abort', args: { reason: 'on-call' } } },
  { method: 'PUT', path: at('/replacement-key'), body: { key: `sk-${randomBytes(24).toString('hex')}` } },
];

let settings: Settings;
let dir: string;
beforeAll(() => {
  settings = loadSettings();
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-fail-fast-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The API as `npm run api` builds it, against this Temporal address. */
function apiFor(address: string, extra: Partial<Settings> = {}) {
  return startServer(
    {
      ...settings,
      TEMPORAL_ADDRESS: address,
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_PORT: 0,
      REKEY_CREDENTIALS_FILE: CREDENTIALS_FILE,
      REKEY_EVIDENCE_DIR: path.join(dir, 'evidence'),
      ...extra,
    },
    { logger: false, auth: auth(), registry: loadRegistry(CREDENTIALS_FILE) },
  );
}

interface Answer {
  status: number;
  ms: number;
  type: string;
  retryAfter: string | null;
  body: unknown;
}
async function call(
  server: RunningServer,
  r: { method: string; path: string; body?: unknown; type?: string },
): Promise<Answer> {
  const begun = Date.now();
  const res = await fetch(`${server.url}${r.path}`, {
    method: r.method,
    headers: {
      authorization: `Bearer ${token}`,
      'x-change-ticket': `CHG-FF-${run}`,
      ...(r.body === undefined ? {} : { 'content-type': r.type ?? 'application/json' }),
    },
    ...(r.body === undefined ? {} : { body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    ms: Date.now() - begun,
    type: res.headers.get('content-type') ?? '',
    retryAfter: res.headers.get('retry-after'),
    body: text.startsWith('{') ? JSON.parse(text) : text,
  };
}

/** Every route that needs Temporal answers 503 problem+json with Retry-After, each in under 2 s. */
async function expectAllUnavailable(server: RunningServer) {
  // The first fetch of a process loads the HTTP client: not the API's time, so not measured.
  expect((await call(server, { method: 'GET', path: '/healthz' })).status).toBe(200);
  const answers = await Promise.all(TEMPORAL_ROUTES.map((r) => call(server, r)));
  const seen = answers.map((a, i) => ({
    route: `${TEMPORAL_ROUTES[i]!.method} ${TEMPORAL_ROUTES[i]!.path}`,
    status: a.status,
    problem: problemSchema.safeParse(a.body).success && /^application\/problem\+json/.test(a.type),
    retryAfter: a.retryAfter,
    within2s: a.ms < 2000,
  }));
  expect(seen).toEqual(
    seen.map(({ route }) => ({ route, status: 503, problem: true, retryAfter: '5', within2s: true })),
  );
  for (const a of answers) expect(a.body).toMatchObject({ status: 503, title: 'Service unavailable' });
  const ready = await call(server, { method: 'GET', path: '/readyz' });
  expect(ready).toMatchObject({
    status: 503,
    retryAfter: '5',
    type: expect.stringMatching(/^application\/problem\+json/),
  });
  expect(ready.ms).toBeLessThan(1000);
  // What does not need Temporal still answers: liveness (above), metrics, and the evidence store.
  const metrics = await call(server, { method: 'GET', path: '/metrics' });
  expect(metrics.status).toBe(200);
  expect(metrics.ms).toBeLessThan(2000);
  const evidence = await call(server, { method: 'GET', path: at('/evidence') });
  expect(evidence).toMatchObject({
    status: 404,
    body: { detail: `no evidence for ${id} yet: bundles are written when a rotation ends` },
  });
}

/** A free port of 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never sends a byte: a hung or black-holed Temporal. */
async function silentServer() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('the API with Temporal unreachable', () => {
  it('starts while nothing listens at TEMPORAL_ADDRESS, and answers 503 problem+json within 2 s on every route that needs Temporal', async () => {
    const server = await apiFor(`127.0.0.1:${await closedPort()}`);
    try {
      await expectAllUnavailable(server);
    } finally {
      await server.close();
    }
  });

  it('answers 503 within 2 s when Temporal accepts connections and never answers (the call deadline, not a refusal)', async () => {
    const silent = await silentServer();
    const server = await apiFor(silent.address);
    try {
      await expectAllUnavailable(server);
      // The requests did reach the silent server: the 503s come from deadlines, not a refused connect.
      expect(silent.accepted()).toBeGreaterThan(0);
    } finally {
      await server.close();
      await silent.close();
    }
  });

  it('answers 503 within 2 s while a proxy to the real Temporal resets every connection, and recovers when it is restored', async () => {
    const proxy: TcpProxy = await startTcpProxy(`http://${settings.TEMPORAL_ADDRESS}`);
    const server = await apiFor(new URL(proxy.url).host);
    try {
      expect(await call(server, { method: 'GET', path: '/readyz' })).toMatchObject({ status: 200 });
      expect(await call(server, { method: 'GET', path: '/v1/rotations' })).toMatchObject({ status: 200 });
      proxy.cut();
      await expectAllUnavailable(server);
      proxy.restore();
      // gRPC reconnects with backoff: the API is ready again within seconds, not after a restart.
      const back = Date.now();
      let ready = await call(server, { method: 'GET', path: '/readyz' });
      while (ready.status !== 200 && Date.now() - back < 15_000) {
        await new Promise((r) => setTimeout(r, 200));
        ready = await call(server, { method: 'GET', path: '/readyz' });
      }
      expect(ready.status).toBe(200);
      expect(await call(server, { method: 'GET', path: at('') })).toMatchObject({
        status: 404,
        body: { detail: `no rotation ${id}` },
      });
    } finally {
      await server.close();
      await proxy.close();
    }
  });
});

describe('the API with Temporal up', () => {
  it('answers /readyz 200 within 1 s', async () => {
    const server = await apiFor(settings.TEMPORAL_ADDRESS);
    try {
      for (let i = 0; i < 3; i++) {
        const ready = await call(server, { method: 'GET', path: '/readyz' });
        expect(ready).toMatchObject({ status: 200, body: { status: 'ready' } });
        expect(ready.ms).toBeLessThan(1000);
      }
    } finally {
      await server.close();
    }
  });

  it('does not cut short an update that waits for a worker longer than the call deadline', async () => {
    const taskQueue = `fail-fast-${run}`;
    const credential = `wait-key-${run}`;
    const ticket = `CHG-W${run}`;
    const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    const client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
    const nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    // Built (bundled) now, polling only later: until then no worker answers the update.
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./workflows/api-workflows'),
    });
    let handle: WorkflowHandle | undefined;
    let workerRun: Promise<void> | undefined;
    const server = await apiFor(settings.TEMPORAL_ADDRESS, { REKEY_TEMPORAL_CALL_TIMEOUT_SECONDS: 1 });
    try {
      handle = await client.workflow.start(messageRecorder, {
        taskQueue,
        workflowId: workflowIdFor('failfast', credential),
        args: [{}],
        typedSearchAttributes: [{ key: ChangeTicketKey, value: ticket }],
      });
      const rotation = rotationIdFor(credential, 'failfast', ticket);
      const approving = call(server, {
        method: 'POST',
        path: `/v1/rotations/${encodeURIComponent(rotation)}/approvals`,
        body: { gate: 'revoke' },
      });
      await new Promise((r) => setTimeout(r, 3000));
      workerRun = worker.run();
      const answer = await approving;
      expect(answer).toMatchObject({ status: 200, body: { id: rotation, accepted: true } });
      expect(answer.ms).toBeGreaterThanOrEqual(3000);
      expect((await handle.query(receivedQuery)).map((m) => m.name)).toEqual(['approve']);
    } finally {
      await server.close();
      await handle?.terminate('fail-fast test over').catch(() => undefined);
      if (workerRun) {
        worker.shutdown();
        await workerRun;
      }
      await nativeConnection.close();
      await connection.close();
    }
  });
});
