// Human output of the CLI: short lines and aligned tables. Pure functions from API answers to text, so
// unit tests call them directly; `--json` bypasses all of this and prints the API's own JSON.
import type { CheckRecord, GateEvidence, PendingGate, RotationStatus, Verdict } from '../workflows/messages';
import type { Ack, HandOffResult, Problem, RotationSummary, RotationView, StartResult } from './client';
import { keyScopeBlock } from './key-scope-format';

const NONE = '-';

/** ISO time without milliseconds, still UTC and still sortable. */
export function time(iso: string | null | undefined): string {
  return iso ? iso.replace(/\.\d+Z$/, 'Z') : NONE;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` rows, the keys padded to one width, each row indented. */
export const fields = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n') + '\n';
};

/** The answer to `rekey start`: the id first, alone on its line, so `head -1` gets it. */
export function formatStart(created: boolean, r: StartResult, apiUrl: string): string {
  return (
    `${r.id}\n` +
    fields([
      ['result', created ? 'started' : 'already running with this change ticket (nothing new started)'],
      ['workflow', `${r.workflowId} (run ${r.runId})`],
      ['status', absolute(apiUrl, r.statusUrl)],
      ['temporal', r.temporalUiUrl],
    ])
  );
}

/** The answer to `rekey list`. */
export function formatList(rotations: RotationSummary[]): string {
  if (rotations.length === 0) return 'no rotations match\n';
  return table(
    ['ID', 'PHASE', 'OUTCOME', 'STATUS', 'REQUESTED BY', 'STARTED'],
    rotations.map((r) => [
      r.id,
      r.phase ?? NONE,
      r.outcome ?? NONE,
      r.status,
      r.requestedBy ?? NONE,
      time(r.startTime),
    ]),
  );
}

/** The answer to `rekey status`: summary, pending gate (evidence, next command), gate rows, checks, timeline. */
export function formatStatus(v: RotationView): string {
  const d = v.detail;
  const rows: [string, string][] = [
    ['credential', `${v.credential} (${v.environment})${d ? `, ${d.mode} mode` : ''}`],
    ['ticket', `${v.changeTicket}, requested by ${v.requestedBy ?? NONE}`],
    ['phase', `${d?.phase ?? v.phase ?? NONE} (${v.status})`],
    ['outcome', d?.outcome ?? v.outcome ?? NONE],
  ];
  if (d?.pendingGate) {
    rows.push(['pending gate', pendingGate(d.pendingGate)]);
    rows.push(...gateEvidenceRows(d.pendingGate));
    rows.push(['next', nextStep(v.id, d.pendingGate)]);
  } else if (v.status === 'RUNNING' && !d) {
    rows.push([
      'pending gate',
      'unknown: no worker answered the status query (phase from Temporal visibility)',
    ]);
  } else {
    rows.push(['pending gate', NONE]);
  }
  if (d) rows.push(...detailRows(d));
  rows.push(['started', time(v.startTime)], ['closed', time(v.closeTime)], ['temporal', v.temporalUiUrl]);

  let out = `${v.id}\n${fields(rows)}`;
  // `?.`/`??` on fields the type requires: a worker older than this CLI answers without them.
  for (const g of [d?.gateEvidence?.flip, d?.gateEvidence?.revoke]) {
    if (g?.rows.length) out += `\n${gateTable(g)}`;
  }
  out += keyScopeBlock(d?.keyScope, table);
  if (d?.checks.length) {
    out +=
      '\nchecks\n' +
      indent(
        table(
          ['AT', 'CHECK', 'VERDICT', 'DETAIL'],
          d.checks.map((c) => [time(c.at), c.name, VERDICT_MARK[verdictOf(c)], checkDetail(c)]),
        ),
      );
  }
  if (d?.timeline.length) {
    out +=
      '\ntimeline\n' +
      indent(
        table(
          ['AT', 'PHASE', 'EVENT', 'BY', 'DETAIL'],
          d.timeline.map((t) => [time(t.at), t.phase, t.event, t.by ?? NONE, t.detail ?? '']),
        ),
      );
  }
  return out;
}

function detailRows(d: RotationStatus): [string, string][] {
  const rows: [string, string][] = [];
  const versions = Object.entries(d.versions).flatMap(([stage, ref]) =>
    ref ? [`${stage} ${ref.name}/${ref.version} (${ref.fingerprint})`] : [],
  );
  if (versions.length) rows.push(['versions', versions.join(', ')]);
  for (const a of d.approvals) {
    const extra = [a.comment, a.breakGlassReason && `break glass: ${a.breakGlassReason}`].filter(Boolean);
    rows.push([
      'approval',
      `${a.gate} ${a.decision} by ${a.principal} at ${time(a.at)}${extra.length ? ` (${extra.join('; ')})` : ''}`,
    ]);
  }
  if (d.hold) {
    rows.push([
      'hold',
      `observation ends ${time(d.hold.observationEndsAt)}, max ${time(d.hold.maxHoldEndsAt)}, old-key requests ${d.hold.totals.oldKeyRequests}`,
    ]);
  }
  // Absent from the answer of a worker older than this CLI.
  for (const r of d.riskAcceptances ?? []) {
    rows.push([
      'risk accepted',
      `${r.gate} by ${r.principal} at ${time(r.at)}: ${r.reason}${r.missing.length ? ` (missing: ${r.missing.join('; ')})` : ''}`,
    ]);
  }
  if (d.exceptions.length) {
    const about = (e: RotationStatus['exceptions'][number]) =>
      [
        `${e.requests} requests`,
        e.owner && `owner ${e.owner}`,
        e.expiresAt && `expires ${e.expiresAt}`,
        e.compensatingControl && `control: ${e.compensatingControl}`,
      ]
        .filter(Boolean)
        .join(', ');
    rows.push([
      'exceptions',
      `old key still used by ${d.exceptions.map((e) => `${e.consumer} (${about(e)})`).join(', ')}`,
    ]);
  }
  if (d.negativeTest) {
    const n = d.negativeTest;
    rows.push([
      'negative test',
      `old key ${n.oldKeyStatus} (${n.oldKeyRejected ? 'rejected' : 'STILL ACCEPTED'}), new key ${n.newKeyStatus} (${n.newKeyAccepted ? 'accepted' : 'REFUSED'}) at ${time(n.at)}`,
    ]);
  }
  if (d.failure) rows.push(['failure', `in ${d.failure.phase}: ${d.failure.reason}`]);
  if (d.rollbackCause) rows.push(['rollback cause', d.rollbackCause]);
  if (d.acceptedRisk) rows.push(['accepted risk', d.acceptedRisk]);
  return rows;
}

function pendingGate(g: PendingGate): string {
  const reminders = g.reminders ? `, ${g.reminders} reminder(s) sent` : '';
  return `${g.gate} since ${time(g.openedAt)}, needs ${g.requiredRoles.join(' or ')}${reminders}`;
}

/** Whether a flip or revoke gate has positive evidence, and each blocker when it has not. */
function gateEvidenceRows(g: PendingGate): [string, string][] {
  if (!g.evidence) return [];
  const verdict =
    g.evidence === 'positive'
      ? 'positive'
      : 'INSUFFICIENT: approving it accepts the risk on record, with the blockers as what was missing';
  return [['gate evidence', verdict], ...(g.blockers ?? []).map((b): [string, string] => ['blocker', b])];
}

const GATE_STATE: Record<GateEvidence['rows'][number]['state'], string> = {
  green: 'green',
  red: 'RED',
  unknown: 'unknown',
};

/** The rows a flip or revoke gate showed when it opened (the revoke gate's are the seed's rollback checks). */
function gateTable(g: GateEvidence): string {
  return (
    `${g.gate} gate evidence (computed ${time(g.computedAt)}): ${g.evidence}\n` +
    indent(
      table(
        ['SIGNAL', 'STATE', 'BLOCKING', 'EVIDENCE'],
        g.rows.map((r) => [r.signal, GATE_STATE[r.state], r.blocking ? 'yes' : 'no', r.evidence.join('; ')]),
      ),
    )
  );
}

/** Only `pass` is evidence: the mark makes the other three stand out. */
const VERDICT_MARK: Record<Verdict, string> = {
  pass: '✓ pass',
  fail: '✗ fail',
  inconclusive: '? inconclusive',
  error: '! error',
};

// Checks recorded before verdicts existed say only whether they passed.
const verdictOf = (c: CheckRecord): Verdict => c.verdict ?? (c.passed ? 'pass' : 'fail');

const checkDetail = (c: CheckRecord) =>
  c.reasons?.length && verdictOf(c) !== 'pass' ? `${c.detail} (${c.reasons.join('; ')})` : c.detail;

/** The command that answers a pending gate; ids are quoted for the shell. */
function nextStep(id: string, g: PendingGate): string {
  const q = shellQuote(id);
  switch (g.gate) {
    case 'flip':
    case 'revoke': {
      const risk = g.evidence === 'insufficient' ? ' --accept-risk <reason>' : '';
      return `rekey approve ${q} --gate ${g.gate}${risk}   (or: rekey reject ${q} --gate ${g.gate} --reason …)`;
    }
    case 'replacement-key':
      return `rekey hand-off ${q} --key-file <file>|-`;
    case 'revocation-confirmation':
      return `rekey confirm-revocation ${q}`;
    case 'replacement-key-revocation':
      return `rekey revoke-replacement-key ${q} --reason …   (once its traffic has drained)`;
  }
}

/** The answer to a gate decision or an operator message (202/200 `{id, accepted, phase}`). */
export function formatAck(what: string, a: Ack): string {
  return `${what}: ${a.id} is now ${a.phase}\n`;
}

/** The answer to `rekey hand-off`: what was stored, never the key. */
export function formatHandOff(r: HandOffResult): string {
  return (
    `replacement key stored for ${r.id}\n` +
    fields([
      ['version', r.version],
      ['fingerprint', r.fingerprint],
      ['phase', r.phase],
    ])
  );
}

const STANDARD_PROBLEM_MEMBERS = new Set([
  'type',
  'title',
  'status',
  'detail',
  'instance',
  'requestId',
  'errors',
]);

/** A refusal for stderr: status and title, the detail, each field error, extra members, the request id. */
export function formatProblem(p: Problem, hints: { tokenSet: boolean }): string {
  const lines = [`rekey: ${p.status} ${p.title}${p.detail ? `: ${p.detail}` : ''}`];
  for (const e of p.errors ?? []) lines.push(`  ${e.path || '(body)'}: ${e.message}`);
  for (const [k, v] of Object.entries(p)) {
    if (STANDARD_PROBLEM_MEMBERS.has(k) || v === undefined) continue;
    // An array of objects (a fleet's `problems`) as JSON each, not `[object Object]`.
    const text = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));
    lines.push(`  ${k}: ${Array.isArray(v) ? v.map(text).join(', ') : text(v)}`);
  }
  if (p.status === 401 && !hints.tokenSet) lines.push('  hint: REKEY_TOKEN is not set');
  if (p.requestId) lines.push(`  request id: ${p.requestId}`);
  return lines.join('\n') + '\n';
}

// The API's links are relative to its root, which may sit under a path prefix behind a proxy.
export const absolute = (apiUrl: string, path: string) => (path.startsWith('/') ? `${apiUrl}${path}` : path);

export const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9._:@/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
