import type { WindowMetrics } from '../../activities/types';
import { thresholdsSchema } from '../../common/policy';
import {
  approvalRefusal,
  drainSatisfied,
  evaluateThresholds,
  nextZeroSince,
  undrainedConsumers,
} from '../../workflows/rules';

const thresholds = thresholdsSchema.parse({});
const window = (over: Partial<WindowMetrics> = {}): WindowMetrics => ({
  fromMs: 0,
  toMs: 300_000,
  requests: 1000,
  authErrors: 0,
  rateLimited: 0,
  serverErrors: 5,
  p95LatencyMs: 800,
  tokens: 100_000,
  spend: 10,
  ...over,
});
const baseline = window();

describe('thresholds against the baseline', () => {
  it('finds nothing wrong with traffic like the baseline', () => {
    expect(evaluateThresholds(baseline, window(), thresholds)).toEqual([]);
  });

  it('flags a new-key 5xx share over the limit with the figures', () => {
    expect(evaluateThresholds(baseline, window({ serverErrors: 50 }), thresholds)).toEqual([
      { check: 'server-errors', observed: 0.05, limit: 0.02, detail: '50 of 1000 new-key requests got 5xx' },
    ]);
  });

  it('flags a 5xx rise over the baseline even under the absolute limit', () => {
    const breaches = evaluateThresholds(
      window({ serverErrors: 0 }),
      window({ serverErrors: 15 }),
      thresholds,
    );
    expect(breaches.map((b) => b.check)).toEqual(['server-error-increase']);
  });

  it('flags auth errors on any volume, but rates only from min_requests on', () => {
    expect(
      evaluateThresholds(baseline, window({ requests: 5, authErrors: 1, serverErrors: 5 }), thresholds).map(
        (b) => b.check,
      ),
    ).toEqual(['auth-errors']);
  });

  it('flags 429s, latency, tokens and spend beyond their ratios', () => {
    const breaches = evaluateThresholds(
      baseline,
      window({ rateLimited: 100, p95LatencyMs: 2000, tokens: 200_000, spend: 20 }),
      thresholds,
    );
    expect(breaches.map((b) => b.check).sort()).toEqual(['latency', 'rate-limited', 'spend', 'tokens']);
  });

  it('ignores a p95 rise of a few milliseconds however large the ratio, but not a real one', () => {
    const fast = window({ p95LatencyMs: 1 });
    expect(evaluateThresholds(fast, window({ p95LatencyMs: 3 }), thresholds)).toEqual([]);
    expect(evaluateThresholds(fast, window({ p95LatencyMs: 150 }), thresholds).map((b) => b.check)).toEqual([
      'latency',
    ]);
    // A policy from before the floor existed keeps the pure ratio.
    const { min_latency_increase_ms: _floor, ...older } = thresholds;
    expect(
      evaluateThresholds(fast, window({ p95LatencyMs: 3 }), older as typeof thresholds).map((b) => b.check),
    ).toEqual(['latency']);
  });

  it('does not divide by an empty baseline', () => {
    const empty = window({ requests: 0, tokens: 0, spend: 0, p95LatencyMs: 0, serverErrors: 0 });
    expect(evaluateThresholds(empty, window(), thresholds)).toEqual([]);
  });
});

describe('the drain', () => {
  it('counts zero traffic from the start of the first empty window and resets on any request', () => {
    let since = nextZeroSince(undefined, { total: 0, fromMs: 1000 });
    expect(since).toBe(1000);
    since = nextZeroSince(since, { total: 0, fromMs: 2000 });
    expect(since).toBe(1000);
    expect(nextZeroSince(since, { total: 3, fromMs: 3000 })).toBeUndefined();
  });

  it('is satisfied only after a whole drain window at zero', () => {
    expect(drainSatisfied(undefined, 10_000, 5_000)).toBe(false);
    expect(drainSatisfied(6_000, 10_000, 5_000)).toBe(false);
    expect(drainSatisfied(5_000, 10_000, 5_000)).toBe(true);
    expect(drainSatisfied(undefined, 10_000, 0)).toBe(true);
  });

  it('lists only consumers with old-key traffic as exceptions', () => {
    expect(
      undrainedConsumers([
        { consumer: 'a', requests: 0 },
        { consumer: 'b', requests: 2 },
      ]),
    ).toEqual([{ consumer: 'b', requests: 2 }]);
  });
});

describe('approval gates', () => {
  it('lets an approver who is not the requester approve', () => {
    expect(
      approvalRefusal({ principal: 'bob', roles: ['approver'] }, ['approver'], 'alice', 'scheduled'),
    ).toBeUndefined();
  });

  it('refuses a principal without a required role', () => {
    expect(
      approvalRefusal({ principal: 'dave', roles: ['viewer'] }, ['approver'], 'alice', 'scheduled'),
    ).toEqual({ kind: 'NotAllowed', message: expect.stringMatching(/lacks a required role/) });
  });

  it('refuses the requester (four-eyes) in scheduled mode even with a reason', () => {
    expect(
      approvalRefusal(
        { principal: 'alice', roles: ['approver'], breakGlassReason: 'hurry' },
        ['approver'],
        'alice',
        'scheduled',
      ),
    ).toEqual({ kind: 'NotAllowed', message: expect.stringMatching(/four-eyes/) });
  });

  it('allows a break-glass approval by the requester in emergency mode only with a reason', () => {
    expect(
      approvalRefusal({ principal: 'alice', roles: ['approver'] }, ['approver'], 'alice', 'emergency'),
    ).toEqual({ kind: 'Invalid', message: expect.stringMatching(/must carry a reason/) });
    expect(
      approvalRefusal(
        { principal: 'alice', roles: ['approver'], breakGlassReason: '  ' },
        ['approver'],
        'alice',
        'emergency',
      ),
    ).toEqual({ kind: 'Invalid', message: expect.stringMatching(/must carry a reason/) });
    expect(
      approvalRefusal(
        { principal: 'alice', roles: ['approver'], breakGlassReason: 'key leaked' },
        ['approver'],
        'alice',
        'emergency',
      ),
    ).toBeUndefined();
  });
});
