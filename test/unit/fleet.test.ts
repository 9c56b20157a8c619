// domain/fleet.ts: what a selector picks, how many members may start, the counts, and when one approval
// may stand for a fleet.
import type { CredentialAutomation } from '../../domain/automation';
import {
  fleetApprovalReadiness,
  fleetCounts,
  formatSelector,
  parseSelector,
  selectCredentials,
  startableCount,
  unknownNames,
  type FleetMember,
} from '../../domain/fleet';

const entry = (name: string, extra: Partial<CredentialAutomation> = {}): CredentialAutomation => ({
  name,
  environment: 'production',
  tags: [],
  readers: [],
  apps: ['app'],
  gatewayBaseUrl: 'https://gw.example.com',
  pairedWith: [],
  policyDefaults: {},
  ...extra,
});

const member = (i: number, state: FleetMember['state'], phase?: string): FleetMember => ({
  credential: `c${i}`,
  environment: 'production',
  rotationId: `production:c${i}:fleet-x`,
  workflowId: `rekey:production:c${i}`,
  state,
  ...(phase ? { phase } : {}),
});

describe('parseSelector', () => {
  it('reads field=value terms, comma-joined or one per argument, names joined by +', () => {
    expect(parseSelector('owner=platform-ai')).toEqual({ owner: 'platform-ai' });
    expect(parseSelector(['environment=prod,tag=llm', 'names=a+b'])).toEqual({
      environment: 'prod',
      tag: 'llm',
      names: ['a', 'b'],
    });
    expect(parseSelector('reader=dana@example.com')).toEqual({ reader: 'dana@example.com' });
    expect(formatSelector(parseSelector('tag=llm,names=a+b'))).toBe('tag=llm,names=a+b');
  });

  it.each([
    ['', 'at least one'],
    ['team=x', 'not one of'],
    ['owner=', 'has no value'],
    ['owner', 'has no value'],
    ['owner=a,owner=b', 'given twice'],
  ])('refuses %p', (text, why) => {
    expect(() => parseSelector(text)).toThrow(why);
  });
});

describe('selectCredentials', () => {
  const entries = [
    entry('b', { owner: 'platform-ai', tags: ['llm'], readers: ['dana'] }),
    entry('a', { owner: 'platform-ai' }),
    entry('c', { owner: 'search', tags: ['llm'], readers: ['dana'] }),
    entry('a', { environment: 'staging', owner: 'platform-ai' }),
  ];
  it('picks every entry matching all the fields, in a stable order', () => {
    const names = (s: Parameters<typeof selectCredentials>[1]) =>
      selectCredentials(entries, s).map((c) => `${c.environment}/${c.name}`);
    expect(names({ owner: 'platform-ai' })).toEqual(['production/a', 'production/b', 'staging/a']);
    expect(names({ owner: 'platform-ai', environment: 'production' })).toEqual([
      'production/a',
      'production/b',
    ]);
    expect(names({ tag: 'llm' })).toEqual(['production/b', 'production/c']);
    expect(names({ reader: 'dana' })).toEqual(['production/b', 'production/c']);
    expect(names({ names: ['c', 'a'], environment: 'production' })).toEqual(['production/a', 'production/c']);
  });
  it('names the listed credentials that are not registered', () => {
    expect(unknownNames(entries, { names: ['a', 'zz'], environment: 'staging' })).toEqual(['zz']);
    expect(unknownNames(entries, { owner: 'x' })).toEqual([]);
  });
});

describe('startableCount', () => {
  it('counts working members against the limit, not those waiting for a person', () => {
    const members = [
      member(1, 'running', 'HOLDING'),
      member(2, 'running', 'AWAITING_REVOKE_APPROVAL'),
      member(3, 'running', 'AWAITING_FLIP_APPROVAL'),
      member(4, 'completed'),
      member(5, 'pending'),
      member(6, 'pending'),
      member(7, 'pending'),
    ];
    expect(startableCount(members, 3)).toBe(2);
    expect(startableCount(members, 1)).toBe(0);
    expect(startableCount(members, 10)).toBe(3);
  });
});

describe('fleetCounts', () => {
  it('counts per state, and per phase with pending and finished members named', () => {
    const c = fleetCounts([
      member(1, 'running', 'HOLDING'),
      member(2, 'running'),
      member(3, 'pending'),
      member(4, 'failed', 'ROLLED_BACK'),
      member(5, 'skipped'),
      member(6, 'completed', 'COMPLETED'),
    ]);
    expect(c.total).toBe(6);
    expect(c.byState).toEqual({ pending: 1, running: 2, completed: 1, failed: 1, skipped: 1 });
    expect(c.byPhase).toEqual({
      HOLDING: 1,
      PREPARING: 1,
      PENDING: 1,
      ROLLED_BACK: 1,
      SKIPPED: 1,
      COMPLETED: 1,
    });
  });
});

describe('fleetApprovalReadiness', () => {
  it('is ready only when every unfinished member waits at the gate', () => {
    const waiting = [member(1, 'running', 'AWAITING_REVOKE_APPROVAL'), member(2, 'failed', 'ROLLED_BACK')];
    expect(fleetApprovalReadiness(waiting, 'revoke')).toEqual({
      ready: true,
      rotationIds: ['production:c1:fleet-x'],
    });
    const notYet = [...waiting, member(3, 'running', 'HOLDING'), member(4, 'pending')];
    const r = fleetApprovalReadiness(notYet, 'revoke');
    expect(r).toEqual({
      ready: false,
      why: '2 of 3 unfinished members are not at AWAITING_REVOKE_APPROVAL (1 HOLDING, 1 PENDING)',
    });
    expect(fleetApprovalReadiness(waiting, 'flip').ready).toBe(false);
    expect(fleetApprovalReadiness([member(1, 'completed')], 'revoke')).toEqual({
      ready: false,
      why: 'no member can reach the gate: all finished or rolling back',
    });
    // A member rolling back does not hold the others back.
    expect(fleetApprovalReadiness([...waiting, member(5, 'running', 'ROLLING_BACK')], 'revoke')).toEqual({
      ready: true,
      rotationIds: ['production:c1:fleet-x'],
    });
  });
});
