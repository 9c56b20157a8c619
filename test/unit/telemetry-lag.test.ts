import type { WindowMetrics } from '../../domain/activity-io';
import { thresholdsSchema } from '../../domain/policy';
import { evaluateThresholds } from '../../workflows/rules';
import { judgeWindow } from '../../workflows/analysis';
import {
  bucketWidthMs,
  firstScrapeAtOrAfter,
} from '../../activities/telemetry/prometheus/prometheus-telemetry';
import {
  consumerOf,
  coversWindow,
  keyHash,
  spendLogQuery,
} from '../../activities/telemetry/gateway-usage/litellm-spend-logs';
import { perConsumer } from '../../activities/telemetry/summaries';
import { observing } from '../../activities/telemetry/capabilities';
import type { CredentialRef } from '../../domain/activity-io';

// Telemetry that knows how late it is: spend-log queries as LiteLLM reads them, scrape-aligned
// Prometheus edges, and a latency gate that respects the histogram's resolution.
const thresholds = thresholdsSchema.parse({});
const window = (over: Partial<WindowMetrics> = {}): WindowMetrics => ({
  fromMs: 0,
  toMs: 60_000,
  requests: 1000,
  authErrors: 0,
  rateLimited: 0,
  serverErrors: 0,
  p95LatencyMs: 120,
  tokens: 100_000,
  spend: 10,
  ...over,
});

describe('LiteLLM spend-log queries', () => {
  it("asks for end_date = the day after the window's last instant, since LiteLLM reads it as 00:00 UTC", () => {
    const at = (iso: string) => Date.parse(iso);
    expect(spendLogQuery(at('2026-12-01T10:00:00Z'), at('2026-12-01T10:05:00Z'))).toBe(
      'start_date=2026-12-01&end_date=2026-12-02&summarize=false',
    );
    // Across midnight: both days, and the day after the second.
    expect(spendLogQuery(at('2026-12-01T23:59:00Z'), at('2026-12-02T00:01:00Z'), 'ab')).toBe(
      'start_date=2026-12-01&end_date=2026-12-03&summarize=false&api_key=ab',
    );
    // A window ending exactly at midnight has nothing of the next day.
    expect(spendLogQuery(at('2026-12-01T23:00:00Z'), at('2026-12-02T00:00:00Z'))).toContain(
      'end_date=2026-12-02&',
    );
  });

  it('filters by the full SHA-256 only when the gateway key id is the hash the fingerprint prefixes', () => {
    const hash = `0123456789ab${'c'.repeat(52)}`;
    expect(keyHash({ fingerprint: 'sha256:0123456789ab', gatewayKeyId: hash })).toBe(hash);
    expect(keyHash({ fingerprint: 'sha256:ffffffffffff', gatewayKeyId: hash })).toBeUndefined();
    expect(keyHash({ fingerprint: 'sha256:0123456789ab', gatewayKeyId: 'key-id-7' })).toBeUndefined();
    expect(keyHash({ fingerprint: 'sha256:0123456789ab' })).toBeUndefined();
  });

  it('reads "None", "" and null end users as unattributed, never as a consumer', () => {
    expect(consumerOf({ end_user: 'billing-api' })).toBe('billing-api');
    for (const none of ['None', '', ' ', null, undefined]) expect(consumerOf({ end_user: none })).toBe('');
    const credential = { consumers: [{ app: 'billing-api' }] } as CredentialRef;
    expect(
      perConsumer(
        credential,
        [
          { group: 'None', count: 2 },
          { group: '', count: 1 },
          { group: 'billing-api', count: 3 },
        ],
        'rekey-canary',
      ),
    ).toEqual([
      { consumer: 'billing-api', requests: 3 },
      { consumer: 'unattributed', requests: 3 },
    ]);
  });

  it('trusts a truncated answer only when its oldest row predates the window', () => {
    const row = (iso: string) => ({ api_key: 'k', startTime: iso });
    const from = Date.parse('2026-12-01T10:00:00Z');
    expect(coversWindow([row('2026-12-01T09:59:59Z'), row('2026-12-01T10:00:01Z')], from)).toBe(true);
    expect(coversWindow([row('2026-12-01T10:00:00Z'), row('2026-12-01T10:00:01Z')], from)).toBe(false);
  });
});

describe('Prometheus scrapes and histogram resolution', () => {
  it('finds the first scrape at or after an edge, or none yet', () => {
    const series = [
      {
        metric: {},
        values: [
          [1, '100'],
          [2, '100'],
          [3, '101.5'],
          [4, '103'],
        ] as [number, string][],
      },
    ];
    expect(firstScrapeAtOrAfter(series, 100_000)).toBe(100_000);
    expect(firstScrapeAtOrAfter(series, 100_001)).toBe(101_500);
    expect(firstScrapeAtOrAfter(series, 103_001)).toBeUndefined();
    expect(firstScrapeAtOrAfter([], 0)).toBeUndefined();
  });

  it("gives the width of the bucket holding the p95 (LiteLLM's 0.05/0.1/0.25 s buckets)", () => {
    const les = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, Infinity];
    expect(bucketWidthMs(les, 0)).toBe(5);
    expect(bucketWidthMs(les, 70)).toBe(50);
    expect(bucketWidthMs(les, 100)).toBe(50);
    expect(bucketWidthMs(les, 180)).toBe(150);
    // Past the last finite bound the p95 is only known to exceed it.
    expect(bucketWidthMs(les, 900)).toBe(900);
    expect(bucketWidthMs([], 100)).toBeUndefined();
  });
});

describe('the latency gate and histogram resolution', () => {
  const strict = { ...thresholds, min_latency_increase_ms: 0 };
  it('does not call a p95 more than doubled inside one bucket width a regression', () => {
    // 60 → 140 ms (2.3×): the estimates lie in the 0.05–0.1 and 0.1–0.25 s buckets, up to 150 ms wide.
    const base = window({ p95LatencyMs: 60, latencyResolutionMs: 50 });
    const held = window({ p95LatencyMs: 140, latencyResolutionMs: 150 });
    expect(evaluateThresholds(base, held, strict)).toEqual([]);
  });

  it('still fails a rise wider than the bucket', () => {
    const base = window({ p95LatencyMs: 60, latencyResolutionMs: 50 });
    const held = window({ p95LatencyMs: 400, latencyResolutionMs: 250 });
    expect(evaluateThresholds(base, held, strict).map((b) => b.check)).toEqual(['latency']);
  });

  it('keeps the old rule for windows without a resolution (histories recorded before it)', () => {
    const base = window({ p95LatencyMs: 60 });
    const held = window({ p95LatencyMs: 140 });
    expect(evaluateThresholds(base, held, strict).map((b) => b.check)).toEqual(['latency']);
  });
});

describe('a window its source has not caught up with', () => {
  it('is inconclusive, never a pass, however healthy its figures', () => {
    const judged = judgeWindow({
      observation: {
        fromMs: 0,
        toMs: 60_000,
        source: {
          name: 'litellm-spend-logs',
          capabilities: observing(['requests', 'serverErrors', 'perConsumer']),
        },
        newKey: window({ complete: false }),
        newKeyByConsumer: [{ consumer: 'billing-api', requests: 1000 }],
        errors: [],
      },
      baseline: window(),
      thresholds,
      required: ['requests', 'serverErrors', 'perConsumer'],
      probeRequestsInWindow: 0,
    });
    expect(judged.verdict).toBe('inconclusive');
    expect(judged.reasons).toEqual(['litellm-spend-logs has not caught up with the window yet']);
  });
});
