// Three-valued analysis of a canary soak or hold, modelled on Argo Rollouts' AnalysisRun: every window
// is judged pass, fail, inconclusive or error, and a tally with limits says whether the analysis runs on,
// failed (roll back) or must stop at a human gate. Only positive evidence passes: too little traffic, a
// source that lags or errors, a signal nobody can observe are inconclusive. Pure functions, unit-tested.
import type {
  CanaryReport,
  ConsumerUsage,
  HoldObservation,
  Signal,
  SignalCapabilities,
  WindowMetrics,
} from '../domain/activity-io';
import type { RotationInput, Thresholds } from '../domain/policy';
import type { AnalysisTally, ConsumerCoverage, Verdict } from './messages';
import { evaluateThresholds, unattributedDoubts, type Breach } from './rules';

/** A window's verdict and why it is not a pass. */
export interface Judgement {
  verdict: Verdict;
  reasons: string[];
  breaches: Breach[];
  /** New-key requests of the apps: the window's count less rekey's own probes. */
  appRequests: number;
  /** The window as judged (app requests only), when the source answered. */
  figures?: WindowMetrics;
}

/** Signals the policy needs every window to show; one the source cannot see makes a window inconclusive. */
export function requiredSignals(evidence: RotationInput['evidence']): Signal[] {
  const signals: Signal[] = ['requests', 'serverErrors', 'perConsumer'];
  if (evidence.auth_error_check === 'required') signals.push('authErrors');
  if (evidence.cost_anomaly_check === 'required') signals.push('spend');
  return signals;
}

/** The required signals a source cannot observe. */
export function unobservable(required: Signal[], capabilities: SignalCapabilities): Signal[] {
  return required.filter((s) => !capabilities[s]);
}

/** Summary of a probe's failures, or undefined when every route answered as it should. */
export function probeFailure(probe: CanaryReport | undefined): string | undefined {
  if (!probe) return undefined;
  const failed = probe.requests.filter((r) => !r.ok);
  if (probe.passed && failed.length === 0) return undefined;
  const what = failed.map((r) => `${r.route} ${r.status}${r.reason ? ` (${r.reason})` : ''}`).join(', ');
  return `active probe of the new key failed: ${what || 'no route answered'}`;
}

export interface WindowInput {
  observation: HoldObservation;
  /** The active probe made with this check; its failure is a failure whatever telemetry says. */
  probe?: CanaryReport;
  baseline: WindowMetrics;
  thresholds: Thresholds;
  required: Signal[];
  /** Requests rekey's own probes sent inside the window, which are not app traffic. */
  probeRequestsInWindow: number;
}

/** Judges one window of new-key traffic: fail on any breach, pass only on enough observed traffic. */
export function judgeWindow(w: WindowInput): Judgement {
  const probeFailed = probeFailure(w.probe);
  const metrics = w.observation.newKey;
  if (!metrics) {
    const reasons = [...(probeFailed ? [probeFailed] : []), ...w.observation.errors];
    return { verdict: probeFailed ? 'fail' : 'error', reasons, breaches: [], appRequests: 0 };
  }
  const errors = metrics.authErrors + metrics.rateLimited + metrics.serverErrors;
  // Probes answered 2xx (else the probe failed), so they only add requests; a lagging count can
  // hold fewer requests than the probes sent, never fewer than its errors. A source that never sees
  // the probes (apps' own reports) counts app requests only: nothing to subtract.
  const probes = w.observation.source.seesProbes === false ? 0 : w.probeRequestsInWindow;
  const appRequests = Math.max(metrics.requests - probes, errors, 0);
  const figures: WindowMetrics = { ...metrics, requests: appRequests };
  const breaches = evaluateThresholds(w.baseline, figures, w.thresholds);
  if (probeFailed || breaches.length > 0) {
    return {
      verdict: 'fail',
      reasons: [...(probeFailed ? [probeFailed] : []), ...breaches.map((b) => b.detail)],
      breaches,
      appRequests,
      figures,
    };
  }
  const reasons: string[] = [];
  if (metrics.complete === false)
    reasons.push(`${w.observation.source.name} has not caught up with the window yet`);
  const blind = unobservable(w.required, w.observation.source.capabilities);
  if (blind.length > 0)
    reasons.push(`${w.observation.source.name} cannot observe ${blind.join(', ')} per key`);
  // A signal already unobservable needs no second reason.
  const seen = w.required.filter((s) => !blind.includes(s));
  reasons.push(...unattributedDoubts(metrics, seen));
  if (appRequests < w.thresholds.min_requests) {
    reasons.push(
      `only ${appRequests} app request(s) on the new key (at least ${w.thresholds.min_requests} needed)`,
    );
  }
  if (
    w.required.includes('perConsumer') &&
    !blind.includes('perConsumer') &&
    !w.observation.newKeyByConsumer
  ) {
    reasons.push('new-key requests per consumer could not be read');
  }
  reasons.push(...w.observation.errors);
  return { verdict: reasons.length > 0 ? 'inconclusive' : 'pass', reasons, breaches, appRequests, figures };
}

/** A fresh tally with the policy's limits. */
export function newTally(stage: AnalysisTally['stage'], limits: RotationInput['analysis']): AnalysisTally {
  return {
    stage,
    measurements: 0,
    passed: 0,
    failed: 0,
    inconclusive: 0,
    consecutiveErrors: 0,
    limits: {
      failure: limits.failureLimit,
      inconclusive: limits.inconclusiveLimit,
      consecutiveError: limits.consecutiveErrorLimit,
    },
  };
}

/** The tally after one more measurement (a new object; the old one is untouched). */
export function tally(t: AnalysisTally, verdict: Verdict): AnalysisTally {
  return {
    ...t,
    measurements: t.measurements + 1,
    passed: t.passed + (verdict === 'pass' ? 1 : 0),
    failed: t.failed + (verdict === 'fail' ? 1 : 0),
    inconclusive: t.inconclusive + (verdict === 'inconclusive' ? 1 : 0),
    consecutiveErrors: verdict === 'error' ? t.consecutiveErrors + 1 : 0,
  };
}

/**
 * Where an analysis stands: `running` while within its limits; `failed` past the failure limit (roll
 * back); `inconclusive` past the inconclusive or consecutive-error limit (a human decides).
 */
export function analysisOutcome(t: AnalysisTally): {
  state: 'running' | 'failed' | 'inconclusive';
  why?: string;
} {
  if (t.failed > t.limits.failure) {
    return {
      state: 'failed',
      why: `${t.failed} failed window(s), more than failure_limit ${t.limits.failure}`,
    };
  }
  if (t.consecutiveErrors > t.limits.consecutiveError) {
    return {
      state: 'inconclusive',
      why: `telemetry failed ${t.consecutiveErrors} times in a row, more than consecutive_error_limit ${t.limits.consecutiveError}`,
    };
  }
  if (t.inconclusive > t.limits.inconclusive) {
    return {
      state: 'inconclusive',
      why: `${t.inconclusive} inconclusive window(s), more than inconclusive_limit ${t.limits.inconclusive}`,
    };
  }
  return { state: 'running' };
}

/** The inventory: the ticket's scope.apps and the registry's consumers, each once. */
export function inventoryCoverage(
  apps: string[],
  consumers: { app: string; owner?: string; reload?: string; canary?: boolean }[],
  baselineByConsumer: ConsumerUsage[] | undefined,
): ConsumerCoverage[] {
  const byName = new Map<string, ConsumerCoverage>();
  const baseline = baselineByConsumer
    ? new Map(baselineByConsumer.map((c) => [c.consumer, c.requests]))
    : undefined;
  const add = (name: string, extra: Partial<ConsumerCoverage> = {}) => {
    const entry = byName.get(name) ?? {
      consumer: name,
      inventory: true,
      newKeyRequests: 0,
      oldKeyRequests: 0,
      ...(baseline ? { baselineRequests: baseline.get(name) ?? 0 } : {}),
    };
    byName.set(name, { ...entry, ...extra });
  };
  for (const c of consumers) {
    add(c.app, {
      ...(c.owner ? { owner: c.owner } : {}),
      ...(c.reload ? { reload: c.reload } : {}),
      ...(c.canary ? { canary: true } : {}),
    });
  }
  for (const app of apps) add(app);
  return [...byName.values()];
}

/** Adds one window's per-consumer counts; consumers first seen in telemetry join as non-inventory. */
export function recordCoverage(
  coverage: ConsumerCoverage[],
  observation: Pick<HoldObservation, 'fromMs' | 'toMs' | 'newKeyByConsumer' | 'oldKeyByConsumer'>,
): ConsumerCoverage[] {
  const atIso = new Date(observation.toMs).toISOString();
  // The first window counts whole (its requests may lie anywhere in it), so a consumer's new-key rate
  // is measured from the window's start.
  const firstIso = new Date(observation.fromMs).toISOString();
  const byName = new Map(coverage.map((c) => [c.consumer, { ...c }]));
  const entry = (name: string) => {
    let c = byName.get(name);
    if (!c) {
      c = { consumer: name, inventory: false, newKeyRequests: 0, oldKeyRequests: 0 };
      byName.set(name, c);
    }
    return c;
  };
  for (const u of observation.newKeyByConsumer ?? []) {
    if (u.requests <= 0) continue;
    const c = entry(u.consumer);
    c.newKeyRequests += u.requests;
    c.lastNewKeyAt = atIso;
    c.firstNewKeyAt ??= firstIso;
  }
  for (const u of observation.oldKeyByConsumer ?? []) {
    if (u.requests <= 0) continue;
    const c = entry(u.consumer);
    c.oldKeyRequests += u.requests;
    c.lastOldKeyAt = atIso;
  }
  return [...byName.values()];
}

/**
 * Drain clock: since when the old key has had no traffic, undefined while it has. A window whose
 * old-key figures could not be read proves nothing, so the clock starts again after it.
 */
export function nextZeroSince(
  previous: number | undefined,
  oldKeyByConsumer: ConsumerUsage[] | undefined,
  fromMs: number,
): number | undefined {
  if (!oldKeyByConsumer) return undefined;
  if (oldKeyByConsumer.some((c) => c.requests > 0)) return undefined;
  return previous ?? fromMs;
}

/**
 * The drain holds once old-key traffic has been zero for the whole drain window. A window of 0 still
 * needs the latest window at zero: no policy turns the check off.
 */
export function drainSatisfied(zeroSince: number | undefined, nowMs: number, drainWindowMs: number): boolean {
  return zeroSince !== undefined && nowMs - zeroSince >= drainWindowMs;
}
