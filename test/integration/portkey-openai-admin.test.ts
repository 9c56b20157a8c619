import { randomBytes } from 'node:crypto';
import { ADMIN_ADAPTERS, issueReplacementKey, revokeKey } from '../../activities/gateway';
import { maskMatches } from '../../activities/gateway/masked-key';
import { parseRegistry } from '../../config/registry';
import type { GatewayAdmin } from '../../domain/ports';
import { buildSimulator, type Simulator } from '../../simulator/app';
import { PORTKEY_MIN_TRANSITION_MS } from '../../simulator/portkey-admin';
import { stagingArea } from '../helpers/staging-area';

// The Portkey and OpenAI Admin API adapters against the reference gateway's parts for them, over HTTP.
const portkeyAdminKey = `pk-admin-${randomBytes(8).toString('hex')}`;
const openAiAdminKey = `sk-admin-${randomBytes(8).toString('hex')}`;
const PROJECT = 'proj_rekeytest';
const WORKSPACE = 'ws-platform-ai';
let sim: Simulator;
let base: string;
let offset = 0;
let portkey: GatewayAdmin;
let openai: GatewayAdmin;
beforeAll(async () => {
  sim = buildSimulator({
    masterKey: `sk-master-${randomBytes(8).toString('hex')}`,
    provisioningKey: `sk-or-${randomBytes(8).toString('hex')}`,
    portkeyAdminKey,
    openAiAdmin: { adminKey: openAiAdminKey, projectId: PROJECT },
    now: () => Date.now() + offset,
  });
  base = await sim.app.listen({ port: 0, host: '127.0.0.1' });
  portkey = ADMIN_ADAPTERS.portkey({
    baseUrl: `${base}/v1`,
    adminKey: () => Promise.resolve(portkeyAdminKey),
    portkeyWorkspaceId: WORKSPACE,
  });
  openai = ADMIN_ADAPTERS['openai-admin']({
    baseUrl: `${base}/v1`,
    adminKey: () => Promise.resolve(openAiAdminKey),
    openaiProjectId: PROJECT,
  });
});
afterAll(async () => {
  await sim?.app.close();
});

/** One chat completion; `header` says where the key goes. */
const chat = async (value: string, header: 'bearer' | 'portkey' = 'bearer') => {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      ...(header === 'bearer' ? { authorization: `Bearer ${value}` } : { 'x-portkey-api-key': value }),
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code?: string; message?: string } } };
};

describe('masked key matching', () => {
  it('matches Portkey and OpenAI masks by head and tail only', () => {
    expect(maskMatches('Xk*******S4', 'Xkabcdefghij4S4')).toBe(true);
    expect(maskMatches('Xk*******S4', 'Xkabcdefghij4S5')).toBe(false);
    expect(maskMatches('sk-svcac...wxyz', 'sk-svcacct-123wxyz')).toBe(true);
    expect(maskMatches('sk-svcac...wxyz', 'sk-proj-123wxyz')).toBe(false);
    expect(maskMatches('no mask here', 'no mask here')).toBe(false);
  });
});

describe('Portkey admin adapter', () => {
  it('creates a workspace service key with the old scope, finds it by value and by rotation, and it answers', async () => {
    const created = await portkey.createKey('pk-r1', { models: [], maxBudget: 25, rpmLimit: 300 });
    expect(created.keyId).toMatch(/^[0-9a-f-]{36}$/);
    const expected = { keyId: created.keyId, scope: { models: [], maxBudget: 25, rpmLimit: 300 } };
    expect(await portkey.describeKey(created.value)).toEqual(expected);
    expect(await portkey.findIssued('pk-r1')).toEqual(expected);
    expect(await portkey.findIssued('pk-other')).toBeUndefined();
    // Through Portkey apps send the key in x-portkey-api-key; OpenAI SDKs send it as bearer.
    expect((await chat(created.value, 'portkey')).status).toBe(200);
    expect((await chat(created.value)).status).toBe(200);
    const stored = sim.state.find(created.value)!;
    expect(stored.metadata).toMatchObject({ workspace_id: WORKSPACE, scopes: ['completions.write'] });
  });

  it('cannot disable, so revocation is a delete; a deleted key answers 401 and a second delete is done', async () => {
    expect(portkey.canDisable).toBe(false);
    await expect(portkey.disableKey('x')).rejects.toThrow(/cannot disable/);
    const created = await portkey.createKey('pk-r2', { models: [] });
    expect(await revokeKey(portkey, created.keyId)).toBe('revoked');
    expect((await chat(created.value, 'portkey')).status).toBe(401);
    expect(await portkey.deleteKey(created.keyId)).toBe('already-gone');
    expect(await revokeKey(portkey, created.keyId)).toBe('already-gone');
    expect(await portkey.findIssued('pk-r2')).toBeUndefined();
  });

  it('refuses to guess when two keys share a mask', async () => {
    const tail = randomBytes(8).toString('hex');
    for (const i of [1, 2]) {
      sim.state.createKey('portkey', {
        value: `Zz${i}${tail}QQ`,
        keyAlias: `twin-${i}`,
        metadata: { portkey_id: `00000000-0000-4000-8000-00000000000${i}`, workspace_id: WORKSPACE },
      });
    }
    const twin = [...sim.state.keys.values()].find((k) => k.keyAlias === 'twin-1')!;
    expect(await portkey.describeKey(twin.value)).toBeUndefined();
  });

  it('answers a wrong admin key with a non-retryable failure', async () => {
    const wrong = ADMIN_ADAPTERS.portkey({
      baseUrl: `${base}/v1`,
      adminKey: () => Promise.resolve('pk-wrong'),
      portkeyWorkspaceId: WORKSPACE,
    });
    await expect(wrong.findIssued('x')).rejects.toMatchObject({
      type: 'GatewayAdminForbidden',
      nonRetryable: true,
    });
  });

  it('rotate keeps the id and lets the gateway expire the old value on its own clock (why rekey does not use it)', async () => {
    const created = await portkey.createKey('pk-r4', { models: [] });
    const rotate = (ms: number) =>
      fetch(`${base}/v1/api-keys/${created.keyId}/rotate`, {
        method: 'POST',
        headers: { 'x-portkey-api-key': portkeyAdminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ key_transition_period_ms: ms }),
      });
    expect((await rotate(PORTKEY_MIN_TRANSITION_MS - 1)).status).toBe(400);
    const res = await rotate(PORTKEY_MIN_TRANSITION_MS);
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as { id: string; key: string; key_transition_expires_at: string };
    expect(rotated.id).toBe(created.keyId);
    expect((await chat(created.value, 'portkey')).status).toBe(200);
    expect((await chat(rotated.key, 'portkey')).status).toBe(200);
    expect(await portkey.describeKey(rotated.key)).toMatchObject({ keyId: created.keyId });
    offset += PORTKEY_MIN_TRANSITION_MS + 1000;
    try {
      // No gate was asked: the old value stopped when the transition ended.
      expect((await chat(created.value, 'portkey')).status).toBe(401);
      expect((await chat(rotated.key, 'portkey')).status).toBe(200);
    } finally {
      offset = 0;
    }
  });
});

describe('OpenAI Admin API adapter (project service-account keys)', () => {
  it('issues a key through a service account named for the rotation; it works and is found by value', async () => {
    const created = await openai.createKey('oa-r1', { models: [] });
    expect(created.keyId).toMatch(/^key_/);
    expect(created.value).toMatch(/^sk-svcacct-/);
    expect(await openai.describeKey(created.value)).toEqual({ keyId: created.keyId, scope: { models: [] } });
    expect(await openai.findIssued('oa-r1')).toEqual({ keyId: created.keyId, scope: { models: [] } });
    expect(await openai.findIssued('oa-none')).toBeUndefined();
    expect((await chat(created.value)).status).toBe(200);
  });

  it('deletes the key and its service account; the deleted key answers 401 like OpenAI', async () => {
    expect(openai.canDisable).toBe(false);
    const created = await openai.createKey('oa-r2', { models: [] });
    expect(await revokeKey(openai, created.keyId)).toBe('revoked');
    const refused = await chat(created.value);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({ code: 'invalid_api_key' });
    expect(refused.body.error!.message).toMatch(/^Incorrect API key provided: sk-\*{5}/);
    expect(refused.body.error!.message).not.toContain(created.value);
    expect(await openai.deleteKey(created.keyId)).toBe('already-gone');
    const accounts = await fetch(`${base}/v1/organization/projects/${PROJECT}/service_accounts?limit=100`, {
      headers: { authorization: `Bearer ${openAiAdminKey}` },
    });
    const names = ((await accounts.json()) as { data: { name: string }[] }).data.map((a) => a.name);
    expect(names).toContain('rekey:oa-r1');
    expect(names).not.toContain('rekey:oa-r2');
  });

  it('follows cursor pages when the project has more keys than one page', async () => {
    for (let i = 0; i < 130; i += 1) {
      sim.state.createKey('openai', {
        value: `sk-proj-${randomBytes(20).toString('hex')}`,
        metadata: { openai_key_id: `key_bulk${i}` },
      });
    }
    const created = await openai.createKey('oa-r4', { models: [] });
    expect(await openai.findIssued('oa-r4')).toMatchObject({ keyId: created.keyId });
    expect(await openai.describeKey(created.value)).toMatchObject({ keyId: created.keyId });
  });

  it('says which project is unknown, without retrying', async () => {
    const lost = ADMIN_ADAPTERS['openai-admin']({
      baseUrl: `${base}/v1`,
      adminKey: () => Promise.resolve(openAiAdminKey),
      openaiProjectId: 'proj_missing',
    });
    await expect(lost.findIssued('x')).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringContaining('proj_missing'),
    });
  });
});

describe.each([
  ['portkey', 'portkey'],
  ['openai-admin', 'bearer'],
] as const)('a retried issue through the %s adapter', (kind, header) => {
  it('never leaves a second live key', async () => {
    const admin = kind === 'portkey' ? portkey : openai;
    const rotationId = `${kind}-retried`;
    const { staged, stage } = stagingArea();
    const first = await issueReplacementKey(admin, rotationId, { models: [] }, undefined, stage);
    // The same attempt retried with the pending secret in place reuses the key.
    const again = await issueReplacementKey(admin, rotationId, { models: [] }, first.pending, stage);
    expect(again).toMatchObject({ keyId: first.keyId, reused: true });
    // A retry that lost the staged value (no pending secret) revokes the stray key and issues anew.
    const retried = await issueReplacementKey(admin, rotationId, { models: [] }, undefined, stage);
    expect(retried.keyId).not.toBe(first.keyId);
    expect(await admin.findIssued(rotationId)).toMatchObject({ keyId: retried.keyId });
    expect((await chat(staged[0]!.value, header)).status).toBe(401);
    expect((await chat(staged[1]!.value, header)).status).toBe(200);
  });
});

describe('registry fields of the new adapters', () => {
  const entry = (gateway: Record<string, unknown>) =>
    JSON.stringify({
      credentials: [
        {
          name: 'c',
          environment: 'production',
          secret: { backend: 'azure-key-vault', vault_url: 'https://kv.vault.azure.net', name: 'c-key' },
          gateway: {
            base_url: 'https://gw.example.com/v1',
            admin_base_url: 'https://gw.example.com/v1',
            admin_key_secret: 'admin',
            ...gateway,
          },
          telemetry: { adapter: 'prometheus', url: 'https://prom.example.com' },
          consumers: [{ app: 'a', environment: 'production', reload: 'dynamic' }],
        },
      ],
    });
  it.each([
    [{ admin_adapter: 'portkey' }, /gateway\.portkey_workspace_id: portkey needs portkey_workspace_id/],
    [{ admin_adapter: 'openai-admin' }, /gateway\.openai_project_id: openai-admin needs openai_project_id/],
    [{ admin_adapter: 'openai-admin', openai_project_id: 'abc' }, /an OpenAI project id, e\.g\. proj_abc123/],
    [
      { admin_adapter: 'litellm', openai_project_id: 'proj_x' },
      /only the openai-admin admin adapter reads openai_project_id/,
    ],
  ])('%j is refused, saying what is needed', (gateway, message) => {
    expect(() => parseRegistry(entry(gateway), 'r.yaml')).toThrow(message);
  });
  it('accepts each adapter with its field', () => {
    expect(() =>
      parseRegistry(entry({ admin_adapter: 'portkey', portkey_workspace_id: WORKSPACE }), 'r'),
    ).not.toThrow();
    expect(() =>
      parseRegistry(entry({ admin_adapter: 'openai-admin', openai_project_id: PROJECT }), 'r'),
    ).not.toThrow();
  });
});
