import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { buildApp, type ApiDeps } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { startServer } from '../../api/server';
import { loadRegistry, loadSettings, type Settings } from '../../config';

// The API's operational surface against the real Temporal dev server the harness started: the OpenAPI
// document and docs page, /metrics, request ids, request logs, and the production entry's shutdown.
const ROOT = path.join(__dirname, '..', '..');
const CREDENTIALS_FILE = path.join(ROOT, 'config', 'credentials.example.yaml');
const run = randomBytes(4).toString('hex');
// The seed's template on a credential the other API tests do not rotate, so runs never collide.
const seedYaml = readFileSync(path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml'), 'utf8').replace(
  'credential: flatkey-router-key',
  'credential: litellm-platform-key',
);
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const alice = token();
const dave = token();
const tokens = [
  { sha256: tokenHash(alice), principal: 'alice@example.com', roles: ['requester' as const] },
  { sha256: tokenHash(dave), principal: 'dave@example.com', roles: ['viewer' as const] },
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let settings: Settings;
let connection: Connection;
let client: Client;
let dir: string;
const started: { workflowId: string; runId: string }[] = [];

beforeAll(async () => {
  settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-api-ops-'));
});
afterAll(async () => {
  // Only the runs this file started: other test files may be using the same dev server.
  for (const wf of started) {
    await client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .terminate('api operations test over')
      .catch(() => undefined);
  }
  await connection?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An app on the real Temporal client, with a task queue no worker polls. */
function makeApp(extra: Partial<ApiDeps> = {}): FastifyInstance {
  return buildApp({
    temporal: client,
    registry: loadRegistry(CREDENTIALS_FILE),
    auth: new Authenticator(tokens),
    taskQueue: `api-ops-test-${run}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
    ...extra,
  });
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('OpenAPI document and docs page', () => {
  type Operation = {
    security?: Record<string, string[]>[];
    responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
    requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  };
  type Document = {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    security?: Record<string, string[]>[];
    components: {
      securitySchemes: Record<string, unknown>;
      schemas: Record<string, { properties?: Record<string, unknown> }>;
    };
  };
  let app: FastifyInstance;
  const registered: string[] = [];
  let doc: Document;

  beforeAll(async () => {
    app = makeApp();
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
    });
    // A plugin registered after buildApp, as a later feature would: its route must be documented too.
    void app.register(
      async (later) => {
        later.get(
          '/late-plugin/:thing',
          { schema: { params: z.object({ thing: z.string().describe('anything') }) } },
          () => ({ ok: true }),
        );
      },
      { prefix: '/v1' },
    );
    await app.ready();
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json<Document>();
  });
  afterAll(() => app.close());

  it('is a valid OpenAPI 3.1 document by the OpenAPI schema validator', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const cli = path.join(
      path.dirname(require.resolve('@seriousme/openapi-schema-validator/package.json')),
      'bin',
      'validate-api-cli.js',
    );
    // The validator ships as ESM only; its CLI runs it outside jest's CommonJS module registry.
    const { stdout } = await promisify(execFile)(process.execPath, [cli, file]).catch(
      (err: { stdout: string }) => ({ stdout: err.stdout }),
    );
    expect(JSON.parse(stdout)).toEqual({ valid: true });
  });

  it('documents every route Fastify registered, including routes of plugins registered later', () => {
    // HEAD routes mirror GET ones and are left out of the document.
    const expected = registered
      .filter((r) => !r.startsWith('HEAD '))
      .map((r) => r.replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect([...new Set(documented)].sort()).toEqual([...new Set(expected)].sort());
    // The hook saw the routes at all: the design's endpoints are among them.
    expect(expected).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /docs',
        'POST /v1/rotations',
        'GET /v1/rotations',
        'GET /v1/rotations/{id}',
        'GET /v1/late-plugin/{thing}',
      ]),
    );
  });

  it('declares bearer auth on /v1 routes, none on probes and metrics, and problem+json errors everywhere', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Problem?.properties).toHaveProperty('requestId');
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const security = op.security ?? doc.security ?? [];
        if (p.startsWith('/v1/')) expect([method, p, security]).toEqual([method, p, [{ bearerAuth: [] }]]);
        else expect([method, p, security]).toEqual([method, p, []]);
        for (const range of ['4XX', '5XX']) {
          expect([method, p, op.responses[range]?.content?.['application/problem+json']?.schema]).toEqual([
            method,
            p,
            { $ref: '#/components/schemas/Problem' },
          ]);
        }
      }
    }
    // Bodies come from the zod schemas, descriptions included.
    const body = doc.paths['/v1/rotations']?.post?.requestBody?.content['application/json']?.schema;
    expect(body?.properties).toHaveProperty('rotation');
    expect(JSON.stringify(body)).toContain('credential name in the registry');
  });

  it("documents the start as taking the seed's YAML or JSON and the answers of start, list and status", () => {
    const start = doc.paths['/v1/rotations']?.post;
    expect(Object.keys(start?.requestBody?.content ?? {})).toEqual(
      expect.arrayContaining(['application/yaml', 'text/yaml', 'application/json']),
    );
    expect(Object.keys(start?.responses ?? {})).toEqual(expect.arrayContaining(['200', '201']));
    expect(JSON.stringify(doc.paths['/v1/rotations']?.get?.responses['200'])).toContain('changeTicket');
    expect(JSON.stringify(doc.paths['/v1/rotations/{id}']?.get?.responses['200'])).toContain('temporalUiUrl');
    for (const action of [
      'approvals',
      'rollback',
      'abort',
      'hold-extensions',
      'revocation-confirmations',
      'replacement-key-revocations',
    ]) {
      expect([action, doc.paths[`/v1/rotations/{id}/${action}`]?.post?.requestBody]).toEqual([
        action,
        expect.anything(),
      ]);
    }
    expect(doc.paths['/v1/rotations/{id}/replacement-key-revocations']?.post?.responses['202']).toBeDefined();
    // An approval's accepted risk and exceptions, and an extension's exceptions, are described fields.
    const body = (action: string) =>
      doc.paths[`/v1/rotations/{id}/${action}`]?.post?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body('approvals')?.properties ?? {})).toEqual(
      expect.arrayContaining(['riskReason', 'exceptions']),
    );
    expect(Object.keys(body('hold-extensions')?.properties ?? {})).toContain('exceptions');
    for (const field of ['expiresAt', 'compensatingControl', 'owner', "evidence is 'insufficient'"]) {
      expect([field, JSON.stringify(body('approvals'))]).toEqual([field, expect.stringContaining(field)]);
    }
    expect(doc.paths['/v1/rotations/{id}/replacement-key']?.put?.responses['202']).toBeDefined();
  });

  it('checks the token before it reads the body: no token and a bad body is 401, not 400', async () => {
    for (const [method, url] of [
      ['POST', '/v1/rotations'],
      ['PUT', '/v1/rotations/prod:key:CHG-1/replacement-key'],
      ['POST', '/v1/rotations/prod:key:CHG-1/approvals'],
    ] as const) {
      const res = await app.inject({ method, url, payload: { nonsense: true } });
      expect([url, res.statusCode]).toEqual([url, 401]);
    }
  });

  it('serves /docs without a token, from the Swagger UI files in the package, never from a CDN', async () => {
    const page = await app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      const res = await app.inject({ url: new URL(asset, 'http://api.local/docs').pathname });
      expect([asset, res.statusCode]).toEqual([asset, 200]);
    }
    expect(assets).toEqual(expect.arrayContaining(['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']));
    const init = await app.inject({ url: '/docs/swagger-initializer.js' });
    // It renders this API's document, and never asks the public swagger.io validator about it.
    expect(init.body).toContain("url: '/openapi.json'");
    expect(init.body).toContain('validatorUrl: null');
    expect((await app.inject({ url: '/docs/../package.json' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/docs/index.html' })).statusCode).toBe(400);
  });
});

describe('/metrics', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = makeApp({ metrics: new Registry() });
    await app.ready();
  });
  afterAll(() => app.close());

  const scrape = async () => {
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it("exposes every metric the design lists and prom-client's process metrics, without a token", async () => {
    const text = await scrape();
    for (const [name, type] of [
      ['rekey_rotations_started_total', 'counter'],
      ['rekey_rotations_finished_total', 'counter'],
      ['rekey_rotation_phase', 'gauge'],
      ['rekey_phase_duration_seconds', 'histogram'],
      ['rekey_approvals_pending', 'gauge'],
      ['rekey_canary_requests_total', 'counter'],
      ['rekey_negative_tests_total', 'counter'],
      ['rekey_http_requests_total', 'counter'],
      ['rekey_http_request_duration_seconds', 'histogram'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
  });

  it('counts a rotation started from the seed template once, and labels requests by route template', async () => {
    const ticket = `CHG-OPS-${run}`;
    const post = () =>
      app.inject({
        method: 'POST',
        url: '/v1/rotations',
        payload: seedYaml,
        headers: { 'content-type': 'application/yaml', 'x-change-ticket': ticket, ...bearer(alice) },
      });
    const first = await post();
    expect(first.statusCode).toBe(201);
    started.push(first.json<{ workflowId: string; runId: string }>());
    // Joining the same ticket answers 200 and is not a second start.
    expect((await post()).statusCode).toBe(200);
    const shown = await app.inject({
      url: `/v1/rotations/production:litellm-platform-key:NOPE-${run}`,
      headers: bearer(dave),
    });
    expect(shown.statusCode).toBe(404);

    const text = await scrape();
    expect(text).toContain('rekey_rotations_started_total{environment="production",mode="scheduled"} 1\n');
    expect(text).toContain('rekey_http_requests_total{method="POST",route="/v1/rotations",status="201"} 1\n');
    expect(text).toContain('rekey_http_requests_total{method="POST",route="/v1/rotations",status="200"} 1\n');
    expect(text).toContain(
      'rekey_http_requests_total{method="GET",route="/v1/rotations/:id",status="404"} 1\n',
    );
    expect(text).toMatch(
      /rekey_http_request_duration_seconds_count\{method="POST",route="\/v1\/rotations",status="201"\} 1\n/,
    );
    expect(text).not.toContain(`NOPE-${run}`);
  });
});

describe('request ids', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = makeApp();
    await app.ready();
  });
  afterAll(() => app.close());

  it("echoes a client's sane X-Request-Id in the header and in problem+json bodies", async () => {
    for (const id of ['req-123', 'a.B_c-9', 'x'.repeat(128)]) {
      const res = await app.inject({ url: '/v1/rotations', headers: { 'x-request-id': id } });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['x-request-id']).toBe(id);
      expect(res.json()).toMatchObject({ status: 401, requestId: id });
    }
    const ok = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'probe-1' } });
    expect(ok.headers['x-request-id']).toBe('probe-1');
  });

  it('generates a UUID when the client sends none, or one that is too long or not a plain token', async () => {
    const seen = new Set<string>();
    for (const id of [undefined, 'x'.repeat(129), 'has space', 'semi;colon', '<script>', '', 'ü-umlaut']) {
      const res = await app.inject({
        url: '/no-such-route',
        headers: id === undefined ? {} : { 'x-request-id': id },
      });
      expect(res.statusCode).toBe(404);
      const echoed = res.headers['x-request-id'] as string;
      expect(echoed).toMatch(UUID);
      expect(res.json()).toMatchObject({ status: 404, requestId: echoed });
      seen.add(echoed);
    }
    expect(seen.size).toBe(7);
  });
});

describe('request logs', () => {
  it('log every request but never a bearer token or a key-like body field', async () => {
    const lines: string[] = [];
    const app = makeApp({
      logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } },
    });
    await app.ready();
    try {
      const secret = `sk-live-${randomBytes(12).toString('hex')}`;
      const json = { 'content-type': 'application/json' };
      const sent = [
        // A key in fields the body schema refuses: 400 with problem details.
        app.inject({
          method: 'POST',
          url: '/v1/rotations',
          headers: { ...json, ...bearer(alice), 'x-request-id': 'log-1' },
          payload: JSON.stringify({
            rotation: { credential: 'x' },
            key: secret,
            apiKey: secret,
            value: secret,
          }),
        }),
        // A key inside YAML that does not parse.
        app.inject({
          method: 'POST',
          url: '/v1/rotations',
          headers: { 'content-type': 'application/yaml', ...bearer(alice), 'x-request-id': 'log-2' },
          payload: `rotation:\n  key: ${secret}\n  bad: [unclosed`,
        }),
        // A key inside JSON that does not parse (Node's parse error quotes the text it choked on).
        app.inject({
          method: 'POST',
          url: '/v1/rotations',
          headers: { ...json, ...bearer(alice), 'x-request-id': 'log-6' },
          payload: `{"key": "${secret}", broken`,
        }),
        // A key sent to a route that does not exist, with a token that is not configured.
        app.inject({
          method: 'PUT',
          url: '/v1/rotations/production:litellm-platform-key:CHG-1/replacement-key-typo',
          headers: { ...json, ...bearer(dave), 'x-request-id': 'log-3' },
          payload: JSON.stringify({ key: secret }),
        }),
        app.inject({ url: '/v1/rotations', headers: { ...bearer(dave), 'x-request-id': 'log-4' } }),
        app.inject({ url: '/v1/rotations', headers: { ...bearer(`${alice}x`), 'x-request-id': 'log-5' } }),
      ];
      const answers = await Promise.all(sent);
      expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 400, 404, 200, 401]);

      const log = lines.join('');
      // The log is really there: each request came in and was answered under its id.
      for (const id of ['log-1', 'log-2', 'log-3', 'log-4', 'log-5', 'log-6']) {
        expect(lines.filter((l) => l.includes(`"reqId":"${id}"`)).length).toBeGreaterThanOrEqual(2);
      }
      expect(log).toContain('"url":"/v1/rotations"');
      for (const leaked of [alice, dave, secret]) expect(log).not.toContain(leaked);
      expect(log).not.toMatch(/authorization/i);
    } finally {
      await app.close();
    }
  });
});

describe('api/server.ts', () => {
  const tokensFile = () => {
    const file = path.join(dir, `tokens-${randomBytes(3).toString('hex')}.yaml`);
    writeFileSync(
      file,
      tokens
        .map((t) => `- sha256: ${t.sha256}\n  principal: ${t.principal}\n  roles: [${t.roles.join(', ')}]\n`)
        .join(''),
    );
    return file;
  };
  const serverSettings = (): Settings => ({
    ...settings,
    REKEY_API_HOST: '127.0.0.1',
    REKEY_API_PORT: 0,
    REKEY_API_TOKENS_FILE: tokensFile(),
    REKEY_CREDENTIALS_FILE: CREDENTIALS_FILE,
  });

  /** A request over a keep-alive connection, as real clients make them. */
  const agent = new http.Agent({ keepAlive: true });
  afterAll(() => agent.destroy());
  const get = (url: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  const connectError = (port: number) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  const until = async (check: () => boolean, ms = 5000) => {
    for (const end = Date.now() + ms; !check() && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  };

  /** A test-only route that stays in flight until the test lets it go. */
  function slowRoute() {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const state = { entered: false, release };
    const install = (app: FastifyInstance) => {
      app.get('/test/slow', async () => {
        state.entered = true;
        await gate;
        return { finished: true };
      });
    };
    return { state, install };
  }

  it('connects Temporal from settings, lets an in-flight request finish, refuses new connections, then closes', async () => {
    const slow = slowRoute();
    const server = await startServer(serverSettings(), { logger: false, beforeListen: slow.install });
    const { port } = new URL(server.url);
    try {
      expect(await get(`${server.url}/readyz`)).toEqual({ status: 200, body: '{"status":"ready"}' });

      const inFlight = get(`${server.url}/test/slow`);
      await until(() => slow.state.entered);
      let closedAt = 0;
      const closed = server.close().then(() => (closedAt = Date.now()));
      await until(() => !server.app.server.listening);
      expect(await connectError(Number(port))).toBe('ECONNREFUSED');
      await new Promise((r) => setTimeout(r, 200));
      expect(closedAt).toBe(0);

      const releasedAt = Date.now();
      slow.state.release();
      expect(await inFlight).toEqual({ status: 200, body: '{"finished":true}' });
      await closed;
      // Shutdown ends with the last request, not after the keep-alive timeout or the 10 s bound.
      expect(closedAt - releasedAt).toBeLessThan(2000);
    } finally {
      slow.state.release();
      await server.close();
    }
  });

  it('closes connections whose requests outlive the shutdown bound', async () => {
    const slow = slowRoute();
    const server = await startServer(serverSettings(), {
      logger: false,
      beforeListen: slow.install,
      shutdownTimeoutMs: 300,
    });
    try {
      const inFlight = get(`${server.url}/test/slow`).then(
        () => 'answered',
        (err: NodeJS.ErrnoException) => err.code ?? err.message,
      );
      await until(() => slow.state.entered);
      const begun = Date.now();
      await server.close();
      expect(Date.now() - begun).toBeGreaterThanOrEqual(250);
      expect(Date.now() - begun).toBeLessThan(3000);
      expect(await inFlight).toBe('ECONNRESET');
    } finally {
      slow.state.release();
      await server.close();
    }
  });

  it('exits 0 on SIGTERM when run as `npm run api` does', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api', 'server.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        REKEY_API_HOST: '127.0.0.1',
        REKEY_API_PORT: '0',
        REKEY_API_TOKENS_FILE: tokensFile(),
        REKEY_CREDENTIALS_FILE: CREDENTIALS_FILE,
        REKEY_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await until(() => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(out), 60_000);
      const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      expect((await get(`${url}/healthz`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('"signal":"SIGTERM"');
      expect(await connectError(Number(new URL(url).port))).toBe('ECONNREFUSED');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
