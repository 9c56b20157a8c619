import type { HoldObservation, SignalCapabilities, WindowMetrics } from '../../domain/activity-io';
import { analysisSchema, thresholdsSchema } from '../../domain/policy';
import {
  analysisOutcome,
  drainSatisfied,
  inventoryCoverage,
  judgeWindow,
  newTally,
  nextZeroSince,
  recordCoverage,
  requiredSignals,
  tally,
} from '../../workflows/analysis';

const thresholds = thresholdsSchema.parse({});
const limits = (() => {
  const a = analysisSchema.parse({});
  return {
    failureLimit: a.failure_limit,
    inconclusiveLimit: a.inconclusive_limit,
    consecutiveErrorLimit: a.consecutive_error_limit,
  };
})();
const all: SignalCapabilities = {
  requests: true,
  authErrors: true,
  rateLimited: true,
  serverErrors: true,
  latency: true,
  tokens: true,
  spend: true,
  perConsumer: true,
};
const metrics = (over: Partial<WindowMetrics> = {}): WindowMetrics => ({
  fromMs: 0,
  toMs: 300_000,
  requests: 100,
  authErrors: 0,
  rateLimited: 0,
  serverErrors: 0,
  p95LatencyMs: 800,
  tokens: 10_000,
  spend: 1,
  ...over,
});
const observation = (over: Partial<HoldObservation> = {}): HoldObservation => ({
  fromMs: 0,
  toMs: 300_000,
  source: { name: 'prometheus', capabilities: all },
  newKey: metrics(),
  newKeyByConsumer: [{ consumer: 'customer-chat-api', requests: 100 }],
  oldKeyByConsumer: [],
  errors: [],
  ...over,
});
const required = requiredSignals({
  auth_error_check: 'required',
  usage_owner_check: 'required',
  cost_anomaly_check: 'required',
  old_key_negative_test: 'required',
});
const judge = (o: HoldObservation, extra: Partial<Parameters<typeof judgeWindow>[0]> = {}) =>
  judgeWindow({
    observation: o,
    baseline: metrics(),
    thresholds,
    required,
    probeRequestsInWindow: 0,
    ...extra,
  });

describe('judging a window', () => {
  it('passes a window with enough healthy, fully observed traffic', () => {
    expect(judge(observation())).toMatchObject({ verdict: 'pass', reasons: [] });
  });

  it('fails a small window where every request failed, and calls a small healthy one inconclusive', () => {
    const failing = judge(observation({ newKey: metrics({ requests: 9, serverErrors: 9 }) }));
    expect(failing.verdict).toBe('fail');
    expect(failing.reasons.join()).toMatch(/9 of 9/);
    const quiet = judge(observation({ newKey: metrics({ requests: 9 }) }));
    expect(quiet).toMatchObject({
      verdict: 'inconclusive',
      reasons: [expect.stringMatching(/only 9 app request/)],
    });
  });

  it('does not count rekey’s own probe requests as app traffic', () => {
    const j = judge(observation({ newKey: metrics({ requests: 22 }) }), { probeRequestsInWindow: 4 });
    expect(j.appRequests).toBe(18);
    expect(j.verdict).toBe('inconclusive');
  });

  it('calls a window inconclusive when a required signal cannot be observed or the source lags', () => {
    const blind = judge(
      observation({ source: { name: 'litellm-spend-logs', capabilities: { ...all, authErrors: false } } }),
    );
    expect(blind).toMatchObject({
      verdict: 'inconclusive',
      reasons: [expect.stringMatching(/cannot observe authErrors/)],
    });
    const lagging = judge(observation({ newKey: metrics({ complete: false }) }));
    expect(lagging.reasons).toEqual([expect.stringMatching(/has not caught up/)]);
  });

  it('reads unattributed 401s and failures as an upper bound: inconclusive when nonzero, a proof at zero', () => {
    const bounded = judge(observation({ newKey: metrics({ unattributed: { authErrors: 3 } }) }));
    expect(bounded).toMatchObject({
      verdict: 'inconclusive',
      breaches: [],
      reasons: [expect.stringMatching(/3 401\(s\) in the window carry no key hash/)],
    });
    const failures = judge(observation({ newKey: metrics({ unattributed: { serverErrors: 2 } }) }));
    expect(failures.reasons).toEqual([expect.stringMatching(/2 failed call\(s\) .* carry no key/)]);
    const zero = judge(
      observation({ newKey: metrics({ unattributed: { authErrors: 0, serverErrors: 0 } }) }),
    );
    expect(zero).toMatchObject({ verdict: 'pass', reasons: [] });
    // The key's own errors still fail the window whatever else is unattributed.
    const own = judge(observation({ newKey: metrics({ authErrors: 2, unattributed: { authErrors: 5 } }) }));
    expect(own.verdict).toBe('fail');
    // A policy that does not require the auth-error check is not held up by unattributed 401s.
    const optional = requiredSignals({
      auth_error_check: 'optional',
      usage_owner_check: 'required',
      cost_anomaly_check: 'required',
      old_key_negative_test: 'required',
    });
    const relaxed = judge(observation({ newKey: metrics({ unattributed: { authErrors: 3 } }) }), {
      required: optional,
    });
    expect(relaxed.verdict).toBe('pass');
  });

  it('counts a source that did not answer as an error, and a failed probe as a failure either way', () => {
    expect(judge(observation({ newKey: undefined, errors: ['new-key window: 503'] })).verdict).toBe('error');
    const probe = {
      passed: false,
      requests: [
        { route: 'chat-completions' as const, status: 401, latencyMs: 3, ok: false, reason: 'auth' as const },
      ],
    };
    expect(judge(observation({ newKey: undefined, errors: ['down'] }), { probe }).verdict).toBe('fail');
    expect(judge(observation(), { probe }).reasons[0]).toMatch(
      /active probe of the new key failed: chat-completions 401 \(auth\)/,
    );
  });
});

describe('the analysis tally', () => {
  it('fails past the failure limit and stops at a human past the inconclusive or error limits', () => {
    let t = newTally('hold', limits);
    t = tally(t, 'fail');
    expect(analysisOutcome(t).state).toBe('failed');
    t = newTally('hold', limits);
    for (let i = 0; i < limits.inconclusiveLimit; i++) t = tally(t, 'inconclusive');
    expect(analysisOutcome(t).state).toBe('running');
    t = tally(t, 'inconclusive');
    expect(analysisOutcome(t)).toMatchObject({
      state: 'inconclusive',
      why: expect.stringMatching(/inconclusive_limit/),
    });
    t = newTally('hold', limits);
    for (let i = 0; i <= limits.consecutiveErrorLimit; i++) t = tally(t, 'error');
    expect(analysisOutcome(t).why).toMatch(/in a row/);
    expect(tally(t, 'pass').consecutiveErrors).toBe(0);
  });
});

describe('the drain and consumer coverage', () => {
  it('starts the drain clock at the first empty window and restarts it on traffic or an unread window', () => {
    let since = nextZeroSince(undefined, [], 1000);
    expect(since).toBe(1000);
    since = nextZeroSince(since, [{ consumer: 'a', requests: 0 }], 2000);
    expect(since).toBe(1000);
    expect(nextZeroSince(since, [{ consumer: 'a', requests: 3 }], 3000)).toBeUndefined();
    expect(nextZeroSince(since, undefined, 3000)).toBeUndefined();
  });

  it('needs a whole drain window at zero, and with a window of 0 still the latest window at zero', () => {
    expect(drainSatisfied(undefined, 10_000, 5_000)).toBe(false);
    expect(drainSatisfied(6_000, 10_000, 5_000)).toBe(false);
    expect(drainSatisfied(5_000, 10_000, 5_000)).toBe(true);
    expect(drainSatisfied(undefined, 10_000, 0)).toBe(false);
    expect(drainSatisfied(9_000, 10_000, 0)).toBe(true);
  });

  it('lists every inventory consumer once and adds consumers first seen in telemetry', () => {
    let coverage = inventoryCoverage(
      ['customer-chat-api', 'enrichment-worker'],
      [{ app: 'customer-chat-api', owner: 'chat', reload: 'dynamic', canary: true }],
      [{ consumer: 'customer-chat-api', requests: 50 }],
    );
    expect(coverage).toEqual([
      expect.objectContaining({
        consumer: 'customer-chat-api',
        inventory: true,
        canary: true,
        baselineRequests: 50,
      }),
      expect.objectContaining({ consumer: 'enrichment-worker', inventory: true, baselineRequests: 0 }),
    ]);
    coverage = recordCoverage(coverage, {
      fromMs: Date.parse('2026-12-01T00:00:00.000Z'),
      toMs: Date.parse('2026-12-01T00:05:00.000Z'),
      newKeyByConsumer: [{ consumer: 'customer-chat-api', requests: 5 }],
      oldKeyByConsumer: [{ consumer: 'notebook', requests: 2 }],
    });
    expect(coverage.find((c) => c.consumer === 'customer-chat-api')).toMatchObject({
      newKeyRequests: 5,
      firstNewKeyAt: '2026-12-01T00:00:00.000Z',
      lastNewKeyAt: '2026-12-01T00:05:00.000Z',
    });
    expect(coverage.find((c) => c.consumer === 'notebook')).toMatchObject({
      inventory: false,
      oldKeyRequests: 2,
    });
  });
});
