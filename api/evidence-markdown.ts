// The evidence bundle as Markdown, for pasting into the change ticket. It renders the rotation's
// recorded status (references, fingerprints, figures — never key values) in the order of the seed's
// "Audit Evidence" table.
import type { RotationStatus } from '../workflows/messages';

const cell = (v: string | number | boolean | null | undefined) =>
  v === undefined || v === null || v === '' ? '—' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (head: string[], rows: (string | number | boolean | null | undefined)[][]) =>
  rows.length
    ? [
        `| ${head.join(' | ')} |`,
        `|${head.map(() => '---').join('|')}|`,
        ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
      ].join('\n')
    : '_none_';

/** Markdown for a stored bundle; `sha256`/`previousSha256` tie it into the evidence chain. */
export function renderEvidenceMarkdown(
  s: RotationStatus,
  record: { sha256: string; previousSha256: string | null },
): string {
  const v = s.versions;
  const version = (
    label: string,
    ref?: { name: string; version: string; fingerprint: string; enabled: boolean; createdAt?: string },
  ) =>
    ref
      ? [label, ref.name, ref.version, ref.fingerprint, ref.enabled ? 'enabled' : 'disabled', ref.createdAt]
      : undefined;
  return [
    `# Key rotation evidence — ${s.rotationId}`,
    '',
    `Bundle SHA-256 \`${record.sha256}\`; previous bundle \`${record.previousSha256 ?? 'none (first in chain)'}\`.`,
    '',
    '## Change ticket',
    table(
      ['ticket', 'credential', 'environment', 'mode', 'requested by', 'final phase', 'outcome'],
      [[s.changeTicket, s.credential, s.environment, s.mode, s.requestedBy, s.phase, s.outcome]],
    ),
    '',
    '### Approvals',
    table(
      ['gate', 'decision', 'by', 'at', 'comment', 'break-glass reason'],
      s.approvals.map((a) => [a.gate, a.decision, a.principal, a.at, a.comment, a.breakGlassReason]),
    ),
    ...(s.acceptedRisk ? ['', `**Accepted risk:** ${s.acceptedRisk}`] : []),
    ...(s.rollbackCause ? ['', `**Rollback cause:** ${s.rollbackCause}`] : []),
    ...(s.failure ? ['', `**Failure:** in ${s.failure.phase}: ${s.failure.reason}`] : []),
    '',
    '## Secret versions (no values)',
    table(
      ['role', 'secret', 'version', 'fingerprint', 'state', 'created'],
      [
        version('old', v.old),
        version('pending', v.pending),
        version('current', v.current),
        version('restored', v.restored),
        version('retired', v.retired),
      ].filter((r): r is NonNullable<typeof r> => Boolean(r)),
    ),
    '',
    '## Gateway canary',
    table(
      ['route', 'request id', 'status', 'model', 'latency ms', 'tokens', 'ok'],
      s.canary.map((c) => [
        c.route,
        c.requestId,
        c.status,
        c.model,
        c.latencyMs,
        c.tokens,
        c.ok ? 'yes' : `no (${c.reason ?? '?'})`,
      ]),
    ),
    '',
    '## Negative test',
    s.negativeTest
      ? table(
          ['at', 'old key status', 'old key refused', 'new key status', 'attempts'],
          [
            [
              s.negativeTest.at,
              s.negativeTest.oldKeyStatus,
              s.negativeTest.oldKeyRejected ? 'yes' : 'NO',
              s.negativeTest.newKeyStatus,
              s.negativeTest.attempts,
            ],
          ],
        )
      : '_not run_',
    '',
    '## Exceptions (consumers still on the old key)',
    table(
      ['consumer', 'old-key requests'],
      s.exceptions.map((e) => [e.consumer, e.requests]),
    ),
    '',
    '## Post-change review',
    s.hold
      ? table(
          ['checks', 'new-key requests', 'auth errors', '429', '5xx', 'old-key requests'],
          [
            [
              s.hold.totals.checks,
              s.hold.totals.newKeyRequests,
              s.hold.totals.authErrors,
              s.hold.totals.rateLimited,
              s.hold.totals.serverErrors,
              s.hold.totals.oldKeyRequests,
            ],
          ],
        )
      : '_no hold_',
    '',
    '## Timeline',
    table(
      ['at', 'phase', 'event', 'by', 'detail'],
      s.timeline.map((t) => [t.at, t.phase, t.event, t.by, t.detail]),
    ),
    '',
  ].join('\n');
}
