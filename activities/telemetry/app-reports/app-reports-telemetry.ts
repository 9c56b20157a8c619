// Telemetry from the apps' own reports (report-store.ts), for manual gateways with neither an admin API
// nor Prometheus. A window is complete only when every registered consumer, and every instance that has
// reported lately, has reports covering all of it: a silent app is unknown traffic, never zero traffic.
// The apps do not see rekey's probes, so the source says so (seesProbes: false) and nothing is subtracted.
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import type { CredentialRef, WindowMetrics } from '../../../domain/activity-io';
import { observing } from '../capabilities';
import { attributionFrom, perConsumer, type GroupCount } from '../summaries';
import type { AppReportStore, StoredReport } from '../../../domain/usage-reports';

export interface AppReportsTelemetryOptions {
  store: AppReportStore;
  /** An instance that reported this long before a window must cover it too (default 1 hour). */
  lookbackMs?: number;
  /** How long to wait for the apps' reports of a window that just ended (default 15 s). */
  waitMs?: number;
  pollMs?: number;
  /** Gaps between one instance's consecutive reports up to this long still count as covered (default 1 s). */
  gapToleranceMs?: number;
  now?: () => number;
}

/** Per-key signals the apps report; tokens and spend are not in a report. */
const REPORTED = ['requests', 'authErrors', 'rateLimited', 'serverErrors', 'latency', 'perConsumer'] as const;

/** One who has not covered a window: `consumer` (never reported) or `consumer/instance`, and how far it got. */
export interface Gap {
  who: string;
  /** Where the instance's unbroken reports from the window's start end; absent for a silent consumer. */
  reachedMs?: number;
}

/** Who has not covered [fromMs, toMs]; empty when every consumer and every instance has. */
export function coverageGaps(
  credential: CredentialRef,
  reports: StoredReport[],
  fromMs: number,
  toMs: number,
  gapToleranceMs = 1000,
): Gap[] {
  const instances = new Map<string, StoredReport[]>();
  for (const r of reports) {
    const id = `${r.consumer}/${r.instance}`;
    instances.set(id, [...(instances.get(id) ?? []), r]);
  }
  const silent = credential.consumers
    .map((c) => c.app)
    .filter((app) => ![...instances.keys()].some((id) => id.startsWith(`${app}/`)))
    .map((who) => ({ who }));
  const partial = [...instances]
    .map(([who, rs]) => ({ who, reachedMs: reached(rs, fromMs, gapToleranceMs) }))
    .filter((g) => g.reachedMs < toMs);
  return [...silent, ...partial];
}

/** How far one instance's reports (any key) reach without a gap from fromMs. */
function reached(reports: StoredReport[], fromMs: number, tolerance: number): number {
  const spans = reports
    .map((r) => [Date.parse(r.from), Date.parse(r.to)] as const)
    .sort((a, b) => a[0] - b[0]);
  let at = fromMs;
  for (const [from, to] of spans) {
    if (from > at + tolerance) break;
    at = Math.max(at, to);
  }
  return at;
}

/** A report counts in the window its midpoint falls in, so consecutive windows never count it twice. */
const countsIn = (r: StoredReport, fromMs: number, toMs: number) => {
  const mid = (Date.parse(r.from) + Date.parse(r.to)) / 2;
  return mid >= fromMs && mid < toMs;
};

export function createAppReportsTelemetry(opts: AppReportsTelemetryOptions): Telemetry {
  const now = opts.now ?? Date.now;
  const lookbackMs = opts.lookbackMs ?? 3600_000;
  const waitMs = opts.waitMs ?? 15_000;
  const pollMs = opts.pollMs ?? 500;

  /** The window's reports and who has not covered it, after waiting a little for late reports. */
  async function observe(credential: CredentialRef, fromMs: number, toMs: number) {
    const deadline = now() + waitMs;
    for (;;) {
      const reports = await opts.store.read(credential, fromMs - lookbackMs, toMs);
      const gaps = coverageGaps(credential, reports, fromMs, toMs, opts.gapToleranceMs);
      const inWindow = reports.filter((r) => countsIn(r, fromMs, toMs));
      // Only reports on their way are waited for: every gap at the tail of a window that just ended.
      const late = gaps.every((g) => g.reachedMs !== undefined && g.reachedMs >= toMs - waitMs);
      if (gaps.length === 0 || !late || now() >= deadline)
        return { inWindow, missing: gaps.map((g) => g.who) };
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  const ofKey = (reports: StoredReport[], key: TelemetryKey) =>
    reports.filter((r) => r.key_fingerprint === key.fingerprint);
  const sum = (reports: StoredReport[], pick: (r: StoredReport) => number) =>
    reports.reduce((n, r) => n + pick(r), 0);

  return {
    source: () => ({ name: 'app-reports', capabilities: observing(REPORTED), seesProbes: false }),

    async window(credential, key, fromMs, toMs): Promise<WindowMetrics> {
      const { inWindow, missing } = await observe(credential, fromMs, toMs);
      const mine = ofKey(inWindow, key);
      return {
        fromMs,
        toMs,
        requests: sum(mine, (r) => r.requests),
        authErrors: sum(mine, (r) => r.errors.auth),
        rateLimited: sum(mine, (r) => r.errors.rate_limited),
        serverErrors: sum(mine, (r) => r.errors.server),
        // The worst instance's p95: a conservative bound, since percentiles do not add up.
        p95LatencyMs: Math.max(0, ...mine.map((r) => r.latency_p95_ms ?? 0)),
        tokens: 0,
        spend: 0,
        ...(missing.length > 0 ? { complete: false } : {}),
      };
    },

    async usageByConsumer(credential, key, fromMs, toMs) {
      const { inWindow, missing } = await observe(credential, fromMs, toMs);
      // Zero requests from a consumer that did not report is not zero traffic: no answer at all.
      if (missing.length > 0)
        throw new Error(`no app reports covering the window from ${missing.join(', ')}`);
      const counts: GroupCount[] = ofKey(inWindow, key).map((r) => ({
        group: r.consumer,
        count: r.requests,
      }));
      return perConsumer(credential, counts, '');
    },

    async attribution(credential, key, expectedOwner) {
      // The reporter is the authenticated consumer; its team is the owner the registry gives it.
      const owners = new Map(credential.consumers.map((c) => [c.app, c.owner ?? '']));
      const until = now();
      const reports = ofKey(await opts.store.read(credential, until - 24 * 3600_000, until), key);
      const byTeam = new Map<string, number>();
      for (const r of reports) {
        const team = owners.get(r.consumer) ?? '';
        byTeam.set(team, (byTeam.get(team) ?? 0) + r.requests);
      }
      return attributionFrom(
        [...byTeam].map(([group, count]) => ({ group, count })),
        expectedOwner,
      );
    },
  };
}
