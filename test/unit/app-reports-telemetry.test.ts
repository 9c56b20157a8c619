import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAppReportStore, createAppReportsTelemetry } from '../../activities/telemetry/app-reports';
import type { AppReportStore, StoredReport } from '../../domain/usage-reports';
import type { CredentialRef } from '../../domain/activity-io';
import { judgeWindow } from '../../workflows/analysis';

// The app-reports adapter on a real report directory: complete windows only when every consumer and
// every recently reporting instance covered them; counts by report midpoint; probes never subtracted.
const T0 = Date.parse('2026-12-01T23:50:00Z');
const MIN = 60_000;
const NEW = 'sha256:aaaaaaaaaaaa';
const OLD = 'sha256:bbbbbbbbbbbb';
const credential = {
  name: 'flatkey-router-key',
  environment: 'production',
  consumers: [
    { app: 'chat', environment: 'production', reload: 'dynamic', owner: 'platform-ai' },
    { app: 'worker', environment: 'production', reload: 'restart', owner: 'platform-ai' },
  ],
} as unknown as CredentialRef;
const rep = (
  consumer: string,
  instance: string,
  fp: string,
  fromMin: number,
  toMin: number,
  requests: number,
) =>
  ({
    consumer,
    instance,
    key_fingerprint: fp,
    from: new Date(T0 + fromMin * MIN).toISOString(),
    to: new Date(T0 + toMin * MIN).toISOString(),
    requests,
    errors: { auth: 0, server: requests > 5 ? 1 : 0, rate_limited: 0 },
    latency_p95_ms: 100 + requests,
    principal: consumer,
    receivedAt: new Date(T0).toISOString(),
  }) satisfies StoredReport;

describe('app-reports telemetry', () => {
  let dir: string;
  let store: AppReportStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'app-reports-'));
    store = createAppReportStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const telemetry = () => createAppReportsTelemetry({ store, waitMs: 0, now: () => T0 + 30 * MIN });

  it('sums the key’s reports over a covered window (across midnight) and names the consumers', async () => {
    // chat on the new key, in 5-minute reports; worker still on the old key; the window crosses midnight.
    for (const m of [0, 5, 10, 15]) await store.append(credential, rep('chat', 'pod-1', NEW, m, m + 5, 10));
    await store.append(credential, rep('worker', 'w-1', OLD, 0, 10, 4));
    await store.append(credential, rep('worker', 'w-1', OLD, 10, 20, 2));
    const t = telemetry();
    const w = await t.window(credential, { fingerprint: NEW }, T0, T0 + 20 * MIN);
    expect(w).toEqual({
      fromMs: T0,
      toMs: T0 + 20 * MIN,
      requests: 40,
      authErrors: 0,
      rateLimited: 0,
      serverErrors: 4,
      p95LatencyMs: 110,
      tokens: 0,
      spend: 0,
    });
    expect(await t.usageByConsumer(credential, { fingerprint: OLD }, T0, T0 + 20 * MIN)).toEqual([
      { consumer: 'chat', requests: 0 },
      { consumer: 'worker', requests: 6 },
    ]);
    // A report counts in the window holding its midpoint: consecutive windows split it once.
    const a = await t.window(credential, { fingerprint: OLD }, T0, T0 + 6 * MIN);
    const b = await t.window(credential, { fingerprint: OLD }, T0 + 6 * MIN, T0 + 20 * MIN);
    expect([a.requests, b.requests]).toEqual([4, 2]);
    expect(t.source(credential)).toMatchObject({ name: 'app-reports', seesProbes: false });
    expect(t.source(credential).capabilities).toMatchObject({
      requests: true,
      authErrors: true,
      spend: false,
    });
    expect(await t.attribution(credential, { fingerprint: NEW }, 'platform-ai')).toMatchObject({
      verdict: 'pass',
      owner: 'platform-ai',
    });
  });

  it('is incomplete when a registered consumer is silent: never zero traffic', async () => {
    await store.append(credential, rep('chat', 'pod-1', NEW, 0, 10, 10));
    const t = telemetry();
    const w = await t.window(credential, { fingerprint: OLD }, T0, T0 + 10 * MIN);
    expect(w).toMatchObject({ requests: 0, complete: false });
    await expect(t.usageByConsumer(credential, { fingerprint: OLD }, T0, T0 + 10 * MIN)).rejects.toThrow(
      'no app reports covering the window from worker',
    );
  });

  it('is incomplete when an instance that reported before stops, or leaves a gap', async () => {
    await store.append(credential, rep('chat', 'pod-1', NEW, 0, 10, 10));
    await store.append(credential, rep('chat', 'pod-2', NEW, 0, 5, 10));
    await store.append(credential, rep('worker', 'w-1', OLD, 0, 4, 1));
    await store.append(credential, rep('worker', 'w-1', OLD, 6, 10, 1));
    const t = telemetry();
    await expect(t.usageByConsumer(credential, { fingerprint: NEW }, T0, T0 + 10 * MIN)).rejects.toThrow(
      'no app reports covering the window from chat/pod-2, worker/w-1',
    );
    // Over the part every instance covered: pod-2's report (midpoint 2.5 min) counts, pod-1's does not.
    expect(await t.usageByConsumer(credential, { fingerprint: NEW }, T0, T0 + 4 * MIN)).toEqual([
      { consumer: 'chat', requests: 10 },
      { consumer: 'worker', requests: 0 },
    ]);
  });

  it('waits a little for reports of a window that just ended, not for a silent consumer', async () => {
    await store.append(credential, rep('worker', 'w-1', OLD, 0, 5, 1));
    await store.append(credential, rep('chat', 'pod-1', NEW, 0, 4.95, 10));
    const t = createAppReportsTelemetry({ store, waitMs: 5000, pollMs: 20 });
    const late = setTimeout(() => void store.append(credential, rep('chat', 'pod-1', NEW, 4.95, 5, 3)), 200);
    try {
      const w = await t.window(credential, { fingerprint: NEW }, T0, T0 + 5 * MIN);
      expect(w).toMatchObject({ requests: 13 });
      expect(w.complete).toBeUndefined();
    } finally {
      clearTimeout(late);
    }
    // worker stops after 5 minutes: its gap is not at the tail, so there is nothing to wait for.
    const started = Date.now();
    await expect(t.usageByConsumer(credential, { fingerprint: NEW }, T0, T0 + 8 * MIN)).rejects.toThrow(
      /worker\/w-1, chat\/pod-1/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('lets the analysis count every reported request: the source does not see the probes', async () => {
    const newKey = {
      fromMs: 0,
      toMs: 1,
      requests: 12,
      authErrors: 0,
      rateLimited: 0,
      serverErrors: 0,
      p95LatencyMs: 100,
      tokens: 0,
      spend: 0,
    };
    const judge = (seesProbes: boolean | undefined) =>
      judgeWindow({
        observation: {
          fromMs: 0,
          toMs: 1,
          source: {
            name: 's',
            capabilities: telemetry().source(credential).capabilities,
            ...(seesProbes === undefined ? {} : { seesProbes }),
          },
          newKey,
          newKeyByConsumer: [{ consumer: 'chat', requests: 12 }],
          errors: [],
        },
        baseline: { ...newKey, requests: 100 },
        thresholds: { min_requests: 10 } as never,
        required: ['requests', 'serverErrors', 'perConsumer'],
        probeRequestsInWindow: 5,
      });
    expect(judge(false)).toMatchObject({ verdict: 'pass', appRequests: 12 });
    // Sources that see the probes (and old histories, which have no flag) still subtract them.
    expect(judge(undefined)).toMatchObject({ verdict: 'inconclusive', appRequests: 7 });
  });
});
