import {
  CONTINUE_AS_NEW_AFTER_BYTES,
  CONTINUE_AS_NEW_AFTER_EVENTS,
  TIMELINE_LIMIT,
  appendBounded,
  continueAsNewDue,
} from '../../workflows/continuation';
import type { TimelineEntry } from '../../workflows/messages';

const entry = (event: string, i: number): TimelineEntry => ({
  at: new Date(i * 1000).toISOString(),
  phase: 'AWAITING_REVOKE_APPROVAL',
  event,
});

describe('continueAsNewDue', () => {
  const quiet = { historyLength: 10, historySize: 1000, continueAsNewSuggested: false };
  it('hands over when the server suggests it, or past our own bounds of events or bytes', () => {
    expect(continueAsNewDue(quiet)).toBe(false);
    expect(continueAsNewDue({ ...quiet, continueAsNewSuggested: true })).toBe(true);
    expect(continueAsNewDue({ ...quiet, historyLength: CONTINUE_AS_NEW_AFTER_EVENTS })).toBe(true);
    expect(continueAsNewDue({ ...quiet, historySize: CONTINUE_AS_NEW_AFTER_BYTES })).toBe(true);
    expect(continueAsNewDue({ ...quiet, historyLength: 50 }, 50)).toBe(true);
    expect(CONTINUE_AS_NEW_AFTER_EVENTS).toBeLessThan(10_240);
  });
});

describe('appendBounded', () => {
  it('keeps the head and drops repeating entries (reminders, refusals) first, counting them', () => {
    const timeline: TimelineEntry[] = [];
    const omitted: Record<string, number> = {};
    timeline.push(entry('started', 0));
    for (let i = 1; i < 30; i++) appendBounded(timeline, entry('hold-extended', i), omitted);
    for (let i = 0; i < 2000; i++)
      appendBounded(timeline, entry(i % 2 ? 'approval-timeout' : 'approve-refused', 100 + i), omitted);
    appendBounded(timeline, entry('revoke-approved', 5000), omitted);
    expect(timeline).toHaveLength(TIMELINE_LIMIT);
    expect(timeline[0]!.event).toBe('started');
    expect(timeline.filter((t) => t.event === 'hold-extended')).toHaveLength(29);
    expect(timeline.at(-1)!.event).toBe('revoke-approved');
    expect((omitted['approval-timeout'] ?? 0) + (omitted['approve-refused'] ?? 0)).toBe(
      2000 + 30 - TIMELINE_LIMIT + 1,
    );
    // What is left is in order.
    const times = timeline.map((t) => Date.parse(t.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('drops the oldest entries after the head when nothing repeats', () => {
    const timeline: TimelineEntry[] = [];
    const omitted: Record<string, number> = {};
    for (let i = 0; i < TIMELINE_LIMIT + 10; i++) appendBounded(timeline, entry(`e${i}`, i), omitted);
    expect(timeline).toHaveLength(TIMELINE_LIMIT);
    expect(timeline.slice(0, 25).map((t) => t.event)).toEqual(Array.from({ length: 25 }, (_, i) => `e${i}`));
    expect(timeline[25]!.event).toBe('e35');
    expect(Object.values(omitted).reduce((a, b) => a + b, 0)).toBe(10);
  });
});
