// The seed's "Rollback Checks Before You Revoke The Old Key" for the evidence bundle: the rows the
// workflow computed when the revoke gate opened (what the approver saw), or, for a rotation that ended
// before that gate, each signal judged from what the rotation recorded by the end.
import type { GateEvidence, GateRow, RotationStatus } from '../../domain/status';
import type { CredentialRef } from '../../domain/activity-io';
import type {
  EvidenceBundle,
  RollbackCheck,
  RollbackChecks,
  RollbackSignal,
} from '../../domain/evidence/bundle-schema';
import type { EvidenceInput } from './sections/context';

/** The seed's "Rollback Checks Before You Revoke The Old Key", verbatim. */
const SEED_ROLLBACK_CHECKS: Record<RollbackSignal, [string, string]> = {
  authentication: [
    'New-key requests return expected success codes, and old-key usage has dropped to zero.',
    'Any production service still emits old-key request IDs or new 401/403 errors.',
  ],
  routing: [
    'The new key reaches the same intended models, providers, endpoint families, and route groups.',
    'Fallbacks, route denials, or unsupported-model errors appear only after the flip.',
  ],
  usageAttribution: [
    'Usage rolls up to the same app, owner, team, customer, or cost center.',
    'Spend moves to an unknown owner or disappears from normal dashboards.',
  ],
  quotaAndBudget: [
    "Quota counters and spend limits match the old key's intended policy.",
    'The new key has no limit, the wrong limit, or a different billing group.',
  ],
  runtimeCoverage: [
    'All pods, workers, functions, cron jobs, notebooks, and integrations have refreshed the secret.',
    'Long-lived processes were not restarted and cannot reload credentials dynamically.',
  ],
  supportReadiness: [
    'Support, on-call, and security know the old key is about to be revoked.',
    'No owner can approve an emergency replacement if revocation exposes a missed dependency.',
  ],
};

/** How a gate row's state reads in the bundle: `red` is the seed's "do not revoke". */
const ROW_RESULT: Record<GateRow['state'], RollbackCheck['result']> = {
  green: 'green',
  red: 'not-green',
  unknown: 'unknown',
};

/**
 * The seed's rollback signals as the approver saw them when the revoke gate opened; a rotation that
 * never got there is judged from what it recorded by the end instead.
 */
export function rollbackChecksOf(
  status: RotationStatus,
  input: EvidenceInput | undefined,
  credential: CredentialRef | undefined,
  review: EvidenceBundle['postChangeReview'],
  ticket: EvidenceBundle['changeTicket'],
  generatedAt: string,
): RollbackChecks {
  const gate = status.gateEvidence.revoke;
  if (gate) return rollbackChecksAtGate(gate);
  return {
    source: 'not-reached',
    computedAt: generatedAt,
    gateEvidence: null,
    blockers: [],
    signals: judgeRollbackSignals(status, input, credential, review, ticket),
  };
}

/** The revoke gate's rows, unchanged but for the bundle's vocabulary and the seed's conditions. */
function rollbackChecksAtGate(gate: GateEvidence): RollbackChecks {
  const row = (signal: RollbackSignal): RollbackCheck => {
    const [green, doNotRevokeIf] = SEED_ROLLBACK_CHECKS[signal];
    const r = gate.rows.find((x) => x.signal === signal);
    return r
      ? { result: ROW_RESULT[r.state], blocking: r.blocking, evidence: [...r.evidence], green, doNotRevokeIf }
      : {
          result: 'not-checked',
          blocking: null,
          evidence: ['the revoke gate showed no row for this signal'],
          green,
          doNotRevokeIf,
        };
  };
  return {
    source: 'revoke-gate',
    computedAt: gate.computedAt,
    gateEvidence: gate.evidence,
    blockers: [...gate.blockers],
    signals: {
      authentication: row('authentication'),
      routing: row('routing'),
      usageAttribution: row('usageAttribution'),
      quotaAndBudget: row('quotaAndBudget'),
      runtimeCoverage: row('runtimeCoverage'),
      supportReadiness: row('supportReadiness'),
    },
  };
}

/** The seed's rollback signals, each judged from what the rotation recorded (no revoke gate reached). */
function judgeRollbackSignals(
  status: RotationStatus,
  input: EvidenceInput | undefined,
  credential: CredentialRef | undefined,
  review: EvidenceBundle['postChangeReview'],
  ticket: EvidenceBundle['changeTicket'],
): RollbackChecks['signals'] {
  const check = (
    signal: RollbackSignal,
    result: RollbackCheck['result'],
    evidence: string[],
  ): RollbackCheck => {
    const [green, doNotRevokeIf] = SEED_ROLLBACK_CHECKS[signal];
    return { result, blocking: null, evidence, green, doNotRevokeIf };
  };
  const hold = status.hold;
  const held = hold !== undefined && hold.totals.checks > 0;
  const { before, after } = review;
  const canaryRan = status.canary.length > 0;
  const failed = status.canary.filter((c) => !c.ok);
  const exceptionNames = status.exceptions.map((e) => `${e.consumer} (${e.requests} req)`).join(', ');
  const oldKeyDrained = held && hold.oldKeyZeroSince !== undefined;
  const breachesOf = (...kinds: string[]) => review.breaches.filter((b) => kinds.includes(b.check));

  // Authentication: new-key success codes, no new 401/403, old-key traffic at zero.
  const authFailures = status.canary.filter((c) => c.reason === 'auth');
  const newAuthErrors = after !== null && after.authErrorRate > (before?.authErrorRate ?? 0);
  const authEvidence = [
    canaryRan
      ? `canary: ${status.canary.length - failed.length}/${status.canary.length} requests with the new key succeeded${authFailures.length ? `; 401/403 on ${authFailures.map((c) => c.route).join(', ')}` : ''}`
      : 'no canary ran',
    after
      ? `hold: ${after.authErrors} new-key 401/403 in ${after.requests} requests (rate ${after.authErrorRate}; baseline ${before?.authErrorRate ?? 'unknown'})`
      : 'no hold check ran',
    held
      ? hold.oldKeyZeroSince
        ? `old key: no traffic since ${hold.oldKeyZeroSince}`
        : `old key: still used at the last hold check (${hold.totals.oldKeyRequests} requests during the hold)`
      : 'old key: traffic not observed',
    ...(exceptionNames ? [`exceptions: ${exceptionNames}`] : []),
    ...(status.negativeTest ? [`negative test: new key answered ${status.negativeTest.newKeyStatus}`] : []),
  ];
  const authentication = check(
    'authentication',
    authFailures.length > 0 || newAuthErrors || status.exceptions.length > 0 || (held && !oldKeyDrained)
      ? 'not-green'
      : canaryRan && failed.length === 0 && held && oldKeyDrained
        ? 'green'
        : 'not-checked',
    authEvidence,
  );

  // Routing: every allowed route proven by the canary; no route failures or 5xx after the flip.
  const proven = new Set(status.canary.filter((c) => c.ok).map((c) => c.route));
  const missing = ticket.scope.allowedRoutes.filter((r) => !proven.has(r));
  const routeFailures = failed.filter((c) => c.reason !== 'auth');
  const serverBreaches = breachesOf('server-errors', 'server-error-increase');
  const routing = check(
    'routing',
    routeFailures.length > 0 || serverBreaches.length > 0
      ? 'not-green'
      : canaryRan && missing.length === 0 && failed.length === 0
        ? 'green'
        : 'not-checked',
    [
      ...status.canary.map(
        (c) =>
          `${c.route}: ${c.status}${c.model ? ` ${c.model}` : ''}${c.requestId ? ` (${c.requestId})` : ''}${c.ok ? '' : ` failed: ${c.reason ?? 'unknown'}`}`,
      ),
      ...(canaryRan ? [] : ['no canary ran']),
      ...(missing.length && canaryRan ? [`not proven: ${missing.join(', ')}`] : []),
      ...(after ? [`hold: ${after.serverErrors} 5xx in ${after.requests} requests`] : []),
      ...serverBreaches.map((b) => `breach at ${b.at}: ${b.detail}`),
      'route groups are not reported by the gateway API',
    ],
  );

  // Usage attribution: the new key's usage rolls up to the expected owner.
  const a = status.attribution;
  const attributionFailed = a !== undefined && a.verdict === 'fail';
  const usageAttribution = check(
    'usageAttribution',
    a ? (a.verdict === 'pass' ? 'green' : attributionFailed ? 'not-green' : 'unknown') : 'not-checked',
    a
      ? a.verdict === 'inconclusive'
        ? ['the gateway had recorded no usage of the new key yet: nothing to attribute']
        : [
            `new key's usage attributed to ${a.owner ?? 'unknown'}${a.team ? ` (team ${a.team})` : ''}; expected ${a.expectedOwner}`,
            ...a.anomalies,
          ]
      : [
          input &&
          input.evidence.usage_owner_check !== 'required' &&
          input.evidence.cost_anomaly_check !== 'required'
            ? 'the ticket made usage_owner_check and cost_anomaly_check optional'
            : 'the rotation ended before the attribution check',
        ],
  );

  // Quota and budget: the replacement has the old key's limits and billing group.
  const issued = status.gatewayKeys.new !== undefined;
  const quotaBreaches = breachesOf('rate-limited', 'spend', 'tokens');
  const manual = credential?.adminAdapter === 'manual' || (credential === undefined && !issued);
  const quotaAndBudget = check(
    'quotaAndBudget',
    quotaBreaches.length > 0 || attributionFailed
      ? 'not-green'
      : issued && held && !manual
        ? 'green'
        : 'not-checked',
    [
      issued
        ? `replacement key ${status.gatewayKeys.new} issued through the ${credential?.adminAdapter ?? 'gateway'} admin API asking for the old key's models, budget, rpm/tpm limits and team; rekey refuses a broader scope, but does not compare narrower or different limits — check those in the gateway`
        : 'replacement key handed over by a human: rekey cannot read its limits; compare them in the gateway console',
      ...(after
        ? [
            `hold: ${after.rateLimited} 429 in ${after.requests} requests (rate ${after.rateLimitedRate}; baseline ${before?.rateLimitedRate ?? 'unknown'})`,
            `spend per request: ${before?.spendPerRequest ?? 'unknown'} before, ${after.spendPerRequest ?? 'unknown'} after`,
          ]
        : []),
      ...quotaBreaches.map((b) => `breach at ${b.at}: ${b.detail}`),
      ...(a && attributionFailed
        ? [`usage rolls up to ${a.owner ?? 'an unknown owner'}, not ${a.expectedOwner}`]
        : []),
    ],
  );

  // Runtime coverage: every registered runtime reloaded (old-key traffic at zero).
  const consumers = credential?.consumers ?? [];
  const slow = consumers.filter((c) => c.reload !== 'dynamic');
  const emergency = status.mode === 'emergency';
  const runtimeCoverage = check(
    'runtimeCoverage',
    status.exceptions.length > 0 || (held && !oldKeyDrained)
      ? 'not-green'
      : held && oldKeyDrained && !emergency
        ? 'green'
        : 'not-checked',
    [
      consumers.length
        ? `registered consumers: ${consumers.map((c) => `${c.app} (${c.environment}, reloads ${c.reload})`).join(', ')}`
        : 'registry consumers unknown',
      ...(slow.length
        ? [
            `${slow.map((c) => c.app).join(', ')} pick(s) up a new version only on ${[...new Set(slow.map((c) => c.reload))].join(' or ')}`,
          ]
        : []),
      held
        ? hold.oldKeyZeroSince
          ? `old-key traffic at zero since ${hold.oldKeyZeroSince}`
          : 'old-key traffic not at zero at the last hold check'
        : 'old-key drain not observed',
      ...(exceptionNames ? [`still on the old key: ${exceptionNames}`] : []),
      ...(emergency ? [`emergency: no drain wait (${status.acceptedRisk ?? 'risk accepted'})`] : []),
    ],
  );

  // Support readiness: a human approved the revoke, and someone owns an emergency replacement.
  const revokeApproval = status.approvals
    .filter((x) => x.gate === 'revoke' && x.decision === 'APPROVED')
    .at(-1);
  const rollbackOwner = input?.changeTicket.rollbackOwner;
  const supportReadiness = check(
    'supportReadiness',
    !revokeApproval || !input ? 'not-checked' : rollbackOwner ? 'green' : 'not-green',
    [
      revokeApproval
        ? `revoke approved by ${revokeApproval.principal} at ${revokeApproval.at}${revokeApproval.comment ? `: ${revokeApproval.comment}` : ''}${revokeApproval.breakGlassReason ? ` (break-glass: ${revokeApproval.breakGlassReason})` : ''}`
        : 'the rotation ended before the revoke gate',
      input
        ? rollbackOwner
          ? `rollback owner: ${rollbackOwner}`
          : 'the ticket names no rollback owner'
        : 'rollback owner unknown',
      input
        ? input.changeTicket.webhookUrl
          ? 'a ticket webhook was configured for phase changes and open gates (deliveries are best effort; see the receiver for what arrived)'
          : 'no ticket webhook: the ticket was not told of phase changes'
        : 'ticket webhook unknown',
    ],
  );

  return { authentication, routing, usageAttribution, quotaAndBudget, runtimeCoverage, supportReadiness };
}
