// How `rekey schedules` prints schedules for a person (--json prints the API's answer instead).
import type { ScheduleSyncReport, ScheduleView } from './client';

/** One line per schedule: id, state, next fire, last fire. */
export function formatSchedules(schedules: ScheduleView[]): string {
  if (schedules.length === 0) return 'no rekey schedules (the registry has no schedule: or expiry: entries)';
  const rows = schedules.map((s) => [
    s.scheduleId,
    s.paused ? 'paused' : 'active',
    s.nextActionTimes[0] ?? '-',
    s.recentActions.at(-1)?.takenAt ?? '-',
  ]);
  const head = ['SCHEDULE', 'STATE', 'NEXT', 'LAST FIRED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One schedule in full. */
export function formatSchedule(s: ScheduleView): string {
  const lines = [
    `schedule:   ${s.scheduleId} (${s.kind}, starts ${s.workflowType ?? '?'})`,
    `state:      ${s.paused ? 'paused' : 'active'}${s.note ? ` — ${s.note}` : ''}`,
  ];
  if (s.spec) {
    const every = s.spec.every.length ? `every ${s.spec.every.join(', ')}` : '';
    const cron = s.spec.calendars ? `${s.spec.calendars} calendar spec(s) (cron)` : '';
    const jitter = s.spec.jitterSeconds ? `, jitter up to ${s.spec.jitterSeconds} s` : '';
    lines.push(`when:       ${[every, cron].filter(Boolean).join('; ')}${jitter}`);
  }
  if (s.policies) {
    lines.push(
      `policies:   overlap ${s.policies.overlap}, catch-up ${s.policies.catchupWindowSeconds} s, ` +
        `pause on failure ${s.policies.pauseOnFailure ? 'yes' : 'no'}`,
    );
  }
  lines.push(`next:       ${s.nextActionTimes.slice(0, 3).join(', ') || '-'}`);
  for (const a of s.recentActions.slice(-5)) {
    lines.push(`fired:      ${a.takenAt} (for ${a.scheduledAt}) → ${a.workflowId}`);
  }
  return lines.join('\n');
}

/** What a sync did. */
export function formatSyncReport(r: ScheduleSyncReport): string {
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
  return [
    `created: ${list(r.created)}`,
    `updated: ${list(r.updated)}`,
    `deleted: ${list(r.deleted)}`,
    ...r.failed.map((f) => `FAILED:  ${f.scheduleId}: ${f.error}`),
  ].join('\n');
}
