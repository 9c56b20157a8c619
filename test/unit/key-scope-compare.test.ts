import {
  checkScope,
  compareScopes,
  linkedAlias,
  linkedName,
  replacementLifetime,
} from '../../activities/gateway/scope';
import type { KeyScope } from '../../domain/key-scope';
import { rotationPolicySchema, toRotationInput } from '../../domain/policy';

const NOW = Date.parse('2026-12-02T00:00:00Z');
const hours = (h: number) => new Date(NOW + h * 3600_000).toISOString();

/** A LiteLLM key with every scope field set. */
const old: KeyScope = {
  models: ['gpt-4o-mini', 'text-embedding-3-small'],
  maxBudget: 100,
  budgetDuration: '30d',
  softBudget: 80,
  rpmLimit: 600,
  tpmLimit: 100_000,
  maxParallelRequests: 4,
  modelMaxBudget: { 'gpt-4o-mini': 50 },
  modelRpmLimit: { 'gpt-4o-mini': 300 },
  modelTpmLimit: { 'gpt-4o-mini': 50_000 },
  allowedRoutes: ['llm_api_routes'],
  team: 'platform-ai',
  owner: 'svc-chat',
  metadata: { cost_center: 4711, app: 'chat', owners: ['a', 'b'] },
  tags: ['prod', 'chat'],
  expiresAt: hours(24 * 30),
  keyAlias: 'chat-prod',
};
const ROTATION = 'production:chat-key:CHG-42';
const alias = linkedAlias(old.keyAlias, ROTATION);
const copy: KeyScope = { ...old, keyAlias: alias, metadata: { ...old.metadata, rekey_rotation: ROTATION } };
const diff = (next: Partial<KeyScope>, allowChanged: Parameters<typeof compareScopes>[2] = {}) =>
  compareScopes(old, { ...copy, ...next }, { expectedAlias: alias, ...allowChanged }).map(
    (e) => `${e.kind} ${e.detail}`,
  );

describe('the key scope comparison', () => {
  it('finds nothing when every field is copied (rekey metadata and the linked alias aside)', () => {
    expect(diff({})).toEqual([]);
    expect(checkScope(old, copy, { expectedAlias: alias }).verdict).toBe('same');
  });

  it('fails a broader scope, field by field', () => {
    expect(diff({ models: [...old.models, 'gpt-4o'] })).toEqual(['broader models: adds gpt-4o']);
    expect(diff({ models: [] })).toEqual([
      'broader models: all models instead of gpt-4o-mini, text-embedding-3-small',
    ]);
    expect(diff({ maxBudget: null })).toEqual(['broader max_budget: unlimited instead of 100']);
    expect(diff({ rpmLimit: 1200, tpmLimit: null, maxParallelRequests: 8 })).toEqual([
      'broader rpm_limit: 1200 instead of 600',
      'broader tpm_limit: unlimited instead of 100000',
      'broader max_parallel_requests: 8 instead of 4',
    ]);
    expect(diff({ modelMaxBudget: null, modelRpmLimit: { 'gpt-4o-mini': 600 } })).toEqual([
      'broader model_max_budget[gpt-4o-mini]: unlimited instead of 50',
      'broader model_rpm_limit[gpt-4o-mini]: 600 instead of 300',
    ]);
    expect(diff({ modelTpmLimit: {} })).toEqual([
      'broader model_tpm_limit[gpt-4o-mini]: unlimited instead of 50000',
    ]);
    expect(diff({ allowedRoutes: [] })).toEqual([
      'broader allowed_routes: all allowed routes instead of llm_api_routes',
    ]);
    expect(diff({ team: 'data-science' })).toEqual([
      'broader team: data-science instead of platform-ai (usage would roll up elsewhere)',
    ]);
    expect(diff({ expiresAt: null })).toEqual([`broader expires: never instead of ${old.expiresAt}`]);
  });

  it('fails a changed limit or label unless the policy allows that field to change', () => {
    expect(diff({ budgetDuration: null })).toEqual(['changed budget_duration: none instead of 30d']);
    expect(diff({ budgetDuration: '1d' })).toEqual(['changed budget_duration: 1d instead of 30d']);
    expect(diff({ softBudget: 90 })).toEqual(['changed soft_budget: 90 instead of 80']);
    expect(diff({ owner: 'someone' })).toEqual(['changed user_id: someone instead of svc-chat']);
    expect(diff({ metadata: { app: 'chat', owners: ['a', 'b'], cost_center: '4711' } })).toEqual([
      'changed metadata.cost_center: "4711" instead of 4711',
    ]);
    expect(diff({ metadata: { cost_center: 4711, owners: ['b', 'a'] } })).toEqual([
      'changed metadata.app: none instead of "chat"',
      'changed metadata.owners: ["b","a"] instead of ["a","b"]',
    ]);
    expect(diff({ tags: ['prod'] })).toEqual(['changed tags: ["prod"] instead of ["chat","prod"]']);
    expect(diff({ tags: ['chat', 'prod'] })).toEqual([]);
    expect(diff({ keyAlias: 'rekey:production:chat-key:CHG-42' })).toEqual([
      `changed key_alias: rekey:production:chat-key:CHG-42 instead of ${alias}`,
    ]);
    expect(diff({ expiresAt: hours(24 * 60) })).toEqual([
      `changed expires: ${hours(24 * 60)} instead of ${old.expiresAt}`,
    ]);
    expect(diff({ budgetDuration: null }, { allowChanged: ['budget_duration'] })).toEqual([
      'allowed budget_duration: none instead of 30d',
    ]);
    expect(
      checkScope(
        old,
        { ...copy, budgetDuration: null },
        { expectedAlias: alias, allowChanged: ['budget_duration'] },
      ).verdict,
    ).toBe('changed-as-allowed');
    // Allowing a field never lets it broaden.
    expect(diff({ rpmLimit: 1200 }, { allowChanged: ['rpm_limit'] })).toEqual([
      'broader rpm_limit: 1200 instead of 600',
    ]);
  });

  it('records a narrower scope as a warning, not a failure', () => {
    const narrower = {
      models: ['gpt-4o-mini'],
      maxBudget: 50,
      rpmLimit: 300,
      expiresAt: hours(24),
      modelRpmLimit: { 'gpt-4o-mini': 100, 'gpt-4o': 10 },
    };
    expect(diff(narrower)).toEqual([
      'narrower models: drops text-embedding-3-small',
      'narrower max_budget: 50 instead of 100',
      'narrower rpm_limit: 300 instead of 600',
      'narrower model_rpm_limit[gpt-4o-mini]: 100 instead of 300',
      'narrower model_rpm_limit[gpt-4o]: 10 instead of unlimited',
      `narrower expires: ${hours(24)} instead of ${old.expiresAt}`,
    ]);
    expect(checkScope(old, { ...copy, ...narrower }, { expectedAlias: alias }).verdict).toBe('narrower');
  });

  it('compares OpenRouter fields: limit reset, BYOK in the limit, expiry', () => {
    const or: KeyScope = { models: [], maxBudget: 10, limitReset: 'monthly', includeByokInLimit: true };
    const name = linkedName('chat', ROTATION);
    const next = (n: Partial<KeyScope>) =>
      compareScopes(
        { ...or, keyAlias: 'chat' },
        { ...or, keyAlias: name, ...n },
        { expectedAlias: name },
      ).map((e) => `${e.kind} ${e.detail}`);
    expect(next({})).toEqual([]);
    expect(next({ limitReset: null })).toEqual(['changed limit_reset: none instead of monthly']);
    expect(next({ includeByokInLimit: false })).toEqual([
      'broader include_byok_in_limit: false instead of true',
    ]);
    expect(next({ maxBudget: null })).toEqual(['broader max_budget: unlimited instead of 10']);
  });
});

describe('the linked alias', () => {
  it('links to the old alias by ticket, within LiteLLM’s alias rules', () => {
    expect(linkedAlias('chat-prod', ROTATION)).toBe('chat-prod.rekey/CHG-42');
    // An earlier rotation's link is replaced, not stacked.
    expect(linkedAlias('chat-prod.rekey/CHG-41', ROTATION)).toBe('chat-prod.rekey/CHG-42');
    expect(linkedAlias(null, ROTATION)).toBe('production/chat-key.rekey/CHG-42');
    expect(linkedAlias('team a: chat!', ROTATION)).toBe('team-a--chat-.rekey/CHG-42');
    const long = linkedAlias('x'.repeat(300), ROTATION);
    expect(long).toHaveLength(255);
    expect(long.endsWith('.rekey/CHG-42')).toBe(true);
    for (const a of [long, linkedAlias(null, 'r')])
      expect(a).toMatch(/^[A-Za-z0-9][A-Za-z0-9_\-/.@]*[A-Za-z0-9]$/);
    expect(linkedAlias('chat', ROTATION)).not.toMatch(/^rekey:/);
  });

  it('names an OpenRouter replacement after the old name and the whole rotation id', () => {
    expect(linkedName('chat', ROTATION)).toBe('chat.rekey/production:chat-key:CHG-42');
    expect(linkedName('chat.rekey/production:chat-key:CHG-41', ROTATION)).toBe(
      'chat.rekey/production:chat-key:CHG-42',
    );
  });
});

describe('the replacement’s lifetime', () => {
  const rules = { minLifetimeMs: 60 * 60_000, allowChanged: [] };
  it('keeps the old key’s expiry, and no expiry when it had none', () => {
    expect(replacementLifetime({ models: [] }, rules, NOW)).toEqual({ ok: true, durationSeconds: null });
    expect(replacementLifetime({ models: [], expiresAt: hours(48) }, rules, NOW)).toEqual({
      ok: true,
      durationSeconds: 48 * 3600,
    });
  });

  it('refuses, clearly, to issue a key already expired or expiring sooner than the policy allows', () => {
    expect(replacementLifetime({ models: [], expiresAt: hours(-1) }, rules, NOW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/expired at .*issued already expired/),
    });
    expect(replacementLifetime({ models: [], expiresAt: hours(0.5) }, rules, NOW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/less than key_scope.min_lifetime_minutes \(60 min\)/),
    });
  });

  it('gives the minimum lifetime when the policy allows expires to change', () => {
    expect(
      replacementLifetime({ models: [], expiresAt: hours(-1) }, { ...rules, allowChanged: ['expires'] }, NOW),
    ).toEqual({ ok: true, durationSeconds: 3600 });
  });
});

describe('key_scope in the policy', () => {
  const policy = (keyScope?: unknown) => ({
    rotation: {
      credential: 'chat-key',
      owner: 'platform',
      environment: 'production',
      reason: 'scheduled',
      change_ticket: { id: 'CHG-42' },
      scope: { apps: ['chat'], gateway_base_url: 'https://gw.example', allowed_routes: ['chat-completions'] },
      ...(keyScope === undefined ? {} : { key_scope: keyScope }),
    },
  });
  it('normalises min lifetime and allowed changes, and is absent when the policy has none', () => {
    const input = toRotationInput(
      rotationPolicySchema.parse(policy({ min_lifetime_minutes: 120, allow_changed: ['budget_duration'] })),
      'me',
    );
    expect(input.keyScope).toEqual({ minLifetimeMs: 120 * 60_000, allowChanged: ['budget_duration'] });
    expect(toRotationInput(rotationPolicySchema.parse(policy()), 'me').keyScope).toBeUndefined();
  });
  it('refuses a field it does not know', () => {
    expect(rotationPolicySchema.safeParse(policy({ allow_changed: ['budget'] })).success).toBe(false);
  });
});
