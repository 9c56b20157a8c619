// The evidence bundle as Markdown, for pasting into the change ticket: one section per row of the seed's
// "Audit Evidence" table, then the rollback checks, the timeline and the outcome. It renders the
// validated bundle only (references, fingerprints, figures), so it cannot show what the bundle lacks.
import type {
  EvidenceBundle,
  MetricsWindow,
  RollbackCheck,
  RollbackChecks,
  RollbackSignal,
} from './bundle-schema';

type Cell = string | number | boolean | null | undefined;

const cell = (v: Cell) =>
  v === undefined || v === null || v === ''
    ? '—'
    : typeof v === 'boolean'
      ? v
        ? 'yes'
        : 'no'
      : String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

const table = (head: string[], rows: Cell[][], empty = '_none_') =>
  rows.length
    ? [
        `| ${head.join(' | ')} |`,
        `|${head.map(() => '---').join('|')}|`,
        ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
      ].join('\n')
    : empty;

/** A two-column table of labelled values. */
const facts = (rows: [string, Cell][]) => table(['', ''], rows);

const RESULT: Record<RollbackCheck['result'], string> = {
  green: 'green',
  'not-green': '**NOT GREEN**',
  unknown: '**unknown**',
  'not-checked': 'not checked',
};

const PRE_CHECK: Record<EvidenceBundle['changeTicket']['preChecks'][number]['result'], string> = {
  verified: 'verified',
  failed: '**FAILED**',
  unverified: 'unverified (rekey cannot look: only the ticket vouches for it)',
};

const SIGNALS: [RollbackSignal, string][] = [
  ['authentication', 'Authentication'],
  ['routing', 'Routing'],
  ['usageAttribution', 'Usage attribution'],
  ['quotaAndBudget', 'Quota and budget'],
  ['runtimeCoverage', 'Runtime coverage'],
  ['supportReadiness', 'Support readiness'],
];

/** The "Key scope" table: old key, replacement as the gateway read it back, and the comparison. */
function keyScopeMarkdown(k: EvidenceBundle['gateway']['keyScope']): string[] {
  if (!k) return [];
  const verdict = k.verdict === 'fail' ? '**FAILED**' : k.verdict;
  return [
    `### Key scope (${verdict})`,
    table(
      ['field', 'old key', 'new key', 'result'],
      k.rows.map((r) => [r.field, r.old, r.issued, r.result]),
    ),
    '',
  ];
}

/** Markdown of a validated bundle; `sha256`/`previousSha256` tie it into the evidence chain. */
export function renderEvidenceMarkdown(
  b: EvidenceBundle,
  record: { sha256: string; previousSha256: string | null },
): string {
  const t = b.changeTicket;
  const sv = b.secretVersions;
  const g = b.gateway;
  const n = b.negativeTest;
  const r = b.postChangeReview;
  return [
    `# Key rotation evidence — ${b.rotationId}`,
    '',
    `Credential \`${b.credential}\` (${b.environment}) · outcome **${b.outcome.outcome}** · bundle schema v${b.schemaVersion}, built ${b.generatedAt}.`,
    `Bundle SHA-256 \`${record.sha256}\`; previous bundle \`${record.previousSha256 ?? 'none (first in chain)'}\`.`,
    ...(b.redactions > 0
      ? ['', `> ${b.redactions} text field(s) held something shaped like a credential and were redacted.`]
      : []),
    '',
    '## Change ticket',
    facts([
      ['ticket', t.url ? `[${t.id}](${t.url})` : t.id],
      ['reason', t.reason],
      ['requested by', t.requester],
      ['owner', t.owner],
      ['rollback owner', t.rollbackOwner],
      ['mode', t.mode],
      ['window', `${t.window.startedAt ?? '?'} → ${t.window.endedAt ?? '?'}`],
      ['apps', t.scope.apps.join(', ')],
      ['routes', t.scope.allowedRoutes.join(', ')],
      ['gateway', t.scope.gatewayBaseUrl],
      ['deploy method', t.scope.deployMethod],
      ['final status', t.finalStatus],
    ]),
    ...(t.acceptedRisk ? ['', `**Accepted risk (emergency):** ${t.acceptedRisk}`] : []),
    ...(t.exposure
      ? [
          '',
          `**Leak alert:** ${t.exposure.source} ${t.exposure.alertId}, key ${t.exposure.fingerprint}, ` +
            `received ${t.exposure.receivedAt}${t.exposure.url ? ` (${t.exposure.url})` : ''}`,
        ]
      : []),
    ...(t.stagingTwin
      ? [
          '',
          `**Staging twin (${t.stagingTwin.mode}):** ${t.stagingTwin.environment}/${t.stagingTwin.credential} ` +
            `${t.stagingTwin.state}` +
            (t.stagingTwin.rotationId ? `, rotation ${t.stagingTwin.rotationId}` : '') +
            (t.stagingTwin.completedAt ? ` completed ${t.stagingTwin.completedAt}` : '') +
            (t.stagingTwin.policyFingerprint ? `, policy ${t.stagingTwin.policyFingerprint}` : '') +
            (t.stagingTwin.detail ? ` (${t.stagingTwin.detail})` : ''),
        ]
      : []),
    ...(t.escalations?.length
      ? [
          '',
          '### Escalations to emergency',
          table(
            ['at', 'by', 'phase', 'effect', 'reason', 'alert'],
            t.escalations.map((e) => [
              e.at,
              e.principal,
              e.phase,
              e.effect,
              e.reason,
              e.exposure ? `${e.exposure.source} ${e.exposure.alertId}` : '',
            ]),
          ),
        ]
      : []),
    '',
    '### Approvals',
    table(
      ['gate', 'decision', 'by', 'at', 'comment', 'break-glass reason', 'proven by'],
      t.approvals.map((a) => [
        a.gate,
        a.decision,
        a.principal,
        a.at,
        a.comment,
        a.breakGlassReason,
        a.proof?.summary ?? 'not recorded (rotation started before signed messages)',
      ]),
    ),
    '',
    '### Risk accepted without positive evidence',
    table(
      ['gate', 'by', 'at', 'reason', 'missing evidence'],
      t.riskAcceptances.map((a) => [a.gate, a.principal, a.at, a.reason, a.missing.join('; ')]),
      '_none: no gate was approved without positive evidence_',
    ),
    '',
    '### Pre-checks (claimed by the ticket, checked by rekey)',
    table(
      ['check', 'claimed', 'result', 'detail'],
      t.preChecks.map((p) => [p.name, p.claimed, PRE_CHECK[p.result], p.detail]),
    ),
    '',
    '## Secret version history',
    `Vault ${cell(sv.vaultUrl)} · stable path \`${sv.stablePath ?? '?'}\` · pending \`${sv.pendingPath ?? '?'}\` · source: ${sv.source}${sv.sourceNote ? ` (${sv.sourceNote})` : ''}. No values are recorded.`,
    '',
    table(
      ['secret', 'version', 'role', 'stage', 'fingerprint', 'enabled', 'activated', 'superseded', 'retired'],
      sv.versions.map((v) => [
        v.name,
        v.version,
        v.roles.join(', '),
        v.stage,
        v.fingerprint,
        v.enabled,
        v.activatedAt,
        v.supersededAt,
        v.retiredAt,
      ]),
    ),
    '',
    '## Gateway logs',
    facts([
      ['gateway', g.baseUrl],
      ['admin adapter', g.adminAdapter],
      ['old key', `${g.oldKey.gatewayKeyId ?? '—'} ${g.oldKey.fingerprint ?? ''}`.trim()],
      ['new key', `${g.newKey.gatewayKeyId ?? '—'} ${g.newKey.fingerprint ?? ''}`.trim()],
      [
        'attribution',
        g.attribution.checked
          ? `${g.attribution.verdict === 'inconclusive' ? 'inconclusive (no usage recorded yet)' : g.attribution.passed ? 'passed' : 'FAILED'}: owner ${g.attribution.owner ?? '?'}, team ${g.attribution.team ?? '?'} (expected ${g.attribution.expectedOwner ?? '?'})`
          : 'not checked',
      ],
      ['new-key requests during the hold', g.production.newKeyRequests],
      ['old-key requests during the hold', g.production.oldKeyRequests],
      ['old key silent since', g.production.oldKeyZeroSince],
    ]),
    ...(g.attribution.anomalies.length ? ['', ...g.attribution.anomalies.map((a) => `- ${a}`)] : []),
    '',
    ...keyScopeMarkdown(g.keyScope),
    `### Canary requests (${g.canary.ran ? (g.canary.passed ? 'passed' : 'FAILED') : 'not run'})`,
    table(
      [
        'request id',
        'route',
        'route group',
        'status',
        'model',
        'owner',
        'latency ms',
        'tokens',
        'cost',
        'ok',
      ],
      g.canary.requests.map((c) => [
        c.requestId,
        c.route,
        c.routeGroup,
        c.status,
        c.model,
        c.owner,
        c.latencyMs,
        c.tokens,
        c.cost,
        c.ok ? 'yes' : `no (${c.reason ?? '?'})`,
      ]),
    ),
    '',
    ...g.limitations.map((l) => `- _${l}_`),
    '',
    '## Negative test',
    n.ran
      ? facts([
          ['at', n.at],
          ['old key status', n.oldKeyStatus],
          ['old key rejected', n.oldKeyRejected === false ? 'NO' : n.oldKeyRejected],
          ['new key status', n.newKeyStatus],
          ['new key accepted', n.newKeyAccepted === false ? 'NO' : n.newKeyAccepted],
          ['attempts', n.attempts],
          [
            'old version retired',
            n.oldVersionRetired
              ? `${n.oldVersionRetired.name}@${n.oldVersionRetired.version} at ${n.oldVersionRetired.at ?? '?'}`
              : null,
          ],
        ])
      : `_not run_${n.required ? ' (required by the ticket)' : ''}`,
    '',
    ...replicaLines(n),
    ...revocationLines(n.revocation),
    'Key values are never recorded: the old key is identified by its fingerprint only.',
    '',
    '## Exception list',
    ...(b.exceptions.maxHoldReachedAt
      ? [`Max hold reached at ${b.exceptions.maxHoldReachedAt} with consumers still on the old key.`, '']
      : []),
    table(
      [
        'consumer',
        'owner',
        'expires',
        'compensating control',
        'recorded by',
        'environment',
        'reload',
        'old-key requests',
        'extended until',
        'old key served until',
        'disposition',
        'accepted by',
      ],
      b.exceptions.consumers.map((e) => [
        e.consumer,
        e.owner ? `${e.owner}${e.ownerSource === 'credential-owner' ? ' (credential owner)' : ''}` : null,
        e.expiresAt ?? '**none recorded**',
        e.compensatingControl ?? '**none recorded**',
        e.recordedBy ? `${e.recordedBy}${e.recordedAt ? ` at ${e.recordedAt}` : ''}` : null,
        e.environment,
        e.reload,
        e.oldKeyRequests,
        e.extendedUntil,
        e.oldKeyServedUntil,
        e.disposition,
        e.acceptedBy ? `${e.acceptedBy.principal} at ${e.acceptedBy.at}` : null,
      ]),
      '_none: every consumer left the old key_',
    ),
    '',
    '### Hold extensions',
    table(
      ['at', 'by', 'minutes', 'reason'],
      b.exceptions.holdExtensions.map((x) => [x.at, x.by, x.minutes, x.reason]),
    ),
    '',
    '## Post-change review',
    table(
      ['', 'before (old key, baseline)', 'after (new key, hold)'],
      reviewRows(r.before, r.after),
      '_no traffic figures_',
    ),
    '',
    `${r.holdChecks} hold check(s)${r.figuresComplete ? '' : '; tokens, spend and latency cover the latest hold windows only'}. Support tickets: ${r.supportTickets ?? 'not known to rekey — attach them to the ticket'}.`,
    '',
    r.telemetry
      ? `Telemetry source \`${r.telemetry.source}\`; cannot observe: ${r.telemetry.unobservable.length ? `**${r.telemetry.unobservable.join(', ')}** (no check passes on these)` : 'nothing'}.`
      : 'Telemetry source: none chosen (the rotation ended first).',
    '',
    r.analysis
      ? `Analysis (${r.analysis.stage}): ${r.analysis.measurements} measurement(s): ${r.analysis.pass} pass, ${r.analysis.fail} fail, ${r.analysis.inconclusive} inconclusive, ${r.analysis.error} error (limits: ${r.analysis.limits.failure} fail, ${r.analysis.limits.inconclusive} inconclusive, ${r.analysis.limits.consecutiveError} errors in a row).`
      : 'Analysis: none ran.',
    ...(r.breaches.length
      ? [
          '',
          '### Threshold breaches',
          table(
            ['at', 'check', 'observed', 'limit', 'detail'],
            r.breaches.map((x) => [x.at, x.check, x.observed, x.limit, x.detail]),
          ),
        ]
      : []),
    '',
    "## Rollback checks (the seed's revoke criteria)",
    rollbackBasis(b.rollbackChecks),
    '',
    table(
      ['signal', 'result', 'blocks the gate', 'evidence', 'do not revoke if'],
      SIGNALS.map(([key, label]) => {
        const c = b.rollbackChecks.signals[key];
        return [label, RESULT[c.result], c.blocking, c.evidence.join('; '), c.doNotRevokeIf];
      }),
    ),
    '',
    '## Timeline',
    table(
      ['at', 'phase', 'event', 'by', 'detail'],
      b.timeline.map((e) => [e.at, e.phase, e.event, e.by, e.detail]),
    ),
    '',
    '## Outcome',
    facts([
      ['outcome', b.outcome.outcome],
      ['final phase', b.outcome.finalPhase],
      ['old key revoked', b.outcome.oldKeyRevoked],
      ['new key serving', b.outcome.newKeyServing],
      ['rollback cause', b.outcome.rollbackCause],
      ['failure', b.outcome.failure ? `in ${b.outcome.failure.phase}: ${b.outcome.failure.reason}` : null],
      ...outcomeExtras(b.outcome),
    ]),
    '',
  ].join('\n');
}

/** Where the rollback rows came from: the revoke gate as the approver saw it, or the end of the run. */
function rollbackBasis(c: RollbackChecks): string {
  if (c.source === 'not-reached') {
    return `Not reached: the rotation ended before the revoke gate, so rekey judged these from what it had recorded by ${c.computedAt}.`;
  }
  const blockers = c.blockers.length ? ` Blockers: ${c.blockers.join('; ')}.` : '';
  return `Computed when the revoke gate opened, ${c.computedAt}: evidence **${c.gateEvidence ?? 'unknown'}**.${blockers}`;
}

/** Per replica, the negative test and the old key's grace just before revoke, where replicas are listed. */
function replicaLines(n: EvidenceBundle['negativeTest']): string[] {
  const grace = n.revocation?.oldKeyGrace;
  return [
    ...(n.replicas?.length
      ? [
          'Negative test on each replica:',
          '',
          table(
            ['replica', 'old key', 'new key', 'attempts'],
            n.replicas.map((r) => [
              r.replica,
              `${r.oldKeyStatus}${r.oldKeyRejected ? '' : ' (NOT refused)'}`,
              `${r.newKeyStatus}${r.newKeyAccepted ? '' : ' (NOT accepted)'}`,
              r.attempts,
            ]),
          ),
          '',
        ]
      : []),
    ...(grace
      ? [
          `Old key just before revoke: ${grace.note}.`,
          '',
          table(
            ['replica', 'status', '2xx'],
            grace.replicas.map((r) => [r.replica, r.status, r.ok ? 'yes' : 'NO']),
          ),
          '',
        ]
      : []),
  ];
}

/** The revocation method and its steps; a delete-only gateway is said to leave no way back. */
function revocationLines(r: EvidenceBundle['negativeTest']['revocation']): string[] {
  if (!r) return ['Revocation: not started.', ''];
  return [
    '### Revocation',
    facts([
      ['method', r.note],
      ['revoked', r.at ? `${r.at}${r.by ? ` by ${r.by}` : ''}${r.detail ? `: ${r.detail}` : ''}` : 'no'],
      ['disabled', r.disabledAt],
      ['re-enabled', r.reEnabledAt],
      ['deleted', r.deletedAt],
    ]),
    ...(r.preRevokeProbe.length
      ? [
          '',
          'Probe with the new key before revoking:',
          '',
          table(
            ['request id', 'route', 'status', 'model', 'latency ms', 'ok'],
            r.preRevokeProbe.map((c) => [
              c.requestId,
              c.route,
              c.status,
              c.model,
              c.latencyMs,
              c.ok ? 'yes' : `no (${c.reason ?? '?'})`,
            ]),
          ),
        ]
      : []),
    '',
  ];
}

/** The kept replacement key and, after a failure, what is live. */
function outcomeExtras(o: EvidenceBundle['outcome']): [string, Cell][] {
  const k = o.keptReplacementKey;
  return [
    ...(k
      ? ([
          [
            'kept replacement key',
            `${k.gatewayKeyId ?? '—'} ${k.fingerprint ?? ''}`.trim() + ` left enabled since ${k.since}`,
          ],
          [
            'replacement key revoked',
            k.revoked ? `${k.revokedAt ?? '?'} by ${k.revokedBy ?? '?'}` : '**NO: still enabled**',
          ],
        ] satisfies [string, Cell][])
      : []),
    ...(o.live
      ? ([
          [
            'live at the end',
            `old key ${o.live.oldKey}, new key ${o.live.newKey}${o.live.currentVersion ? `, current version ${o.live.currentVersion}` : ''}: ${o.live.detail}`,
          ],
        ] satisfies [string, Cell][])
      : []),
  ];
}

/** Before/after rows of the post-change review. */
function reviewRows(before: MetricsWindow | null, after: MetricsWindow | null): Cell[][] {
  if (!before && !after) return [];
  const row = (label: string, pick: (w: MetricsWindow) => Cell): Cell[] => [
    label,
    before ? pick(before) : null,
    after ? pick(after) : null,
  ];
  return [
    row('window', (w) => `${w.from} → ${w.to} (${w.minutes} min)`),
    row('requests', (w) => w.requests),
    row('requests per hour', (w) => w.requestsPerHour),
    row('auth errors (401/403)', (w) => `${w.authErrors} (${w.authErrorRate})`),
    row('rate limited (429)', (w) => `${w.rateLimited} (${w.rateLimitedRate})`),
    row('server errors (5xx)', (w) => `${w.serverErrors} (${w.serverErrorRate})`),
    row('tokens', (w) => w.tokens),
    row('tokens per request', (w) => w.tokensPerRequest),
    row('spend', (w) => w.spend),
    row('spend per request', (w) => w.spendPerRequest),
    row('p95 latency ms', (w) => w.p95LatencyMs),
  ];
}
