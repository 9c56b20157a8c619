// Failed authentications, counted per client address and per presented-credential fingerprint in fixed
// windows, in bounded memory. Consulted only AFTER a credential has failed to verify: a valid one is
// served however many failures its address or anyone else has, so nobody can lock approvers out.
import { clientKey } from './client-address';

export interface FailureLimits {
  /** Failures a client (or a fingerprint) may have in a window before they are answered 429. */
  maxFailures: number;
  windowMs: number;
  /** Clients and fingerprints each tracked at most; the least recently failing are forgotten first. */
  maxTracked: number;
}

export const DEFAULT_FAILURE_LIMITS: FailureLimits = {
  maxFailures: 20,
  windowMs: 60_000,
  maxTracked: 10_000,
};

/** Counts in fixed windows under a size cap; Map order is recency order (re-set on every failure). */
class WindowCounts {
  private readonly entries = new Map<string, { count: number; since: number }>();

  constructor(private readonly limits: FailureLimits) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds a failure; returns the count in the current window and when that window ends. */
  add(key: string, now: number): { count: number; endsAt: number } {
    const prior = this.entries.get(key);
    const fresh = !prior || now - prior.since >= this.limits.windowMs;
    const entry = fresh ? { count: 1, since: now } : { count: prior.count + 1, since: prior.since };
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.limits.maxTracked) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    return { count: entry.count, endsAt: entry.since + this.limits.windowMs };
  }
}

/** Failures per client and per fingerprint; says how long a failing caller should wait. */
export class FailureCounter {
  private readonly clients: WindowCounts;
  private readonly fingerprints: WindowCounts;

  constructor(private readonly limits: FailureLimits = DEFAULT_FAILURE_LIMITS) {
    this.clients = new WindowCounts(limits);
    this.fingerprints = new WindowCounts(limits);
  }

  /** How many clients and fingerprints are tracked now (each at most maxTracked). */
  get tracked(): { clients: number; fingerprints: number } {
    return { clients: this.clients.size, fingerprints: this.fingerprints.size };
  }

  /**
   * Records a failure from a client with a credential fingerprint (none when nothing was presented);
   * returns the seconds to wait when either is past the limit, else 0.
   */
  record(client: string, fingerprint: string | undefined, now: number): number {
    const counts = [this.clients.add(clientKey(client), now)];
    if (fingerprint) counts.push(this.fingerprints.add(fingerprint, now));
    const over = counts.filter((c) => c.count > this.limits.maxFailures);
    if (over.length === 0) return 0;
    return Math.max(1, Math.ceil((Math.max(...over.map((c) => c.endsAt)) - now) / 1000));
  }
}
