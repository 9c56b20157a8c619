import { scopeBroadening } from '../../activities/gateway/scope';
import type { KeyScope } from '../../domain/activity-io';

const old: KeyScope = {
  models: ['gpt-4o-mini', 'text-embedding-3-small'],
  maxBudget: 100,
  rpmLimit: 600,
  tpmLimit: null,
  team: 'platform-ai',
};

describe('the scope rule', () => {
  it('accepts the same scope, and a narrower one', () => {
    expect(scopeBroadening(old, { ...old })).toEqual([]);
    expect(scopeBroadening(old, { ...old, models: ['gpt-4o-mini'], maxBudget: 50, tpmLimit: 1000 })).toEqual(
      [],
    );
  });

  it('names every broadening: more models, all models, higher or removed limits, another team', () => {
    expect(scopeBroadening(old, { ...old, models: [...old.models, 'gpt-4o'] })).toEqual([
      'models: adds gpt-4o',
    ]);
    expect(scopeBroadening(old, { ...old, models: [] })).toEqual([
      'models: all models instead of gpt-4o-mini, text-embedding-3-small',
    ]);
    expect(scopeBroadening(old, { ...old, maxBudget: null, rpmLimit: 1200 })).toEqual([
      'max_budget: unlimited instead of 100',
      'rpm_limit: 1200 instead of 600',
    ]);
    expect(scopeBroadening(old, { ...old, team: 'data-science' })).toEqual([
      'team: data-science instead of platform-ai (usage would roll up elsewhere)',
    ]);
  });

  it('lets an unscoped old key be replaced by anything no broader', () => {
    expect(scopeBroadening({ models: [] }, { models: ['gpt-4o'] })).toEqual([]);
  });
});
