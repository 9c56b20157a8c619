import { observing, withUnobservable } from '../../activities/telemetry';
import { attributionFrom } from '../../activities/telemetry/summaries';
import { SIGNALS } from '../../domain/activity-io';

describe('telemetry capabilities', () => {
  it('lists every signal, observable exactly where the adapter says so', () => {
    const caps = observing(['spend']);
    expect(Object.keys(caps).sort()).toEqual([...SIGNALS].sort());
    expect(SIGNALS.filter((s) => caps[s])).toEqual(['spend']);
  });

  it("switches off the registry's unobservable signals and never switches one on", () => {
    const source = { name: 'litellm-spend-logs', capabilities: observing(['requests', 'latency', 'spend']) };
    const seen = withUnobservable(source, ['latency', 'authErrors']);
    expect(seen.name).toBe('litellm-spend-logs');
    expect(SIGNALS.filter((s) => seen.capabilities[s])).toEqual(['requests', 'spend']);
    expect(withUnobservable(source)).toEqual(source);
    // The adapter's own description is left as it was.
    expect(source.capabilities.latency).toBe(true);
  });
});

describe('usage attribution', () => {
  it('is inconclusive, never passed, while the key has no usage recorded', () => {
    expect(attributionFrom([], 'platform-ai')).toEqual({
      verdict: 'inconclusive',
      passed: false,
      expectedOwner: 'platform-ai',
      anomalies: [],
    });
    expect(attributionFrom([{ group: 'platform-ai', count: 0 }], 'platform-ai').verdict).toBe('inconclusive');
  });

  it('passes when all usage rolls up to the expected owner and fails naming every other team', () => {
    expect(attributionFrom([{ group: 'platform-ai', count: 4 }], 'platform-ai')).toEqual({
      verdict: 'pass',
      passed: true,
      owner: 'platform-ai',
      team: 'platform-ai',
      expectedOwner: 'platform-ai',
      anomalies: [],
    });
    const mixed = attributionFrom(
      [
        { group: 'platform-ai', count: 1 },
        { group: 'data-science', count: 3 },
        { group: '', count: 1 },
      ],
      'platform-ai',
    );
    expect(mixed).toMatchObject({ verdict: 'fail', passed: false, owner: 'data-science' });
    expect(mixed.anomalies).toEqual([
      '3 request(s) attributed to team "data-science"',
      '1 request(s) attributed to team "none"',
    ]);
  });
});
