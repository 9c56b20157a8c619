import { ROUTES } from '../../domain/policy';
import { createOpenAiProbe, runNegativeTest } from '../../activities/gateway';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// The canary and negative test through the official openai SDK against the reference gateway.
let gw: RunningSimulator;
let v1: string;
beforeAll(async () => {
  gw = await startSimulator();
  v1 = `${gw.base}/v1`;
});
afterAll(async () => {
  await gw?.close();
});

const probe = createOpenAiProbe({ timeoutMs: 2_000 });
const fault = (token: string, faults: Record<string, unknown>) =>
  gw.admin('PUT', `/sim/faults/${token}`, faults);
/** Each route probed on its own (the canary stops at its first failing route). */
const routeResult = async (key: string) => {
  const results: [string, string][] = [];
  for (const route of ROUTES) {
    const [r] = (await probe.canary(v1, key, [route])).requests;
    results.push([route, r!.ok ? 'ok' : `${r!.status} ${r!.reason}`]);
  }
  return Object.fromEntries(results);
};

describe('canary', () => {
  it('passes every route on a healthy key and records request id, model, status, latency and tokens', async () => {
    const { key } = await gw.newKey();
    const report = await probe.canary(v1, key, [...ROUTES]);
    expect(report.passed).toBe(true);
    expect(report.requests.map((r) => r.route)).toEqual([...ROUTES]);
    for (const r of report.requests) {
      expect(r).toMatchObject({ ok: true, status: 200, requestId: expect.stringMatching(/^req_/) });
      expect(r.tokens).toBeGreaterThan(0);
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.requests.find((r) => r.route === 'embeddings')?.model).toBe('text-embedding-3-small');
    expect(JSON.stringify(report)).not.toContain(key);
  });

  it('fails with the right reason for each injected fault', async () => {
    const { key, token } = await gw.newKey();
    await fault(token, { status: 401 });
    expect(Object.values(await routeResult(key))).toEqual(Array(ROUTES.length).fill('401 auth'));

    await fault(token, { deniedRoutes: ['embeddings'] });
    expect(await routeResult(key)).toMatchObject({
      embeddings: '403 route-denied',
      'chat-completions': 'ok',
    });

    await fault(token, { status: 429 });
    expect((await routeResult(key)).responses).toBe('429 rate-limited');

    await fault(token, { status: 503 });
    expect((await routeResult(key))['chat-completions']).toBe('503 server-error');

    await fault(token, { breakStreams: true });
    expect(await routeResult(key)).toMatchObject({
      streaming: '200 malformed-stream',
      'chat-completions': 'ok',
    });

    await fault(token, { schemaMismatch: true });
    expect(await routeResult(key)).toMatchObject({
      'structured-output': '200 schema-mismatch',
      'tool-calls': 'ok',
    });

    await fault(token, { latencyMs: 2_500 });
    const slow = await probe.canary(v1, key, ['chat-completions']);
    expect(slow.requests[0]).toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('fails a key limited to other models with route-denied', async () => {
    const { key } = await gw.newKey({ models: ['gpt-4o'] });
    expect((await routeResult(key))['chat-completions']).toBe('403 route-denied');
  });
});

describe('negative test', () => {
  const noSleep = { sleep: () => Promise.resolve() };

  it('detects a revoked old key while the new key still works', async () => {
    const old = await gw.newKey();
    const fresh = await gw.newKey();
    await gw.admin('POST', '/key/delete', { keys: [old.key] });
    const result = await runNegativeTest(probe, v1, old.key, fresh.key, {
      attempts: 3,
      intervalMs: 10,
      ...noSleep,
    });
    expect(result).toMatchObject({
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
      newKeyAccepted: true,
      attempts: 1,
    });
  });

  it('tolerates a revocation that takes a while to propagate', async () => {
    const old = await gw.newKey();
    const fresh = await gw.newKey();
    await fault(old.token, { revocationDelayMs: 3_000 });
    await gw.admin('POST', '/key/block', { key: old.key });
    // Each wait moves the gateway's clock on by the backoff: 1 s, then 2 s — propagated by the third probe.
    const sleep = (ms: number) => {
      gw.clock.now += ms * 100;
      return Promise.resolve();
    };
    const result = await runNegativeTest(probe, v1, old.key, fresh.key, {
      attempts: 5,
      intervalMs: 10,
      sleep,
    });
    expect(result).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true, attempts: 3 });
  });

  it("uses the gateway's key endpoint where /models needs no key (OpenRouter)", async () => {
    const create = (name: string) => gw.admin('POST', '/api/v1/keys', { name }, gw.provisioningKey);
    const old = (await create('old')).body as { key: string; data: { hash: string } };
    const fresh = (await create('new')).body as { key: string };
    await gw.admin('DELETE', `/api/v1/keys/${old.data.hash}`, undefined, gw.provisioningKey);
    const openRouterProbe = createOpenAiProbe({ statusCheck: 'key' });
    const result = await runNegativeTest(openRouterProbe, `${gw.base}/api/v1`, old.key, fresh.key, {
      attempts: 2,
      intervalMs: 10,
      ...noSleep,
    });
    expect(result).toMatchObject({
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
      newKeyAccepted: true,
    });
  });

  it('reports an old key that still works after every attempt, without throwing', async () => {
    const old = await gw.newKey();
    const fresh = await gw.newKey();
    const result = await runNegativeTest(probe, v1, old.key, fresh.key, {
      attempts: 3,
      intervalMs: 10,
      ...noSleep,
    });
    expect(result).toMatchObject({
      oldKeyStatus: 200,
      oldKeyRejected: false,
      newKeyAccepted: true,
      attempts: 3,
    });
  });
});
