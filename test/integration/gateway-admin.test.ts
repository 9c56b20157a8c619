import { ADMIN_ADAPTERS, issueReplacementKey, revokeKey } from '../../activities/gateway';
import type { GatewayAdmin } from '../../domain/ports';
import type { KeyScope } from '../../domain/activity-io';
import { hashKey } from '../../simulator/state';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';
import { stagingArea } from '../helpers/staging-area';

// The admin adapters against the reference gateway's LiteLLM and OpenRouter admin APIs over HTTP.
let gw: RunningSimulator;
let litellm: GatewayAdmin;
let openrouter: GatewayAdmin;
beforeAll(async () => {
  gw = await startSimulator();
  litellm = ADMIN_ADAPTERS.litellm({ baseUrl: gw.base, adminKey: () => Promise.resolve(gw.masterKey) });
  openrouter = ADMIN_ADAPTERS.openrouter({
    baseUrl: `${gw.base}/api/v1`,
    adminKey: () => Promise.resolve(gw.provisioningKey),
  });
});
afterAll(async () => {
  await gw?.close();
});

const liveRekeyKeys = (rotationId: string) =>
  [...gw.sim.state.keys.values()].filter(
    (k) => !k.deleted && !k.blocked && k.metadata.rekey_rotation === rotationId,
  );
const works = async (value: string) =>
  (await fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${value}` } })).status;
/** One chat completion with the key; returns the request id the gateway answered with. */
const chat = async (value: string) => {
  const res = await fetch(`${gw.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('x-litellm-call-id')!;
};

describe('LiteLLM admin adapter', () => {
  const scope: KeyScope = {
    models: ['gpt-4o-mini'],
    maxBudget: 100,
    rpmLimit: 600,
    tpmLimit: null,
    team: 'platform-ai',
    owner: null,
    metadata: { app: 'chat' },
  };

  it("reads an existing key's scope by value", async () => {
    const { key, token } = await gw.newKey({
      models: ['gpt-4o-mini'],
      max_budget: 100,
      rpm_limit: 600,
      metadata: { app: 'chat' },
    });
    expect(await litellm.describeKey(key)).toMatchObject({ keyId: token, scope });
    expect(await litellm.describeKey('sk-never-issued')).toBeUndefined();
  });

  it('issues one key per rotation however often issuing is retried', async () => {
    const { staged, stage } = stagingArea();
    const first = await issueReplacementKey(litellm, 'rot-1', scope, undefined, stage);
    expect(first.reused).toBe(false);
    expect(first.scope).toMatchObject({ models: ['gpt-4o-mini'], maxBudget: 100, team: 'platform-ai' });
    expect(first.keyId).toBe(hashKey(staged[0]!.value));
    const again = await issueReplacementKey(litellm, 'rot-1', scope, first.pending, stage);
    expect(again).toMatchObject({ keyId: first.keyId, reused: true });
    expect(staged).toHaveLength(1);
    expect(liveRekeyKeys('rot-1')).toHaveLength(1);
    expect(await works(staged[0]!.value)).toBe(200);
  });

  it('revokes a key whose value was lost before staging and issues a fresh one', async () => {
    const failing = () => Promise.reject(new Error('vault unavailable'));
    await expect(issueReplacementKey(litellm, 'rot-2', scope, undefined, failing)).rejects.toThrow(
      'vault unavailable',
    );
    const orphan = [...gw.sim.state.keys.values()].find((k) => k.metadata.rekey_rotation === 'rot-2')!;
    const { staged, stage } = stagingArea();
    const retry = await issueReplacementKey(litellm, 'rot-2', scope, undefined, stage);
    expect(retry.keyId).not.toBe(orphan.token);
    expect(await works(orphan.value)).toBe(401);
    expect(liveRekeyKeys('rot-2').map((k) => k.token)).toEqual([retry.keyId]);
    expect(await works(staged[0]!.value)).toBe(200);
  });

  it('never revokes the key in use when a completed ticket is run again', async () => {
    const { stage } = stagingArea();
    const done = await issueReplacementKey(litellm, 'rot-done', scope, undefined, stage);
    const value = [...gw.sim.state.keys.values()].find((k) => k.token === done.keyId)!.value;
    // The rerun's pending secret is gone (promoted); the key it finds is the one production uses.
    await expect(
      issueReplacementKey(litellm, 'rot-done', scope, undefined, stage, done.keyId),
    ).rejects.toMatchObject({
      type: 'RotationAlreadyCompleted',
      nonRetryable: true,
    });
    expect(await works(value)).toBe(200);
  });

  it('revokes by disabling then deleting; revoking again is fine', async () => {
    const { key, token } = await gw.newKey();
    expect(await revokeKey(litellm, token)).toBe('revoked');
    expect(await works(key)).toBe(401);
    expect(await revokeKey(litellm, token)).toBe('already-gone');
  });

  it('disables a key reversibly: refused while blocked, accepted again once enabled', async () => {
    const { key, token } = await gw.newKey();
    expect(litellm.canDisable).toBe(true);
    expect(await litellm.disableKey(token)).toBe('disabled');
    expect(await works(key)).toBe(401);
    expect(await litellm.enableKey(token)).toBe('enabled');
    expect(await works(key)).toBe(200);
    // Enabling twice is harmless: the way back stays idempotent under activity retries.
    expect(await litellm.enableKey(token)).toBe('enabled');
  });

  it('cannot bring a deleted key back: enabling it reports it already gone', async () => {
    const { key, token } = await gw.newKey();
    expect(await litellm.deleteKey(token)).toBe('deleted');
    expect(await litellm.enableKey(token)).toBe('already-gone');
    expect(await works(key)).toBe(401);
  });

  it('finds a request the gateway logged by its id, and not one it never saw', async () => {
    const { key } = await gw.newKey();
    const requestId = await chat(key);
    expect(requestId).toMatch(/^req_/);
    expect(await litellm.findRequest!(requestId)).toBe(true);
    expect(await litellm.findRequest!('req_redacted')).toBe(false);
  });

  it('fails non-retryably when the master key is refused', async () => {
    const wrong = ADMIN_ADAPTERS.litellm({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve('sk-wrong-master'),
    });
    await expect(wrong.findIssued('x')).rejects.toMatchObject({
      type: 'GatewayAdminForbidden',
      nonRetryable: true,
    });
  });
});

describe('OpenRouter admin adapter', () => {
  it('reads a key by value, issues once per rotation with the same limit, and deletes twice safely', async () => {
    const created = await gw.admin(
      'POST',
      '/api/v1/keys',
      { name: 'prod-router', limit: 25 },
      gw.provisioningKey,
    );
    const oldValue = (created.body as { key: string }).key;
    const described = await openrouter.describeKey(oldValue);
    expect(described).toMatchObject({ keyId: hashKey(oldValue), scope: { models: [], maxBudget: 25 } });

    const { staged, stage } = stagingArea();
    const first = await issueReplacementKey(openrouter, 'rot-or', described!.scope, undefined, stage);
    const again = await issueReplacementKey(openrouter, 'rot-or', described!.scope, first.pending, stage);
    expect(again).toMatchObject({ keyId: first.keyId, reused: true });
    expect(staged).toHaveLength(1);
    expect(first.scope).toMatchObject({ models: [], maxBudget: 25, keyAlias: 'prod-router.rekey/rot-or' });

    expect(await revokeKey(openrouter, described!.keyId)).toBe('revoked');
    expect(await works(oldValue)).toBe(401);
    expect(await revokeKey(openrouter, described!.keyId)).toBe('already-gone');
    expect(await works(staged[0]!.value)).toBe(200);
  });

  it('disables a key reversibly with PATCH, and reports a deleted key as gone when enabling it', async () => {
    const created = await gw.admin('POST', '/api/v1/keys', { name: 'toggled' }, gw.provisioningKey);
    const { key, data } = created.body as { key: string; data: { hash: string } };
    expect(openrouter.canDisable).toBe(true);
    expect(await openrouter.disableKey(data.hash)).toBe('disabled');
    expect(await works(key)).toBe(401);
    expect(await openrouter.enableKey(data.hash)).toBe('enabled');
    expect(await works(key)).toBe(200);
    expect(await openrouter.deleteKey(data.hash)).toBe('deleted');
    expect(await openrouter.enableKey(data.hash)).toBe('already-gone');
    expect(await works(key)).toBe(401);
  });

  it('cannot look requests up, so a claimed canary request id stays unverified', () => {
    expect('findRequest' in openrouter).toBe(false);
  });

  it('refuses a replacement that would broaden access, and revokes it', async () => {
    // The old key is limited to $10; a gateway that ignores the limit would hand back an unlimited key.
    const { stage } = stagingArea();
    const unlimited = {
      ...openrouter,
      createKey: (rotationId: string) => openrouter.createKey(rotationId, { models: [], maxBudget: null }),
    };
    await expect(
      issueReplacementKey(unlimited, 'rot-broad', { models: [], maxBudget: 10 }, undefined, stage),
    ).rejects.toMatchObject({
      type: 'ScopeBroadened',
      message: expect.stringMatching(/max_budget: unlimited instead of 10/),
    });
    const made = [...gw.sim.state.keys.values()].find((k) => k.keyAlias === 'key.rekey/rot-broad')!;
    expect(made.blocked || made.deleted).toBe(true);
  });
});

describe('manual admin adapter', () => {
  it('has no key to describe and refuses to issue, revoke or re-enable without retrying', async () => {
    const manual = ADMIN_ADAPTERS.manual({
      baseUrl: 'https://router.flatkey.ai',
      adminKey: () => Promise.resolve(''),
    });
    expect(await manual.describeKey('anything')).toBeUndefined();
    await expect(manual.createKey('r', { models: [] })).rejects.toMatchObject({
      type: 'ManualGateway',
      nonRetryable: true,
    });
    await expect(revokeKey(manual, 'k')).rejects.toMatchObject({ type: 'ManualGateway' });
    expect(manual.canDisable).toBe(false);
    await expect(manual.enableKey('k')).rejects.toMatchObject({ type: 'ManualGateway', nonRetryable: true });
    expect('findRequest' in manual).toBe(false);
  });
});

describe('a rotated admin key', () => {
  it('drops the cached admin key when the gateway refuses it and retries once with a fresh one', async () => {
    let current = `sk-stale-${Date.now()}`;
    let forgotten = 0;
    const admin = ADMIN_ADAPTERS.litellm({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve(current),
      adminKeyRejected: () => {
        forgotten += 1;
        current = gw.masterKey;
      },
    });
    const { key } = await gw.newKey();
    await expect(admin.describeKey(key)).resolves.toMatchObject({ keyId: expect.any(String) });
    expect(forgotten).toBe(1);
  });

  it('fails non-retryably when the fresh admin key is refused too', async () => {
    const admin = ADMIN_ADAPTERS.litellm({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve(`sk-wrong-${Date.now()}`),
      adminKeyRejected: () => undefined,
    });
    const { key } = await gw.newKey();
    await expect(admin.describeKey(key)).rejects.toMatchObject({
      type: 'GatewayAdminForbidden',
      nonRetryable: true,
    });
  });
});
