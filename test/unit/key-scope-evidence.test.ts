import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import { checkScope, linkedAlias } from '../../activities/gateway/scope';
import { renderEvidenceMarkdown } from '../../domain/evidence/markdown';
import type { KeyScope } from '../../domain/key-scope';
import { revokeGateEvidence, type RevokeGateFacts } from '../../workflows/gate-evidence';
import {
  ROTATION_ID,
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
} from '../helpers/evidence-fixtures';

const old: KeyScope = {
  models: ['gpt-4o-mini'],
  maxBudget: 100,
  budgetDuration: '30d',
  rpmLimit: 600,
  team: 'platform-ai',
  metadata: { cost_center: 4711 },
  tags: ['prod'],
  keyAlias: 'chat-prod',
};
const alias = linkedAlias(old.keyAlias, ROTATION_ID);
const same = checkScope(old, { ...old, keyAlias: alias }, { expectedAlias: alias });
const narrower = checkScope(old, { ...old, keyAlias: alias, rpmLimit: 300 }, { expectedAlias: alias });
const dropped = checkScope(old, { ...old, keyAlias: alias, budgetDuration: null }, { expectedAlias: alias });

/** Facts of a clean hold: every row would be green on its own. */
const facts = (keyScope?: RevokeGateFacts['keyScope']): RevokeGateFacts => ({
  nowMs: 10 * 3600_000,
  input: evidenceInput(),
  manualGateway: false,
  canary: [],
  analysis: {
    stage: 'hold',
    windows: 12,
    passed: 12,
    failed: 0,
    inconclusive: 0,
    errors: 0,
    consecutiveErrors: 0,
  } as never,
  checks: [],
  coverage: [],
  exceptions: [],
  unobservable: [],
  baseline: { requests: 600, windowMs: 3600_000 },
  holdStartMs: 0,
  holdTotals: { newKeyAppRequests: 600, oldKeyRequests: 0 },
  ...(keyScope ? { keyScope } : {}),
});
const quota = (f: RevokeGateFacts) => revokeGateEvidence(f).rows.find((r) => r.signal === 'quotaAndBudget')!;

describe('the "Quota and budget" gate row and the key scope', () => {
  it('is green only when every scope field read back unchanged', () => {
    expect(quota(facts(same))).toMatchObject({ state: 'green' });
    expect(quota(facts(same)).evidence).toContain(
      'key scope: every field of the old key read back unchanged on the new key',
    );
  });

  it('is not green when the scopes differ, even narrower', () => {
    const row = quota(facts(narrower));
    expect(row.state).toBe('unknown');
    expect(row.evidence).toEqual(
      expect.arrayContaining([
        'key scope narrower: rpm_limit: 300 instead of 600',
        "the replacement key's scope differs from the old key's",
      ]),
    );
    // What keeps the row from green is a blocker of the gate.
    expect(revokeGateEvidence(facts(narrower)).blockers.join('\n')).toMatch(/scope differs from the old key/);
  });

  it('is red on a failing diff', () => {
    const row = quota(facts(dropped));
    expect(row.state).toBe('red');
    expect(row.evidence).toContain('key scope changed: budget_duration: none instead of 30d');
    expect(revokeGateEvidence(facts(dropped)).evidence).toBe('insufficient');
  });
});

describe('the "Key scope" evidence table', () => {
  const build = (keyScope?: typeof same) =>
    buildEvidenceBundle(
      { ...evidenceStatus(), ...(keyScope ? { keyScope } : {}) },
      { input: evidenceInput(), credential: evidenceCredential() },
      evidenceHistory(),
      { generatedAt: '2026-06-19T11:20:14.000Z' },
    );

  it('lists each field of either key with the comparison, non-string metadata included', () => {
    const b = build(narrower);
    expect(b.gateway.keyScope).toEqual({
      verdict: 'narrower',
      rows: [
        { field: 'models', old: 'gpt-4o-mini', issued: 'gpt-4o-mini', result: 'same' },
        { field: 'max_budget', old: '100', issued: '100', result: 'same' },
        { field: 'budget_duration', old: '30d', issued: '30d', result: 'same' },
        { field: 'rpm_limit', old: '600', issued: '300', result: 'narrower: rpm_limit: 300 instead of 600' },
        { field: 'team_id', old: 'platform-ai', issued: 'platform-ai', result: 'same' },
        { field: 'metadata', old: '{"cost_center":4711}', issued: '{"cost_center":4711}', result: 'same' },
        { field: 'tags', old: 'prod', issued: 'prod', result: 'same' },
        { field: 'key_alias', old: 'chat-prod', issued: alias, result: 'same' },
      ],
    });
    const md = renderEvidenceMarkdown(b, { sha256: 'a'.repeat(64), previousSha256: null });
    expect(md).toContain('### Key scope (narrower)');
    expect(md).toContain('| rpm_limit | 600 | 300 | narrower: rpm_limit: 300 instead of 600 |');
  });

  it('says FAILED for a refused diff, and has no table when no scope was compared', () => {
    const md = renderEvidenceMarkdown(build(dropped), { sha256: 'a'.repeat(64), previousSha256: null });
    expect(md).toContain('### Key scope (**FAILED**)');
    expect(md).toContain('| budget_duration | 30d | — | changed: budget_duration: none instead of 30d |');
    expect(build().gateway.keyScope).toBeUndefined();
  });
});
