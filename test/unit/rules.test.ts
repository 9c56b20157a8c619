import type { WindowMetrics } from '../../domain/activity-io';
import { thresholdsSchema } from '../../domain/policy';
import {
  approvalRefusal,
  evaluateThresholds,
  finalFailureMessage,
  wilsonLowerBound,
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

  it('flags auth errors on any volume, and on a small window only shares that clearly exceed the limit', () => {
    expect(
      evaluateThresholds(baseline, window({ requests: 5, authErrors: 1, serverErrors: 4 }), thresholds).map(
        (b) => b.check,
      ),
    ).toEqual(['auth-errors', 'server-errors']);
    // 9 of 9 answered 5xx fails however small the window; 1 of 15 is noise below min_requests.
    expect(
      evaluateThresholds(baseline, window({ requests: 9, serverErrors: 9 }), thresholds)[0],
    ).toMatchObject({
      check: 'server-errors',
      detail: expect.stringMatching(/^9 of 9 new-key requests got 5xx/),
    });
    expect(evaluateThresholds(baseline, window({ requests: 15, serverErrors: 1 }), thresholds)).toEqual([]);
  });

  it('bounds a share from below with 95 % confidence', () => {
    expect(wilsonLowerBound(9, 9)).toBeGreaterThan(0.6);
    expect(wilsonLowerBound(1, 15)).toBeLessThan(0.02);
    expect(wilsonLowerBound(0, 0)).toBe(0);
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

describe('final failure reasons', () => {
  it('drops the promise of a retry from the last attempt’s message', () => {
    expect(finalFailureMessage('POST /key/generate answered 503; will retry')).toBe(
      'POST /key/generate answered 503',
    );
    expect(
      finalFailureMessage(
        'the vault did not answer within the request timeout; will retry (a write’s outcome is looked up first)',
      ),
    ).toBe('the vault did not answer within the request timeout');
    expect(finalFailureMessage('scope broadened: models')).toBe('scope broadened: models');
  });
});
