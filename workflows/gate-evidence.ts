// The seed's "Rollback Checks Before You Revoke The Old Key", judged from what the rotation observed
// when the revoke gate opens. Each row is green only on positive evidence; a row without enough
// evidence is unknown, and an unknown or red blocking row makes the gate's evidence insufficient, so
// only a human accepting the risk on record can approve it. Pure functions, unit-tested.
import type { AttributionReport, CanaryReport, CanaryRequest, Signal } from '../domain/activity-io';
import type { Route, RotationInput } from '../domain/policy';
import type { KeyScopeCheck } from '../domain/key-scope';
import type {
  AnalysisTally,
  CheckRecord,
  ConsumerCoverage,
  ExceptionRecord,
  GateEvidence,
  GateRow,
  GateRowKey,
} from './messages';

export interface RevokeGateFacts {
  nowMs: number;
  input: Pick<
    RotationInput,
    'mode' | 'allowedRoutes' | 'drainWindowMs' | 'requireOldKeyDrain' | 'thresholds' | 'changeTicket'
  >;
  manualGateway: boolean;
  canary: CanaryRequest[];
  /** The issued key's scope against the old key's; absent for manual gateways and older rotations. */
  keyScope?: KeyScopeCheck;
  /** The active probe of the latest hold check. */
  lastProbe?: CanaryReport;
  attribution?: AttributionReport;
  analysis?: AnalysisTally;
  /** Why the analysis stopped short (inconclusive past a limit, max hold reached), if it did. */
  analysisStopped?: string;
  /** Hold checks in this hold (the latest ones are enough: breaches roll back at once). */
  checks: CheckRecord[];
  coverage: ConsumerCoverage[];
  exceptions: ExceptionRecord[];
  unobservable: Signal[];
  /** Since when old-key traffic has been zero (undefined while it is not). */
  oldKeyZeroSince?: number;
  /** The baseline's requests and its window length, for the volume band. */
  baseline: { requests: number; windowMs: number };
  /** The hold's start. */
  holdStartMs: number;
  /** Sum of new-key app requests and old-key requests over the hold. */
  holdTotals: { newKeyAppRequests: number; oldKeyRequests: number };
}

const ROW_ORDER: GateRowKey[] = [
  'authentication',
  'routing',
  'usageAttribution',
  'quotaAndBudget',
  'runtimeCoverage',
  'supportReadiness',
];

const rate = (requests: number, ms: number) => (ms > 0 ? (requests / ms) * 60_000 : 0);
const perMin = (n: number) => `${Math.round(n * 100) / 100}/min`;

/** The six rows, and whether the gate has positive evidence for every blocking one. */
export function revokeGateEvidence(f: RevokeGateFacts): GateEvidence {
  const emergency = f.input.mode === 'emergency';
  const rows: Record<GateRowKey, GateRow> = {
    authentication: authentication(f),
    routing: routing(f),
    usageAttribution: usageAttribution(f, emergency),
    quotaAndBudget: quotaAndBudget(f),
    runtimeCoverage: runtimeCoverage(f, emergency),
    supportReadiness: supportReadiness(f),
  };
  const ordered = ROW_ORDER.map((k) => rows[k]);
  const blockers = [
    ...(f.analysisStopped ? [f.analysisStopped] : []),
    ...ordered
      .filter((r) => r.blocking && r.state !== 'green')
      .map(
        (r) =>
          `${r.signal} ${r.state}: ${
            r.evidence
              .filter((e) => e.startsWith('!'))
              .map((e) => e.slice(1))
              .join('; ') || r.evidence[0]
          }`,
      ),
  ];
  return {
    gate: 'revoke',
    computedAt: new Date(f.nowMs).toISOString(),
    evidence: blockers.length === 0 ? 'positive' : 'insufficient',
    blockers,
    rows: ordered.map((r) => ({
      ...r,
      evidence: r.evidence.map((e) => (e.startsWith('!') ? e.slice(1) : e)),
    })),
  };
}

// Evidence lines starting with '!' are what keeps a row from green; they become the gate's blockers.

function row(signal: GateRowKey, state: GateRow['state'], evidence: string[], blocking = true): GateRow {
  return { signal, state, blocking, evidence };
}

const probeLine = (probe: CanaryReport | undefined) =>
  probe
    ? `latest active probe: ${probe.requests.map((r) => `${r.route} ${r.status}`).join(', ')}`
    : '!no active probe of the new key yet';

function authentication(f: RevokeGateFacts): GateRow {
  const probeAuth = f.lastProbe?.requests.filter((r) => r.reason === 'auth') ?? [];
  const authBreaches = f.checks.filter((c) => c.breaches?.some((b) => b.check === 'auth-errors'));
  const passed = f.analysis?.passed ?? 0;
  const evidence = [
    probeLine(f.lastProbe),
    `${passed} hold window(s) passed with new-key 401/403 within ${f.input.thresholds.max_auth_error_rate * 100}%`,
  ];
  if (probeAuth.length > 0 || authBreaches.length > 0) {
    return row('authentication', 'red', [
      ...evidence,
      `!new key refused (401/403) on ${probeAuth.map((r) => r.route).join(', ') || 'app traffic'}`,
    ]);
  }
  const missing: string[] = [];
  if (!f.lastProbe || !f.lastProbe.passed) missing.push('!no passing active probe of the new key');
  if (passed === 0) missing.push('!no hold window passed');
  if (f.unobservable.includes('authErrors')) missing.push('!the telemetry source cannot see per-key 401/403');
  return row('authentication', missing.length ? 'unknown' : 'green', [...evidence, ...missing]);
}

function routing(f: RevokeGateFacts): GateRow {
  const proven = (rs: CanaryRequest[] | undefined) =>
    new Set((rs ?? []).filter((r) => r.ok).map((r) => r.route));
  const canary = proven(f.canary);
  const probe = proven(f.lastProbe?.requests);
  const denied = [...f.canary, ...(f.lastProbe?.requests ?? [])].filter((r) => r.reason === 'route-denied');
  const evidence = [
    `canary proved ${[...canary].join(', ') || 'no route'}`,
    f.lastProbe ? `latest probe proved ${[...probe].join(', ') || 'no route'}` : '!no active probe yet',
  ];
  if (denied.length > 0) {
    return row('routing', 'red', [
      ...evidence,
      `!route denied after the flip: ${denied.map((r) => `${r.route} ${r.status}`).join(', ')}`,
    ]);
  }
  const missing = f.input.allowedRoutes.filter((r: Route) => !canary.has(r) || !probe.has(r));
  return row('routing', missing.length === 0 && f.lastProbe ? 'green' : 'unknown', [
    ...evidence,
    ...(missing.length ? [`!not proven on every allowed route: ${missing.join(', ')}`] : []),
  ]);
}

function usageAttribution(f: RevokeGateFacts, emergency: boolean): GateRow {
  const ratio = f.input.thresholds.min_volume_ratio;
  const evidence: string[] = [];
  let state: GateRow['state'] = 'green';
  const worse = (s: GateRow['state']) => {
    if (s === 'red' || (s === 'unknown' && state === 'green')) state = s;
  };
  const a = f.attribution;
  if (!a) {
    evidence.push('!usage attribution was not checked');
    worse('unknown');
  } else if (a.verdict === 'fail' || (!a.passed && a.verdict !== 'inconclusive')) {
    evidence.push(
      `!usage rolls up to ${a.owner ?? 'an unknown owner'}, not ${a.expectedOwner}`,
      ...a.anomalies,
    );
    worse('red');
  } else if (a.verdict === 'inconclusive') {
    evidence.push('!no usage of the new key attributed to an owner yet');
    worse('unknown');
  } else {
    evidence.push(`usage attributed to ${a.owner ?? a.expectedOwner} (expected ${a.expectedOwner})`);
  }
  // Volume: all traffic together, and each consumer on the new key, against its baseline rate.
  const heldMs = f.nowMs - f.holdStartMs;
  const baseRate = rate(f.baseline.requests, f.baseline.windowMs);
  const holdRate = rate(f.holdTotals.newKeyAppRequests + f.holdTotals.oldKeyRequests, heldMs);
  if (baseRate > 0) {
    const line = `all traffic ${perMin(holdRate)} during the hold vs ${perMin(baseRate)} baseline (band ≥ ${ratio * 100}%)`;
    if (holdRate < ratio * baseRate) {
      evidence.push(`!traffic vanished or fell: ${line}`);
      worse(emergency ? 'unknown' : 'red');
    } else evidence.push(line);
  } else evidence.push('no baseline traffic to compare volume with');
  for (const c of f.coverage.filter((x) => x.inventory)) {
    if (c.baselineRequests === undefined) {
      evidence.push(`!${c.consumer}: no per-consumer baseline`);
      worse('unknown');
      continue;
    }
    if (c.baselineRequests === 0) continue;
    const since = c.firstNewKeyAt ? Date.parse(c.firstNewKeyAt) : undefined;
    const consumerBase = rate(c.baselineRequests, f.baseline.windowMs);
    if (since === undefined) {
      evidence.push(`!${c.consumer}: no new-key traffic yet (baseline ${perMin(consumerBase)})`);
      worse('unknown');
      continue;
    }
    // From the first window it was seen in: a consumer that reloaded late is not diluted by the time
    // before. The first window counts whole, since its requests may lie anywhere in it.
    const newRate = rate(c.newKeyRequests, Math.max(f.nowMs - since, 1));
    const line = `${c.consumer}: ${perMin(newRate)} on the new key vs ${perMin(consumerBase)} baseline`;
    if (newRate < ratio * consumerBase) {
      evidence.push(`!${line} (below ${ratio * 100}%)`);
      worse('unknown');
    } else evidence.push(line);
  }
  return row('usageAttribution', state, evidence, !emergency || a?.verdict !== 'pass');
}

/** One evidence line per scope difference (failing ones marked), or one saying the scopes match. */
function scopeEvidence(check: KeyScopeCheck | undefined): string[] {
  if (!check) return [];
  if (check.diff.length === 0)
    return ['key scope: every field of the old key read back unchanged on the new key'];
  return check.diff.map(
    (d) => `${d.kind === 'broader' || d.kind === 'changed' ? '!' : ''}key scope ${d.kind}: ${d.detail}`,
  );
}

function quotaAndBudget(f: RevokeGateFacts): GateRow {
  const quota = f.checks
    .flatMap((c) => c.breaches ?? [])
    .filter((b) => ['rate-limited', 'spend', 'tokens'].includes(b.check));
  const evidence = [
    f.manualGateway
      ? 'replacement key handed over by a human: rekey cannot read its limits; compare them in the gateway console'
      : "replacement key issued with the old key's scope (a broader scope is refused)",
    ...scopeEvidence(f.keyScope),
  ];
  // The issue step refuses a failing diff, so one here means a rotation recorded before that rule.
  if (f.keyScope?.verdict === 'fail') return row('quotaAndBudget', 'red', evidence);
  if (quota.length > 0)
    return row('quotaAndBudget', 'red', [...evidence, ...quota.map((b) => `!${b.detail}`)]);
  if (f.attribution?.verdict === 'fail')
    return row('quotaAndBudget', 'red', [...evidence, '!usage rolls up to another billing group']);
  const missing: string[] = [];
  for (const s of ['rateLimited', 'spend'] as const) {
    if (f.unobservable.includes(s)) missing.push(`!the telemetry source cannot see ${s} per key`);
  }
  if ((f.analysis?.passed ?? 0) === 0) missing.push('!no hold window passed');
  // A handed-over key's limits cannot be read: the approver compares them, as the row says.
  if (f.manualGateway) return row('quotaAndBudget', 'unknown', [...evidence, ...missing], missing.length > 0);
  // Scopes that differ at all (narrower, or changed as the policy allows) are a human's call, not green.
  if (f.keyScope && f.keyScope.diff.length > 0)
    missing.push("!the replacement key's scope differs from the old key's");
  return row('quotaAndBudget', missing.length ? 'unknown' : 'green', [
    ...evidence,
    ...(missing.length ? missing : ['no 429, token or spend breach during the hold']),
  ]);
}

function runtimeCoverage(f: RevokeGateFacts, emergency: boolean): GateRow {
  const drainFor =
    f.input.drainWindowMs >= 60_000
      ? `${Math.round(f.input.drainWindowMs / 60_000)} min`
      : 'the latest window';
  const excepted = new Map(f.exceptions.filter((e) => e.owner).map((e) => [e.consumer, e]));
  const evidence: string[] = [];
  let state: GateRow['state'] = 'green';
  const drainStart = f.nowMs - f.input.drainWindowMs;
  for (const c of f.coverage) {
    const exception = excepted.get(c.consumer);
    if (exception) {
      evidence.push(
        `${c.consumer}: exception owned by ${exception.owner} until ${exception.expiresAt ?? '?'} (${exception.compensatingControl ?? 'no control stated'})`,
      );
      continue;
    }
    const onOld =
      c.lastOldKeyAt !== undefined &&
      (f.oldKeyZeroSince === undefined || Date.parse(c.lastOldKeyAt) >= drainStart);
    if (onOld) {
      evidence.push(
        `!${c.consumer} still used the old key at ${c.lastOldKeyAt} (${c.oldKeyRequests} req during the hold)`,
      );
      state = 'red';
    } else if (c.inventory && c.newKeyRequests === 0) {
      evidence.push(
        `!${c.consumer} never seen on the new key (${c.reload ? `reloads ${c.reload}` : 'reload unknown'})`,
      );
      if (state === 'green') state = 'unknown';
    } else if (c.newKeyRequests > 0) {
      evidence.push(
        `${c.consumer}: ${c.newKeyRequests} req on the new key${c.oldKeyRequests ? `, none on the old key for ${drainFor}` : ''}`,
      );
    }
  }
  if (f.oldKeyZeroSince === undefined && state === 'green') {
    evidence.push('!old-key traffic not proven at zero in the latest window');
    state = 'unknown';
  } else if (f.oldKeyZeroSince !== undefined) {
    evidence.push(
      `old-key traffic at zero since ${new Date(f.oldKeyZeroSince).toISOString()} (drain: ${drainFor})`,
    );
  }
  if (!f.input.requireOldKeyDrain && state !== 'green') {
    evidence.push(
      '!the policy does not wait for the drain (revoke_old_key_after_old_key_traffic_zero: false): accept the risk on record',
    );
  }
  if (emergency)
    evidence.push('emergency: no drain wait; consumers still on the old key fail at revoke (accepted risk)');
  return row('runtimeCoverage', state, evidence, !emergency);
}

function supportReadiness(f: RevokeGateFacts): GateRow {
  const owner = f.input.changeTicket.rollbackOwner;
  return row(
    'supportReadiness',
    owner ? 'green' : 'unknown',
    [
      owner ? `rollback owner: ${owner}` : 'the ticket names no rollback owner',
      f.input.changeTicket.webhookUrl ? 'the ticket is told when the gate opens' : 'no ticket webhook',
      'the on-call approval confirms support and security know the old key is about to be revoked',
    ],
    false,
  );
}
