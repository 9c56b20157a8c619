// Fault injection for the reference Key Vault: the next N authenticated requests answer 429 (throttled,
// with Retry-After) or 503 (service unavailable), as Key Vault does under load or during an incident, so
// that clients' retry and back-off paths can be driven deliberately. Faults queue up and are used in order.
import { KeyVaultError } from './errors';

/** One injected fault: `count` requests (optionally only of these methods) get this answer. */
export interface FaultSpec {
  status: 429 | 503;
  count: number;
  /** Sent as Retry-After (seconds); Key Vault sends it with its 429s. */
  retryAfterSeconds?: number;
  /** Only requests with one of these methods (e.g. ['PUT']); all methods when absent. */
  methods?: string[];
}

/** An injected fault's answer, thrown by the request hook and sent by the app's error handler. */
export class InjectedFault extends KeyVaultError {
  constructor(
    status: 429 | 503,
    readonly retryAfterSeconds?: number,
  ) {
    super(
      status,
      status === 429 ? 'Throttled' : 'ServiceUnavailable',
      status === 429
        ? 'Request was not processed because too many requests were received. (injected by the reference Key Vault)'
        : 'The service is temporarily unavailable. (injected by the reference Key Vault)',
    );
  }
}

/** The queue of faults still to be served. */
export class KeyVaultFaults {
  private readonly queue: FaultSpec[] = [];

  constructor(initial: FaultSpec[] = []) {
    for (const f of initial) this.inject(f);
  }

  /** Queues a fault for the next `count` matching requests. */
  inject(spec: FaultSpec): void {
    // Specs also come from JSON and env vars, where the type does not hold.
    const status: unknown = spec.status;
    if (status !== 429 && status !== 503)
      throw new Error(`fault status must be 429 or 503, got ${String(status)}`);
    if (!Number.isInteger(spec.count) || spec.count < 1)
      throw new Error(`fault count must be 1 or more, got ${spec.count}`);
    if (spec.retryAfterSeconds !== undefined && !(spec.retryAfterSeconds >= 0))
      throw new Error(`retryAfterSeconds must be 0 or more, got ${spec.retryAfterSeconds}`);
    this.queue.push({
      ...spec,
      ...(spec.methods ? { methods: spec.methods.map((m) => m.toUpperCase()) } : {}),
    });
  }

  /** Drops every queued fault. */
  clear(): void {
    this.queue.length = 0;
  }

  /** How many faulty answers are still queued. */
  remaining(): number {
    return this.queue.reduce((n, f) => n + f.count, 0);
  }

  /** The fault this request gets, if any (consumes one). */
  take(method: string): InjectedFault | undefined {
    const i = this.queue.findIndex((f) => !f.methods || f.methods.includes(method.toUpperCase()));
    const f = this.queue[i];
    if (!f) return undefined;
    if (--f.count === 0) this.queue.splice(i, 1);
    return new InjectedFault(f.status, f.retryAfterSeconds);
  }
}

/**
 * Parses `REKEY_KEYVAULT_FAULTS`: comma-separated `<status>x<count>[@<retry-after seconds>][:<METHOD>]`,
 * e.g. `429x3@2,503x1:PUT`.
 */
export function parseFaults(raw: string | undefined): FaultSpec[] {
  if (!raw?.trim()) return [];
  return raw.split(',').map((part) => {
    const m = /^\s*(429|503)x(\d+)(?:@(\d+))?(?::([A-Za-z]+))?\s*$/.exec(part);
    if (!m)
      throw new Error(
        `REKEY_KEYVAULT_FAULTS: cannot read "${part}"; expected <429|503>x<count>[@<retry-after s>][:<METHOD>], e.g. 429x3@2,503x1:PUT`,
      );
    return {
      status: Number(m[1]) as 429 | 503,
      count: Number(m[2]),
      ...(m[3] !== undefined ? { retryAfterSeconds: Number(m[3]) } : {}),
      ...(m[4] !== undefined ? { methods: [m[4].toUpperCase()] } : {}),
    };
  });
}
