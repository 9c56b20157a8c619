import type { ScheduleView } from '../../cli/client';
import { formatSchedule, formatSchedules, formatSyncReport } from '../../cli/schedule-format';

const view: ScheduleView = {
  scheduleId: 'rekey-schedule:production:router-key',
  kind: 'rotation',
  environment: 'production',
  credential: 'router-key',
  paused: true,
  note: 'paused by carol@example.com: change freeze',
  workflowType: 'scheduledRotation',
  nextActionTimes: ['2026-12-03T02:10:00.000Z'],
  recentActions: [
    {
      scheduledAt: '2026-11-03T02:00:00.000Z',
      takenAt: '2026-11-03T02:07:12.000Z',
      workflowId: 'rekey-schedule:production:router-key-2026-11-03T02:00:00Z',
    },
  ],
  spec: { every: ['2592000s'], calendars: 0, jitterSeconds: 1800 },
  policies: { overlap: 'SKIP', catchupWindowSeconds: 3600, pauseOnFailure: true },
};

describe('rekey schedules output', () => {
  it('lists each schedule with its state, next and last fire', () => {
    const text = formatSchedules([view]);
    expect(text.split('\n')[0]).toMatch(/^SCHEDULE\s+STATE\s+NEXT\s+LAST FIRED$/);
    expect(text).toContain(
      'rekey-schedule:production:router-key  paused  2026-12-03T02:10:00.000Z  2026-11-03T02:07:12.000Z',
    );
    expect(formatSchedules([])).toMatch(/no rekey schedules/);
  });

  it('shows one schedule: who paused it and why, when it fires, its policies and last fires', () => {
    const text = formatSchedule(view);
    expect(text).toContain('state:      paused — paused by carol@example.com: change freeze');
    expect(text).toContain('when:       every 2592000s, jitter up to 1800 s');
    expect(text).toContain('policies:   overlap SKIP, catch-up 3600 s, pause on failure yes');
    expect(text).toContain('→ rekey-schedule:production:router-key-2026-11-03T02:00:00Z');
  });

  it('says what a sync did, failures by name', () => {
    expect(
      formatSyncReport({
        created: ['a'],
        updated: [],
        deleted: ['b'],
        failed: [{ scheduleId: 'c', error: 'rotation_policy.owner: required' }],
      }),
    ).toBe('created: a\nupdated: none\ndeleted: b\nFAILED:  c: rotation_policy.owner: required');
  });
});
