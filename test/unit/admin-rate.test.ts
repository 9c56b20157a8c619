// activities/gateway/admin-rate.ts: admin calls spaced per gateway origin, with a burst after quiet.
import { createAdminRateLimiter } from '../../activities/gateway/admin-rate';

function clock() {
  let t = 1_000_000;
  const waits: number[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => (t += ms),
    waits,
  };
}

describe('admin call rate limit', () => {
  it('lets a burst through, then spaces calls 1/rate apart, per origin', async () => {
    const c = clock();
    const limiter = createAdminRateLimiter({ perSecond: 10, burst: 3, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 5; i++) await limiter.take('https://gw.example.com');
    // Three at once, then one every 100 ms.
    expect(c.waits).toEqual([100, 100]);
    // Another gateway has its own budget.
    await limiter.take('https://other.example.com');
    expect(c.waits).toHaveLength(2);
    expect(limiter.taken('https://gw.example.com')).toBe(5);
  });

  it('refills after a quiet spell, but never past the burst', async () => {
    const c = clock();
    const limiter = createAdminRateLimiter({ perSecond: 2, burst: 2, now: c.now, sleep: c.sleep });
    await limiter.take('o');
    await limiter.take('o');
    c.advance(60_000);
    await limiter.take('o');
    await limiter.take('o');
    expect(c.waits).toEqual([]);
    await limiter.take('o');
    expect(c.waits).toEqual([500]);
  });

  it('does not wait without a rate, but still counts', async () => {
    const c = clock();
    const limiter = createAdminRateLimiter({ perSecond: 0, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 50; i++) await limiter.take('o');
    expect(c.waits).toEqual([]);
    expect(limiter.taken('o')).toBe(50);
  });
});
