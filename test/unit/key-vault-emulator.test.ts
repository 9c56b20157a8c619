// The reference Key Vault's drill options, through app.inject: asynchronous delete, purge and recover as
// the service does them, injected 429/503, latency, and the Azure Policy expiry rule.
import { buildKeyVault, type KeyVaultOptions } from '../../simulator/key-vault';

const auth = { authorization: 'Bearer any' };
const q = '?api-version=2025-07-01';

function vault(opts: KeyVaultOptions = {}) {
  let now = 1_750_000_000_000;
  const kv = buildKeyVault({ now: () => now, ...opts });
  const call = async (
    method: 'GET' | 'PUT' | 'DELETE' | 'POST' | 'PATCH',
    path: string,
    payload?: unknown,
  ) => {
    const res = await kv.app.inject({
      method,
      url: `${path}${q}`,
      headers: auth,
      ...(payload ? { payload } : {}),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body ? res.json<Record<string, unknown>>() : {},
    };
  };
  return { ...kv, call, advance: (ms: number) => void (now += ms) };
}

const inner = (body: Record<string, unknown>) =>
  (body.error as { innererror?: { code?: string } }).innererror?.code;

describe('the reference Key Vault drills', () => {
  it('finishes a delete only after operationDelayMs: the name is blocked and not yet listed as deleted', async () => {
    const kv = vault({ operationDelayMs: 2_000 });
    expect((await kv.call('PUT', '/secrets/s1', { value: 'v' })).status).toBe(200);
    expect((await kv.call('DELETE', '/secrets/s1')).status).toBe(200);
    expect((await kv.call('GET', '/secrets/s1/')).status).toBe(404);
    expect((await kv.call('GET', '/deletedsecrets/s1')).status).toBe(404);
    const blocked = await kv.call('PUT', '/secrets/s1', { value: 'v2' });
    expect(blocked.status).toBe(409);
    expect(inner(blocked.body)).toBe('ObjectIsBeingDeleted');
    const purgeEarly = await kv.call('DELETE', '/deletedsecrets/s1');
    expect([purgeEarly.status, inner(purgeEarly.body)]).toEqual([409, 'ObjectIsBeingDeleted']);
    kv.advance(2_000);
    expect((await kv.call('GET', '/deletedsecrets/s1')).status).toBe(200);
  });

  it('keeps a purged name blocked until the purge finishes, then frees it', async () => {
    const kv = vault({ operationDelayMs: 1_000 });
    await kv.call('PUT', '/secrets/s2', { value: 'v' });
    await kv.call('DELETE', '/secrets/s2');
    kv.advance(1_000);
    expect((await kv.call('DELETE', '/deletedsecrets/s2')).status).toBe(204);
    expect((await kv.call('GET', '/deletedsecrets/s2')).status).toBe(404);
    const blocked = await kv.call('PUT', '/secrets/s2', { value: 'v2' });
    expect([blocked.status, inner(blocked.body)]).toEqual([409, 'ObjectIsBeingDeleted']);
    kv.advance(1_000);
    expect((await kv.call('PUT', '/secrets/s2', { value: 'v2' })).status).toBe(200);
  });

  it('answers 404 to reads and 409 ObjectIsBeingRecovered to a set while a recovery runs', async () => {
    const kv = vault({ operationDelayMs: 1_000 });
    await kv.call('PUT', '/secrets/s3', { value: 'v' });
    await kv.call('DELETE', '/secrets/s3');
    kv.advance(1_000);
    expect((await kv.call('POST', '/deletedsecrets/s3/recover')).status).toBe(200);
    expect((await kv.call('GET', '/secrets/s3/')).status).toBe(404);
    expect((await kv.call('GET', '/deletedsecrets/s3')).status).toBe(404);
    const blocked = await kv.call('PUT', '/secrets/s3', { value: 'v2' });
    expect([blocked.status, inner(blocked.body)]).toEqual([409, 'ObjectIsBeingRecovered']);
    kv.advance(1_000);
    expect((await kv.call('GET', '/secrets/s3/')).body.value).toBe('v');
  });

  it('serves injected faults to the next authenticated requests, in order, with Retry-After', async () => {
    const kv = vault({ faults: [{ status: 429, count: 2, retryAfterSeconds: 3 }] });
    kv.faults.inject({ status: 503, count: 1, methods: ['put'] });
    // The challenge round trip does not use up a fault.
    const challenge = await kv.app.inject({ method: 'GET', url: `/secrets/x/${q}` });
    expect(challenge.statusCode).toBe(401);
    const first = await kv.call('GET', '/secrets/x/');
    expect([first.status, first.headers['retry-after'], (first.body.error as { code: string }).code]).toEqual(
      [429, '3', 'Throttled'],
    );
    expect((await kv.call('PUT', '/secrets/x', { value: 'v' })).status).toBe(429);
    expect((await kv.call('GET', '/secrets/x/')).status).toBe(404);
    const unavailable = await kv.call('PUT', '/secrets/x', { value: 'v' });
    expect([unavailable.status, unavailable.headers['retry-after']]).toEqual([503, undefined]);
    expect(kv.faults.remaining()).toBe(0);
    expect((await kv.call('PUT', '/secrets/x', { value: 'v' })).status).toBe(200);
    expect(kv.stats.requests).toBe(6);
  });

  it('adds latency to every request', async () => {
    const kv = vault({ latencyMs: 150 });
    const started = Date.now();
    await kv.call('GET', '/secrets/none/');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('denies a set without an expiry with 403 ForbiddenByPolicy when the expiry policy is assigned', async () => {
    const kv = vault({ policy: { requireExpiry: true } });
    const denied = await kv.call('PUT', '/secrets/p', { value: 'v' });
    expect([denied.status, inner(denied.body)]).toEqual([403, 'ForbiddenByPolicy']);
    expect(JSON.stringify(denied.body)).not.toContain('"v"');
    expect(
      (await kv.call('PUT', '/secrets/p', { value: 'v', attributes: { exp: 1_900_000_000 } })).status,
    ).toBe(200);
  });
});
