import { ADMIN_ADAPTERS, issueReplacementKey } from '../../activities/gateway';
import type { GatewayAdmin } from '../../domain/ports';
import type { SecretVersionRef } from '../../domain/activity-io';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// Scope continuity against the reference gateway over HTTP: the replacement copies every field of
// the old key, and a gateway that drops one on create is caught before anything uses the new key.
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
afterEach(async () => {
  await gw.admin('PUT', '/sim/create-drops', { fields: [] });
});

const stage = (value: string, keyId: string): Promise<SecretVersionRef> =>
  Promise.resolve({
    store: 'https://vault.test',
    name: 'k-pending',
    version: `v-${value.length}`,
    fingerprint: 'sha256:000000000000',
    enabled: true,
    gatewayKeyId: keyId,
  });

const OLD_FIELDS = {
  key_alias: 'chat-prod',
  models: ['gpt-4o-mini'],
  max_budget: 100,
  budget_duration: '30d',
  soft_budget: 80,
  rpm_limit: 600,
  tpm_limit: 100_000,
  max_parallel_requests: 4,
  model_max_budget: { 'gpt-4o-mini': 50 },
  model_rpm_limit: { 'gpt-4o-mini': 300 },
  model_tpm_limit: { 'gpt-4o-mini': 50_000 },
  allowed_routes: ['llm_api_routes'],
  team_id: 'platform-ai',
  user_id: 'svc-chat',
  metadata: { cost_center: 4711, app: 'chat', billing: { split: [60, 40] }, pii: false },
  tags: ['prod', 'chat'],
  duration: '30d',
};

/** The old key as the adapter reads it (by value), and the gateway's row of a key by its token. */
async function oldKey(fields: Record<string, unknown> = OLD_FIELDS) {
  const { key } = await gw.newKey(fields);
  return (await litellm.describeKey(key))!;
}
const row = async (token: string) =>
  (await gw.admin('GET', `/key/info?key=${token}`)).body.info as Record<string, unknown>;

describe('LiteLLM scope continuity', () => {
  it('copies every scope field, non-string metadata, tags, budget_duration and expiry; the alias links back', async () => {
    const old = await oldKey();
    expect(old.scope).toMatchObject({
      budgetDuration: '30d',
      softBudget: 80,
      metadata: { cost_center: 4711, billing: { split: [60, 40] }, pii: false },
      tags: ['prod', 'chat'],
      modelRpmLimit: { 'gpt-4o-mini': 300 },
      keyAlias: 'chat-prod',
    });
    const rotationId = 'production:chat-key:CHG-100';
    const issued = await issueReplacementKey(litellm, rotationId, old.scope, undefined, stage);
    expect(issued.scopeCheck).toMatchObject({ verdict: 'same', diff: [] });
    const info = await row(issued.keyId);
    expect(info).toMatchObject({
      key_alias: 'chat-prod.rekey/CHG-100',
      models: ['gpt-4o-mini'],
      max_budget: 100,
      budget_duration: '30d',
      litellm_budget_table: { soft_budget: 80 },
      rpm_limit: 600,
      tpm_limit: 100_000,
      max_parallel_requests: 4,
      model_max_budget: { 'gpt-4o-mini': 50 },
      allowed_routes: ['llm_api_routes'],
      team_id: 'platform-ai',
      user_id: 'svc-chat',
      metadata: {
        cost_center: 4711,
        app: 'chat',
        billing: { split: [60, 40] },
        pii: false,
        tags: ['prod', 'chat'],
        model_rpm_limit: { 'gpt-4o-mini': 300 },
        model_tpm_limit: { 'gpt-4o-mini': 50_000 },
        rekey_rotation: rotationId,
      },
    });
    // Same expiry as the old key, give or take the seconds the create took: never later.
    const drift = Date.parse(info.expires as string) - Date.parse(old.scope.expiresAt!);
    expect(Math.abs(drift)).toBeLessThan(5_000);
    // Found again by the rotation id it carries (the alias filter cannot), so a retry reuses it.
    const again = await issueReplacementKey(litellm, rotationId, old.scope, issued.pending, stage);
    expect(again).toMatchObject({ keyId: issued.keyId, reused: true, scopeCheck: { verdict: 'same' } });
  });

  it('fails the issue with the diff named when the gateway drops budget_duration, and revokes the key', async () => {
    // Aliases are unique across live keys, so each old key has its own.
    const old = await oldKey({ ...OLD_FIELDS, key_alias: 'chat-dropped' });
    await gw.admin('PUT', '/sim/create-drops', { fields: ['budget_duration'] });
    const rotationId = 'production:chat-key:CHG-101';
    const err = (await issueReplacementKey(litellm, rotationId, old.scope, undefined, stage).then(
      () => undefined,
      (e: unknown) => e,
    )) as { type: string; message: string; nonRetryable: boolean; details: unknown[] };
    expect(err).toMatchObject({
      type: 'ScopeNotCopied',
      nonRetryable: true,
      message: expect.stringMatching(
        /does not keep the old key's scope: budget_duration: none instead of 30d/,
      ),
    });
    expect(err.details[0]).toMatchObject({
      verdict: 'fail',
      diff: [{ field: 'budget_duration', kind: 'changed', old: '30d', issued: 'none' }],
    });
    const made = [...gw.sim.state.keys.values()].filter((k) => k.keyAlias === 'chat-dropped.rekey/CHG-101');
    expect(made).toHaveLength(1);
    expect(made[0]!.deleted).toBe(true);
    expect(await litellm.findIssued(rotationId)).toBeUndefined();
  });

  it('accepts the dropped field when the policy allows it to change, and records it', async () => {
    const old = await oldKey({ ...OLD_FIELDS, key_alias: 'chat-allowed' });
    await gw.admin('PUT', '/sim/create-drops', { fields: ['budget_duration'] });
    const issued = await issueReplacementKey(
      litellm,
      'production:chat-key:CHG-102',
      old.scope,
      undefined,
      stage,
      undefined,
      {
        minLifetimeMs: 60 * 60_000,
        allowChanged: ['budget_duration'],
      },
    );
    expect(issued.scopeCheck).toMatchObject({
      verdict: 'changed-as-allowed',
      diff: [{ field: 'budget_duration', kind: 'allowed' }],
    });
  });

  it('refuses to copy a key that expires sooner than the policy allows, before creating anything', async () => {
    const old = await oldKey({ ...OLD_FIELDS, key_alias: 'short-lived', duration: '10m' });
    const before = gw.sim.state.keys.size;
    await expect(
      issueReplacementKey(litellm, 'production:chat-key:CHG-103', old.scope, undefined, stage),
    ).rejects.toMatchObject({
      type: 'ScopeNotCopied',
      message: expect.stringMatching(/less than key_scope.min_lifetime_minutes \(60 min\)/),
    });
    expect(gw.sim.state.keys.size).toBe(before);
  });
});

describe('OpenRouter scope continuity', () => {
  it('copies limit, limit_reset, include_byok_in_limit and expires_at; the name links back', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const created = await gw.admin(
      'POST',
      '/api/v1/keys',
      { name: 'chat', limit: 25, limit_reset: 'monthly', include_byok_in_limit: true, expires_at: expiresAt },
      gw.provisioningKey,
    );
    const old = (await openrouter.describeKey((created.body as { key: string }).key))!;
    expect(old.scope).toMatchObject({
      maxBudget: 25,
      limitReset: 'monthly',
      includeByokInLimit: true,
      expiresAt,
    });
    const rotationId = 'production:or-key:CHG-200';
    const issued = await issueReplacementKey(openrouter, rotationId, old.scope, undefined, stage);
    expect(issued.scopeCheck).toMatchObject({ verdict: 'same', diff: [] });
    const got = (await gw.admin('GET', `/api/v1/keys/${issued.keyId}`, undefined, gw.provisioningKey)).body
      .data as Record<string, unknown>;
    expect(got).toMatchObject({
      name: `chat.rekey/${rotationId}`,
      limit: 25,
      limit_reset: 'monthly',
      include_byok_in_limit: true,
    });
    expect(Math.abs(Date.parse(got.expires_at as string) - Date.parse(expiresAt))).toBeLessThan(5_000);
    expect((await openrouter.findIssued(rotationId))?.keyId).toBe(issued.keyId);
  });

  it('fails when the gateway drops limit_reset', async () => {
    const created = await gw.admin(
      'POST',
      '/api/v1/keys',
      { name: 'daily', limit: 5, limit_reset: 'daily' },
      gw.provisioningKey,
    );
    const old = (await openrouter.describeKey((created.body as { key: string }).key))!;
    await gw.admin('PUT', '/sim/create-drops', { fields: ['limit_reset'] });
    await expect(
      issueReplacementKey(openrouter, 'production:or-key:CHG-201', old.scope, undefined, stage),
    ).rejects.toMatchObject({
      type: 'ScopeNotCopied',
      message: expect.stringMatching(/limit_reset: none instead of daily/),
    });
  });
});
