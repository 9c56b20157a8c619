import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Authenticator, tokenHash } from '../../api/auth';
import { problemSchema } from '../../api/problem';
import { startServer, type RunningServer } from '../../api/server';
import { loadRegistry, loadSettings } from '../../config';
import { IDENTIFIER_MAX_LENGTH } from '../../domain/policy';

// How the API answers at the HTTP level, over real sockets against the API as `npm run api` builds it
// (Temporal: the harness's dev server): the longest valid rotation id through every route that takes
// one, 405 with Allow for a method a known path does not answer, and a problem+json body for every
// error, including those Fastify and Node's HTTP parser answer before any route runs.
const ROOT = path.join(__dirname, '..', '..');
const CREDENTIALS_FILE = path.join(ROOT, 'config', 'credentials.example.yaml');
const token = `rk_${randomBytes(16).toString('hex')}`;
const PROBLEM_TYPE = /^application\/problem\+json/;

let server: RunningServer;
let port: number;
let dir: string;
/** `METHOD /url` of every route, as Fastify registered it. */
const routes: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-http-errors-'));
  server = await startServer(
    {
      ...loadSettings(),
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_PORT: 0,
      REKEY_CREDENTIALS_FILE: CREDENTIALS_FILE,
      REKEY_EVIDENCE_DIR: path.join(dir, 'evidence'),
    },
    {
      logger: false,
      registry: loadRegistry(CREDENTIALS_FILE),
      auth: new Authenticator([
        {
          sha256: tokenHash(token),
          principal: 'olga@example.com',
          roles: ['viewer', 'requester', 'approver', 'operator'],
        },
      ]),
      beforeListen: (app) => {
        app.addHook('onRoute', (r) => {
          for (const m of [r.method].flat()) routes.push(`${m} ${r.url}`);
        });
      },
    },
  );
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes as they are and reads the answer until the server closes: nothing in between. */
function raw(request: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The server may answer (and close) before it has read everything, e.g. a 413: keep what came.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
      if (!status) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    });
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

/** An HTTP/1.1 request with `Connection: close`, the token, and a body if given. */
function request(
  method: string,
  url: string,
  opts: { body?: string; type?: string; headers?: string[] } = {},
) {
  const head = [
    `${method} ${url} HTTP/1.1`,
    'Host: 127.0.0.1',
    `Authorization: Bearer ${token}`,
    'Connection: close',
    ...(opts.headers ?? []),
    ...(opts.body === undefined
      ? []
      : [
          `Content-Type: ${opts.type ?? 'application/json'}`,
          `Content-Length: ${Buffer.byteLength(opts.body)}`,
        ]),
  ];
  return raw(`${head.join('\r\n')}\r\n\r\n${opts.body ?? ''}`);
}

/** The answer is a problem document (problem.ts) with this status, and its requestId is the header's. */
function expectProblem(a: Answer, status: number) {
  expect({ status: a.status, type: a.headers['content-type'] }).toEqual({
    status,
    type: expect.stringMatching(PROBLEM_TYPE),
  });
  const body = problemSchema.parse(JSON.parse(a.body));
  expect(body.status).toBe(status);
  expect(body.requestId).toBe(a.headers['x-request-id']);
  return body;
}

describe('rotation ids', () => {
  const part = (c: string) => c.repeat(IDENTIFIER_MAX_LENGTH);
  const longest = `${part('e')}:${part('c')}:${part('t')}`;
  /** A body each route takes, so that the request gets past validation to the handler. */
  const BODIES: Record<string, string | undefined> = {
    'GET /v1/rotations/:id': undefined,
    'GET /v1/rotations/:id/evidence': undefined,
    'POST /v1/rotations/:id/approvals': JSON.stringify({ gate: 'flip' }),
    'POST /v1/rotations/:id/rollback': JSON.stringify({ reason: 'errors up' }),
    'POST /v1/rotations/:id/abort': JSON.stringify({ reason: 'wrong ticket' }),
    'POST /v1/rotations/:id/escalations': JSON.stringify({ reason: 'key pasted in a public issue' }),
    'POST /v1/rotations/:id/hold-extensions': JSON.stringify({ minutes: 30, reason: 'batch job' }),
    'POST /v1/rotations/:id/revocation-confirmations': JSON.stringify({ comment: 'revoked' }),
    'POST /v1/rotations/:id/replacement-key-revocations': JSON.stringify({ reason: 'drained' }),
    'POST /v1/rotations/:id/signal-inputs': JSON.stringify({ message: 'rollback', args: { reason: 'x' } }),
    'PUT /v1/rotations/:id/replacement-key': JSON.stringify({ key: `sk-${randomBytes(24).toString('hex')}` }),
    'GET /v1/fleets/:id': undefined,
    'POST /v1/fleets/:id/approvals': JSON.stringify({ gate: 'revoke' }),
  };

  it(`reach the handler of every route that takes :id at the longest valid length (${longest.length} characters)`, async () => {
    expect(longest).toHaveLength(362);
    const withId = routes.filter((r) => r.includes('/:id') && !r.startsWith('HEAD '));
    // A new route that takes an id needs a body here, so that this test covers it too.
    expect(withId.sort()).toEqual(Object.keys(BODIES).sort());
    for (const route of withId) {
      const [method = '', template = ''] = route.split(' ');
      for (const id of [encodeURIComponent(longest), longest]) {
        const a = await request(method, template.replace(':id', id), { body: BODIES[route] });
        const body = expectProblem(a, 404);
        // The handler answered, about this very id: not the router (414), not validation (400).
        expect({ route, detail: body.detail }).toEqual({
          route,
          detail: expect.stringContaining(`${longest}`),
        });
      }
    }
  });

  it('answer a param longer than any id can be with 414 problem+json, also at 5,000 characters', async () => {
    for (const id of [`${longest}x`, 'a'.repeat(5000)]) {
      const body = expectProblem(await request('GET', `/v1/rotations/${id}`), 414);
      expect(body).toMatchObject({
        title: 'URI too long',
        detail: expect.stringMatching(/longer than any rotation id/),
      });
      expect(body.instance.length).toBeLessThanOrEqual(1024);
    }
    expectProblem(
      await request('POST', `/v1/rotations/${'a'.repeat(5000)}/abort`, { body: '{"reason":"x"}' }),
      414,
    );
  });
});

describe('methods', () => {
  it.each([
    ['TRACE', '/v1/rotations', 'GET, HEAD, POST'],
    ['QUERY', '/v1/rotations', 'GET, HEAD, POST'],
    ['PATCH', '/v1/rotations', 'GET, HEAD, POST'],
    ['DELETE', '/v1/rotations', 'GET, HEAD, POST'],
    ['DELETE', '/v1/rotations/prod:key:CHG-1', 'GET, HEAD'],
    ['PUT', '/v1/rotations/prod%3Akey%3ACHG-1', 'GET, HEAD'],
    ['TRACE', '/healthz', 'GET, HEAD'],
    ['POST', '/readyz', 'GET, HEAD'],
    ['GET', '/v1/rotations/prod:key:CHG-1/approvals', 'POST'],
    ['POST', '/v1/rotations/prod:key:CHG-1/replacement-key', 'PUT'],
  ])('answers %s %s with 405 and Allow: %s', async (method, url, allow) => {
    const a = await request(method, url);
    expect(a.headers.allow).toBe(allow);
    expect(expectProblem(a, 405)).toMatchObject({ title: 'Method not allowed' });
  });

  it('answers 405 before reading a body: a QUERY without Content-Type, and a 2 MiB PATCH', async () => {
    expect((await request('QUERY', '/healthz')).headers.allow).toBe('GET, HEAD');
    const big = await request('PATCH', '/v1/rotations', { body: 'x'.repeat(2 * 1024 * 1024) });
    expectProblem(big, 405);
  });

  it.each([
    ['GET', '/v1/nothing-here'],
    ['TRACE', '/nope'],
    ['DELETE', '/v1/rotations/prod:key:CHG-1/nope'],
  ])('answers %s %s (no such path) with 404 problem+json', async (method, url) => {
    const a = await request(method, url);
    expect(a.headers.allow).toBeUndefined();
    expect(expectProblem(a, 404)).toMatchObject({ title: 'Not found' });
  });
});

describe('error bodies', () => {
  const seed = JSON.stringify({ rotation: { credential: 'flatkey-router-key' } });

  it('answers a body over the limit with 413 problem+json', async () => {
    const a = await request('POST', '/v1/rotations', { body: `{"pad":"${'x'.repeat(1024 * 1024)}"}` });
    expect(expectProblem(a, 413)).toMatchObject({ title: 'Content too large' });
  });

  it("answers headers over Node's limit with 431 problem+json, and an over-long request line with 414", async () => {
    const headers = await request('GET', '/healthz', { headers: [`X-Padding: ${'a'.repeat(20_000)}`] });
    expect(expectProblem(headers, 431)).toMatchObject({
      title: 'Request header fields too large',
      instance: '/healthz',
    });
    const line = await request('GET', `/v1/rotations?credential=${'a'.repeat(20_000)}`);
    expect(expectProblem(line, 414)).toMatchObject({ title: 'URI too long' });
  });

  it('answers malformed JSON and YAML with 400 problem+json', async () => {
    const json = await request('POST', '/v1/rotations', { body: '{"rotation": ' });
    expect(expectProblem(json, 400)).toMatchObject({
      title: 'Bad request',
      detail: expect.stringMatching(/JSON/),
    });
    const yaml = await request('POST', '/v1/rotations', { body: 'rotation: [', type: 'application/yaml' });
    expect(expectProblem(yaml, 400)).toMatchObject({ detail: expect.stringMatching(/not valid YAML/) });
  });

  it('answers a body of a media type the route does not read with 415 problem+json', async () => {
    for (const type of ['text/csv', 'application/x-www-form-urlencoded', 'no/such;;type']) {
      const a = await request('POST', '/v1/rotations', { body: seed, type });
      expect(expectProblem(a, 415)).toMatchObject({ title: 'Unsupported media type' });
    }
  });

  it('answers what Node or the router cannot parse with problem+json: an unknown method 501, a bad URL or header 400', async () => {
    expect(expectProblem(await request('FROB', '/healthz'), 501)).toMatchObject({ title: 'Not implemented' });
    expectProblem(await request('GET', '/v1/rotations/%E0%A4%A'), 400);
    expectProblem(await request('GET', '/healthz', { headers: ['Content-Length: many'] }), 400);
  });
});
