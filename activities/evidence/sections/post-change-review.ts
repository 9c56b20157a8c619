// Bundle section `postChangeReview`: the old key's baseline against the new key's hold, the breaches,
// the thresholds, what the telemetry could see, and the analysis verdicts.
import type { RotationStatus } from '../../../domain/status';
import { SIGNALS } from '../../../domain/activity-io';
import type { EvidenceBundle, MetricsWindow } from '../../../domain/evidence/bundle-schema';
import type { EvidenceInput } from './context';

type Section = EvidenceBundle['postChangeReview'];
type WindowFigures = Pick<
  MetricsWindow,
  'requests' | 'authErrors' | 'rateLimited' | 'serverErrors' | 'tokens' | 'spend' | 'p95LatencyMs'
>;

const round = (n: number) => Math.round(n * 1_000_000) / 1_000_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Baseline (old key, before) against the hold (new key, after). */
export function postChangeReviewOf(status: RotationStatus, input: EvidenceInput | undefined): Section {
  const b = status.baseline;
  const hold = status.hold;
  const windows = holdWindows(status);
  return {
    before: b
      ? metricsWindow(b.fromMs, b.toMs, {
          requests: b.requests,
          authErrors: b.authErrors,
          rateLimited: b.rateLimited,
          serverErrors: b.serverErrors,
          tokens: b.tokens,
          spend: b.spend,
          p95LatencyMs: b.p95LatencyMs,
        })
      : null,
    after: holdWindowOf(status, windows),
    figuresComplete: !hold || windows.length >= hold.totals.checks,
    holdChecks: hold?.totals.checks ?? 0,
    breaches: status.checks.flatMap((c) =>
      (c.breaches ?? []).map((x) => ({
        at: c.at,
        check: x.check,
        observed: x.observed,
        limit: x.limit,
        detail: x.detail,
      })),
    ),
    thresholds: input ? { ...input.thresholds } : null,
    telemetry: telemetryOf(status),
    analysis: analysisOf(status),
    supportTickets: null,
  };
}

/** The figures of each new-key traffic check that recorded them. */
function holdWindows(status: RotationStatus) {
  return status.checks
    .filter((c) => c.name === 'new-key traffic')
    .map((c) => c.figures)
    .filter((f) => f !== undefined);
}

/** The hold as one window: the hold's totals, summed or maxed figures of its checks. */
function holdWindowOf(status: RotationStatus, windows: ReturnType<typeof holdWindows>): MetricsWindow | null {
  const hold = status.hold;
  if (!(hold && hold.totals.checks > 0)) return null;
  const sum = (pick: (f: (typeof windows)[number]) => number) =>
    windows.length ? windows.reduce((n, f) => n + pick(f), 0) : null;
  return metricsWindow(
    Date.parse(hold.startedAt),
    windows.length ? Math.max(...windows.map((f) => f.toMs)) : Date.parse(hold.startedAt),
    {
      requests: hold.totals.newKeyRequests,
      authErrors: hold.totals.authErrors,
      rateLimited: hold.totals.rateLimited,
      serverErrors: hold.totals.serverErrors,
      tokens: sum((f) => f.tokens),
      spend: sum((f) => f.spend),
      p95LatencyMs: windows.length ? Math.max(...windows.map((f) => f.p95LatencyMs)) : null,
    },
  );
}

/** Figures of one window with the rates a reviewer compares. */
function metricsWindow(fromMs: number, toMs: number, f: WindowFigures): MetricsWindow {
  const minutes = Math.max(0, (toMs - fromMs) / 60_000);
  const share = (n: number) => (f.requests > 0 ? round(n / f.requests) : 0);
  const perRequest = (n: number | null) => (n === null || f.requests === 0 ? null : round(n / f.requests));
  return {
    from: iso(fromMs),
    to: iso(Math.max(fromMs, toMs)),
    minutes: round(minutes),
    requests: f.requests,
    authErrors: f.authErrors,
    rateLimited: f.rateLimited,
    serverErrors: f.serverErrors,
    tokens: f.tokens,
    spend: f.spend === null ? null : round(f.spend),
    p95LatencyMs: f.p95LatencyMs,
    authErrorRate: share(f.authErrors),
    rateLimitedRate: share(f.rateLimited),
    serverErrorRate: share(f.serverErrors),
    requestsPerHour: minutes > 0 ? round(f.requests / (minutes / 60)) : 0,
    tokensPerRequest: perRequest(f.tokens),
    spendPerRequest: perRequest(f.spend),
  };
}

/** The telemetry source and which per-key signals it could and could not see for this credential. */
function telemetryOf(status: RotationStatus): Section['telemetry'] {
  const t = status.telemetry;
  if (!t) return null;
  return {
    source: t.name,
    observable: SIGNALS.filter((s) => t.capabilities[s] && !t.unobservable.includes(s)),
    unobservable: [...t.unobservable],
  };
}

/** Verdict counts of the last analysis run. */
function analysisOf(status: RotationStatus): Section['analysis'] {
  const a = status.analysis;
  if (!a) return null;
  return {
    stage: a.stage,
    measurements: a.measurements,
    pass: a.passed,
    fail: a.failed,
    inconclusive: a.inconclusive,
    // The tally keeps only errors in a row; every measurement has one verdict, so the rest are errors.
    error: Math.max(0, a.measurements - a.passed - a.failed - a.inconclusive),
    limits: { ...a.limits },
  };
}
