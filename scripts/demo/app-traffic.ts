// An app-like consumer of the rotated key: it re-reads the stable secret path (newest version, the way
// an app with dynamic reload does) and calls the gateway through the official `openai` SDK as
// `user: customer-chat-api`. It counts answers per key fingerprint and reports when the key it reads
// changes; key values stay in memory and are never printed.
import OpenAI from 'openai';
import { fingerprint } from '../../domain/fingerprint';

/** What the app saw with one key. */
export interface KeyStats {
  fingerprint: string;
  /** Secret versions that served this key (a rollback writes the old value as a new version). */
  versions: string[];
  ok: number;
  errors: Record<string, number>;
  lastOkAt?: number;
  /** When a call with this key last ended, whatever the gateway answered. */
  lastAt?: number;
}

export interface AppTrafficOptions {
  /** Reads the stable secret the way this app does (its backend's current version); undefined when unreadable. */
  read: () => Promise<{ value: string; version: string } | undefined>;
  gatewayBaseUrl: string;
  app: string;
  /** Concurrent request loops, each pausing `pauseMs` between calls. */
  loops?: number;
  pauseMs?: number;
  refreshMs?: number;
  /** Told when the key read from the stable path changes (fingerprint and version only). */
  onKeyChange?: (fp: string, version: string, previous: string | undefined) => void;
}

/** The app: start() begins reading and calling, stop() ends both and resolves when they are idle. */
export class AppTraffic {
  private current?: { value: string; fp: string; version: string; client: OpenAI };
  private readonly stats = new Map<string, KeyStats>();
  /** Every key value the app read: the demo scans its output and logs for them. */
  readonly valuesSeen = new Set<string>();
  private readonly clients = new Map<string, OpenAI>();
  private running = false;
  private tasks: Promise<void>[] = [];
  /** When start() began calling: the rate of the calls since. */
  startedAt?: number;

  constructor(private readonly opts: AppTrafficOptions) {}

  /** Reads the key once (so the first call has one) and starts the refresh and request loops. */
  async start(): Promise<void> {
    await this.refresh();
    this.running = true;
    this.startedAt = Date.now();
    this.tasks = [this.refreshLoop()];
    for (let i = 0; i < (this.opts.loops ?? 2); i++) this.tasks.push(this.requestLoop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled(this.tasks);
  }

  /** The fingerprint of the key the app uses now. */
  get fingerprint(): string | undefined {
    return this.current?.fp;
  }

  /** Stats of one key, or of all. */
  statsOf(fp: string): KeyStats | undefined {
    return this.stats.get(fp);
  }
  allStats(): KeyStats[] {
    return [...this.stats.values()];
  }

  /** Calls per second since start(), over every key. */
  rate(): number {
    const calls = this.allStats().reduce(
      (n, s) => n + s.ok + Object.values(s.errors).reduce((a, b) => a + b, 0),
      0,
    );
    return this.startedAt ? calls / Math.max((Date.now() - this.startedAt) / 1000, 1) : 0;
  }

  /**
   * One call outside the app's counts with a key the app read earlier (by fingerprint), as `user`:
   * the HTTP status the gateway answers, e.g. 401 once that key is revoked.
   */
  async statusWith(fp: string, user: string): Promise<number | 'network'> {
    const client = this.clients.get(fp);
    if (!client) throw new Error(`the app never read ${fp}`);
    try {
      await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'ping' }],
        user,
      });
      return 200;
    } catch (err) {
      const status: unknown = err instanceof OpenAI.APIError ? err.status : undefined;
      return typeof status === 'number' ? status : 'network';
    }
  }

  private async refresh(): Promise<void> {
    const read = await this.opts.read();
    if (!read?.value) return;
    const { value, version } = read;
    if (value === this.current?.value) return;
    const fp = fingerprint(value);
    const previous = this.current?.fp;
    this.valuesSeen.add(value);
    // No SDK retries: each failure the gateway answers shows up in the app's counts.
    const client =
      this.clients.get(fp) ??
      new OpenAI({ apiKey: value, baseURL: this.opts.gatewayBaseUrl, maxRetries: 0, timeout: 10_000 });
    this.clients.set(fp, client);
    this.current = { value, fp, version, client };
    const stats = this.stats.get(fp) ?? { fingerprint: fp, versions: [], ok: 0, errors: {} };
    if (!stats.versions.includes(version)) stats.versions.push(version);
    this.stats.set(fp, stats);
    this.opts.onKeyChange?.(fp, version, previous);
  }

  private async refreshLoop(): Promise<void> {
    while (this.running) {
      await sleep(this.opts.refreshMs ?? 1000);
      // A vault hiccup keeps the key the app already has, as a real app would.
      await this.refresh().catch(() => undefined);
    }
  }

  private async requestLoop(): Promise<void> {
    while (this.running) {
      const key = this.current!;
      const stats = this.stats.get(key.fp)!;
      try {
        await key.client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [
            { role: 'system', content: 'You answer customer questions about their orders.' },
            { role: 'user', content: 'Where is order 4711?' },
          ],
          user: this.opts.app,
        });
        stats.ok += 1;
        stats.lastOkAt = stats.lastAt = Date.now();
      } catch (err) {
        const status = err instanceof OpenAI.APIError && err.status ? String(err.status) : 'network';
        stats.errors[status] = (stats.errors[status] ?? 0) + 1;
        stats.lastAt = Date.now();
      }
      await sleep(this.opts.pauseMs ?? 250);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "123 ok, 4×500" for a key's stats. */
export function describeStats(s: KeyStats): string {
  const errors = Object.entries(s.errors).map(([status, n]) => `${n}×${status}`);
  return [`${s.ok} ok`, ...errors].join(', ');
}
