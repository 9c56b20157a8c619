// How `rekey fleet` prints fleets for a person (--json prints the API's answer instead).
import { fleetApprovalReadiness, formatSelector, isFinished, MEMBER_STATES } from '../domain/fleet';
import { PHASES } from '../workflows/messages';
import type { FleetApprovalRecord, FleetListRow, FleetStartResult, FleetView } from './client';
import { absolute, fields, indent, shellQuote, table, time } from './format';

const NONE = '-';

/** Phases in the order a member reaches them: not started, the rotation's own phases, skipped. */
const PHASE_ORDER: readonly string[] = ['PENDING', ...PHASES, 'SKIPPED'];
const phaseRank = (p: string) => {
  const i = PHASE_ORDER.indexOf(p);
  return i < 0 ? PHASE_ORDER.length : i;
};

/** The answer to `rekey fleet start`: the fleet id first, alone on its line, so `head -1` gets it. */
export function formatFleetStart(r: FleetStartResult, apiUrl: string): string {
  return (
    `${r.id}\n` +
    fields([
      ['result', `started, ${r.members.length} member rotation(s)`],
      ['workflow', `${r.workflowId} (run ${r.runId})`],
      ['status', absolute(apiUrl, r.statusUrl)],
      ['temporal', r.temporalUiUrl],
    ]) +
    (r.members.length
      ? '\nmembers\n' +
        indent(
          table(
            ['ROTATION', 'WORKFLOW'],
            r.members.map((m) => [m.rotationId, m.workflowId]),
          ),
        )
      : '')
  );
}

/** The answer to `rekey fleet list`. */
export function formatFleets(fleets: FleetListRow[]): string {
  if (fleets.length === 0) return 'no fleets\n';
  return table(
    ['FLEET', 'STATUS', 'STARTED'],
    fleets.map((f) => [f.id, f.status, time(f.startedAt)]),
  );
}

/** `2 running, 1 completed, …`: every member state, in lifecycle order, zeros included. */
export function formatStateCounts(v: Pick<FleetView, 'counts'>): string {
  return MEMBER_STATES.map((s) => `${v.counts.byState[s] ?? 0} ${s}`).join(', ');
}

/** `1 PENDING, 2 AWAITING_REVOKE_APPROVAL, …`: the phases members are in, in the order they reach them. */
export function formatPhaseCounts(v: Pick<FleetView, 'counts'>): string {
  const entries = Object.entries(v.counts.byPhase).filter(([, n]) => n > 0);
  if (entries.length === 0) return NONE;
  return entries
    .sort(([a], [b]) => phaseRank(a) - phaseRank(b) || a.localeCompare(b))
    .map(([p, n]) => `${n} ${p}`)
    .join(', ');
}

/** The answer to `rekey fleet status`: the fleet, its counts, one line per member, the approvals. */
export function formatFleetStatus(v: FleetView): string {
  const approval =
    v.approval === 'fleet'
      ? 'fleet (one approval per gate for every member: rekey fleet approve)'
      : 'per-rotation (each member approved on its own: rekey approve <rotation>)';
  const rows: [string, string][] = [
    ['status', `${v.status}${v.status === 'RUNNING' && v.finished ? ', every member finished' : ''}`],
    ['requested', `by ${v.requestedBy}: ${v.reason}`],
    ['selector', formatSelector(v.selector) || NONE],
    ['approval', approval],
    [
      'limits',
      `${v.concurrency} at once, ${v.startsPerMinute ? `${v.startsPerMinute} starts a minute` : 'no start spacing'}`,
    ],
    ['started', time(v.startedAt)],
    ['temporal', v.temporalUiUrl],
    ['members', `${v.counts.total}: ${formatStateCounts(v)}`],
    ['phases', formatPhaseCounts(v)],
  ];
  const next = nextStep(v);
  if (next) rows.push(['next', next]);

  let out = `${v.id}\n${fields(rows)}`;
  if (v.members.length) {
    out +=
      '\nmembers\n' +
      indent(
        table(
          ['ROTATION', 'STATE', 'PHASE', 'WHY'],
          v.members.map((m) => [m.rotationId, m.state, m.phase ?? NONE, m.why ?? '']),
        ),
      );
  }
  if (v.approvals.length) out += `\napprovals\n${indent(approvalsTable(v.approvals))}`;
  return out;
}

/** The answer to `rekey fleet approve`: what each member answered. */
export function formatFleetApproval(id: string, r: FleetApprovalRecord): string {
  const lines = [
    `approved the ${r.gate} gate of fleet ${id}: ${r.accepted.length} member(s) accepted, ${r.refused.length} refused`,
  ];
  for (const a of r.accepted) lines.push(`  accepted  ${a}`);
  for (const f of r.refused) lines.push(`  REFUSED   ${f.rotationId}: ${f.why}`);
  return lines.join('\n') + '\n';
}

function approvalsTable(approvals: FleetApprovalRecord[]): string {
  const head = table(
    ['AT', 'GATE', 'BY', 'ACCEPTED', 'REFUSED', 'COMMENT'],
    approvals.map((a) => [
      time(a.at),
      a.gate,
      a.by,
      String(a.accepted.length),
      String(a.refused.length),
      a.comment ?? '',
    ]),
  );
  const refusals = approvals.flatMap((a) =>
    a.refused.map((f) => `  refused at ${a.gate}: ${f.rotationId}: ${f.why}\n`),
  );
  return head + refusals.join('');
}

/** What to run next, when a person is what the fleet waits for. */
function nextStep(v: FleetView): string | undefined {
  if (v.status !== 'RUNNING' || v.finished) return undefined;
  const q = shellQuote(v.id);
  if (v.approval === 'fleet') {
    for (const gate of ['flip', 'revoke'] as const) {
      if (fleetApprovalReadiness(v.members, gate).ready) return `rekey fleet approve ${q} --gate ${gate}`;
    }
    return undefined;
  }
  const waiting = v.members.filter(
    (m) => !isFinished(m) && (m.phase === 'AWAITING_FLIP_APPROVAL' || m.phase === 'AWAITING_REVOKE_APPROVAL'),
  );
  if (waiting.length === 0) return undefined;
  return `${waiting.length} member(s) wait at a gate: rekey approve <rotation> --gate flip|revoke`;
}
