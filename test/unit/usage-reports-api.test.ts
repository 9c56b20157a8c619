import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { createAppReportStore } from '../../activities/telemetry/app-reports';
import { loadRegistry } from '../../config';

// POST /v1/credentials/:environment/:name/usage-reports on the real app and a real report directory.
const TOKENS = { chat: 'rk_chat_reporter', viewer: 'rk_viewer', other: 'rk_enrichment' };
const URL_ = '/v1/credentials/production/flatkey-router-key/usage-reports';
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
const report = (over: Record<string, unknown> = {}) => ({
  consumer: 'customer-chat-api',
  instance: 'pod-1',
  key_fingerprint: 'sha256:0123456789ab',
  from: minutesAgo(6),
  to: minutesAgo(5),
  requests: 40,
  errors: { auth: 0, server: 1, rate_limited: 0 },
  latency_p95_ms: 420,
  ...over,
});

describe('usage reports API', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'usage-reports-'));
    app = buildApp({
      temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
      registry: loadRegistry(path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml')),
      auth: new Authenticator([
        { sha256: tokenHash(TOKENS.chat), principal: 'customer-chat-api', roles: ['reporter'] },
        { sha256: tokenHash(TOKENS.viewer), principal: 'customer-chat-api', roles: ['viewer'] },
        { sha256: tokenHash(TOKENS.other), principal: 'enrichment-worker', roles: ['reporter'] },
      ]),
      taskQueue: 'unit',
      temporalUiUrl: 'http://127.0.0.1:8233',
      appReports: createAppReportStore(dir),
      logger: false,
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (token: string | undefined, body: unknown, url = URL_) =>
    app.inject({
      method: 'POST',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: body as object,
    });
  const problem = (res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }) => {
    expect(String(res.headers['content-type'])).toMatch(/application\/problem\+json/);
    return res.json() as { status: number; detail: string };
  };

  it('stores a reporter’s own report as one JSONL line, fingerprints only, and takes a retry once', async () => {
    const body = report();
    const first = await post(TOKENS.chat, body);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ stored: true, credential: 'production/flatkey-router-key' });
    const again = await post(TOKENS.chat, body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ stored: false });
    const files = readdirSync(path.join(dir, 'production', 'flatkey-router-key'));
    expect(files).toEqual([`${body.from.slice(0, 10)}.jsonl`]);
    const lines = readFileSync(path.join(dir, 'production', 'flatkey-router-key', files[0]!), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ ...body, principal: 'customer-chat-api' });
  });

  it('answers 401 without a token and 403 without the reporter role or as another consumer', async () => {
    expect(problem(await post(undefined, report())).status).toBe(401);
    const viewer = problem(await post(TOKENS.viewer, report({ instance: 'pod-v' })));
    expect(viewer.status).toBe(403);
    expect(viewer.detail).toMatch(/needs the reporter role/);
    const mismatch = problem(await post(TOKENS.other, report({ instance: 'pod-x' })));
    expect(mismatch.status).toBe(403);
    expect(mismatch.detail).toBe('enrichment-worker may report only as itself, not as customer-chat-api');
  });

  it('answers 409 to an overlapping report of the same consumer, instance and key', async () => {
    const base = report({ instance: 'pod-2', from: minutesAgo(20), to: minutesAgo(18) });
    expect((await post(TOKENS.chat, base)).statusCode).toBe(201);
    const overlap = await post(TOKENS.chat, {
      ...base,
      from: minutesAgo(19),
      to: minutesAgo(17),
      requests: 3,
    });
    expect(problem(overlap).status).toBe(409);
    // Touching is not overlapping; another instance or key is another series.
    expect((await post(TOKENS.chat, { ...base, from: base.to, to: minutesAgo(17) })).statusCode).toBe(201);
    expect((await post(TOKENS.chat, { ...base, instance: 'pod-3' })).statusCode).toBe(201);
    expect((await post(TOKENS.chat, { ...base, key_fingerprint: 'sha256:ba9876543210' })).statusCode).toBe(
      201,
    );
  });

  it('answers 422 to a span over 10 minutes, a bad fingerprint, an inverted window and more errors than requests', async () => {
    // A key-shaped value where the fingerprint belongs, made at run time.
    const keyShaped = `sk-${randomBytes(12).toString('hex')}`;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ from: minutesAgo(40), to: minutesAgo(29) }, /at most 10 minutes/],
      [{ key_fingerprint: keyShaped }, /key_fingerprint must be rekey's fingerprint form/],
      [{ key_fingerprint: 'sha256:0123456789AB' }, /sha256:<12 lowercase hex>/],
      [{ from: minutesAgo(30), to: minutesAgo(31) }, /to must be after from/],
      [{ from: minutesAgo(1), to: new Date(Date.now() + 5 * 60_000).toISOString() }, /future/],
      [
        { requests: 1, errors: { auth: 1, server: 1, rate_limited: 0 } },
        /errors \(2\) exceed requests \(1\)/,
      ],
    ];
    for (const [over, detail] of cases) {
      const p = problem(await post(TOKENS.chat, report({ instance: 'pod-422', ...over })));
      expect([p.status, p.detail]).toEqual([422, expect.stringMatching(detail)]);
    }
    // The refused key-shaped value is not echoed back.
    const res = await post(TOKENS.chat, report({ key_fingerprint: keyShaped }));
    expect(res.body).not.toContain(keyShaped);
  });

  it('answers 400 to a malformed body and 404 to an unknown credential', async () => {
    expect(problem(await post(TOKENS.chat, { ...report(), requests: -1 })).status).toBe(400);
    expect(problem(await post(TOKENS.chat, { ...report(), key: 'x' })).status).toBe(400);
    const { errors: _e, ...noErrors } = report();
    expect(problem(await post(TOKENS.chat, noErrors)).status).toBe(400);
    const unknown = '/v1/credentials/production/nope/usage-reports';
    expect(problem(await post(TOKENS.chat, report(), unknown)).status).toBe(404);
  });
});
