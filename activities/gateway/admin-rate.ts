// A rate limit on gateway admin calls, per gateway origin, for the whole worker process: a fleet of
// hundreds of rotations must not hammer one gateway's admin API (LiteLLM's /key/* routes share the
// proxy's database; OpenRouter and Portkey rate-limit management keys). GCRA (a token bucket without a
// timer): calls are spaced 1/rate apart, with up to `burst` at once after a quiet spell. A call waits
// its turn in the activity, well inside its timeout at the rates a worker is set to.

export interface AdminRateLimiter {
  /** Waits until a call to this origin may go. */
  take(origin: string): Promise<void>;
  /** Calls taken per origin since the start (what the bench reports as calls per second). */
  taken(origin: string): number;
}

export interface AdminRateOptions {
  /** Calls per second per origin; 0 or less: no limit. */
  perSecond: number;
  /** Calls allowed at once after a quiet spell (default: one second's worth, at least 1). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export function createAdminRateLimiter(opts: AdminRateOptions): AdminRateLimiter {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const interval = opts.perSecond > 0 ? 1000 / opts.perSecond : 0;
  const burst = Math.max(1, Math.floor(opts.burst ?? opts.perSecond));
  /** Theoretical arrival time of the next call, per origin. */
  const tat = new Map<string, number>();
  const counts = new Map<string, number>();
  return {
    async take(origin) {
      counts.set(origin, (counts.get(origin) ?? 0) + 1);
      if (interval === 0) return;
      const t = now();
      const next = Math.max(tat.get(origin) ?? t, t);
      const allowedAt = next - (burst - 1) * interval;
      tat.set(origin, next + interval);
      if (allowedAt > t) await sleep(allowedAt - t);
    },
    taken: (origin) => counts.get(origin) ?? 0,
  };
}
