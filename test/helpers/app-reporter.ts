// The app's side of app-reported telemetry, for stack apps: counts each call by key fingerprint and
// POSTs one usage report per key every few seconds, back to back (each report starts where the last
// ended), as a real app's metrics exporter would. Fingerprints only: the key never leaves the app.

/** What a call was answered: an HTTP status, or 'network' when none came. */
type Answer = string;

interface Bucket {
  requests: number;
  auth: number;
  server: number;
  rateLimited: number;
  latencies: number[];
}

export interface UsageReporterOptions {
  consumer: string;
  instance: string;
  /** POSTs one report body; resolves to the HTTP status the API answered. */
  post(body: Record<string, unknown>): Promise<number>;
  /** The fingerprint the app holds now: reported, with zero requests, for an interval without calls. */
  currentFingerprint(): string;
  everyMs?: number;
  /** Reports for this many minutes before the app started, as if it had been running (the baseline). */
  backfillMinutes?: number;
  /** Requests per minute the backfilled reports claim. */
  backfillRate?: number;
}

export interface UsageReporter {
  record(fp: string, answer: Answer, latencyMs: number): void;
  readonly reports: { stored: number; refused: string[] };
  /** Stops reporting (the app may go on calling). */
  stop(): Promise<void>;
}

const empty = (): Bucket => ({ requests: 0, auth: 0, server: 0, rateLimited: 0, latencies: [] });
const p95 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.95) - 1)] ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startUsageReporter(opts: UsageReporterOptions): Promise<UsageReporter> {
  const reports = { stored: 0, refused: [] as string[] };
  let buckets = new Map<string, Bucket>();
  const send = async (fp: string, fromMs: number, toMs: number, b: Bucket) => {
    const body = {
      consumer: opts.consumer,
      instance: opts.instance,
      key_fingerprint: fp,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      requests: b.requests,
      errors: { auth: b.auth, server: b.server, rate_limited: b.rateLimited },
      ...(b.latencies.length ? { latency_p95_ms: p95(b.latencies) } : {}),
    };
    const status = await opts.post(body).catch(() => 0);
    if (status === 201) reports.stored++;
    else reports.refused.push(`${status} for ${body.from}..${body.to}`);
  };

  let lastTo = Date.now();
  const backfill = opts.backfillMinutes ?? 0;
  for (let m = backfill; m > 0; m -= 10) {
    const span = Math.min(10, m);
    const from = lastTo - m * 60_000;
    const requests = Math.round((opts.backfillRate ?? 0) * span);
    await send(opts.currentFingerprint(), from, from + span * 60_000, { ...empty(), requests });
  }

  let running = true;
  const loop = (async () => {
    while (running) {
      await sleep(opts.everyMs ?? 2000);
      if (!running) break;
      // Swapped synchronously: a call finishing while the reports are sent lands in the next interval.
      const now = Date.now();
      const taken = buckets;
      buckets = new Map();
      if (taken.size === 0) taken.set(opts.currentFingerprint(), empty());
      const from = lastTo;
      lastTo = now;
      await Promise.all([...taken].map(([fp, b]) => send(fp, from, now, b)));
    }
  })();

  return {
    reports,
    record(fp, answer, latencyMs) {
      const b = buckets.get(fp) ?? empty();
      b.requests++;
      if (answer === '401' || answer === '403') b.auth++;
      else if (answer === '429') b.rateLimited++;
      else if (answer === 'network' || answer.startsWith('5')) b.server++;
      b.latencies.push(latencyMs);
      buckets.set(fp, b);
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}
