// Which registered credential a leaked token is: an in-memory index from the SHA-256 of each current and
// recent version of every registered credential's stable secret to that credential. It holds hashes
// only, never values (each value is read in-process, hashed and dropped). Cost is bounded: at most
// `maxVersions` versions per credential no older than `maxAgeDays`, a rebuild at most every
// `minRebuildMs` (a miss rebuilds, so a key rotated a minute ago still matches), and every `ttlMs`.
import type { CredentialRef } from '../../domain/activity-io';
import type { CredentialRegistry, SecretStore } from '../../domain/ports';
import { sha256Hex } from '../../domain/fingerprint';

export interface IndexMatch {
  credential: string;
  environment: string;
  versionStage: 'current' | 'previous';
}

export interface FingerprintIndexOptions {
  maxVersions?: number;
  maxAgeDays?: number;
  ttlMs?: number;
  minRebuildMs?: number;
  /** How many credentials are read at once. */
  concurrency?: number;
  now?: () => number;
}

export class FingerprintIndex {
  private entries = new Map<string, IndexMatch>();
  private builtAt = Number.NEGATIVE_INFINITY;
  private building: Promise<void> | undefined;
  private readonly o: Required<FingerprintIndexOptions>;

  constructor(
    private readonly registry: Pick<CredentialRegistry, 'automations' | 'lookup'>,
    private readonly storeFor: (ref: CredentialRef) => SecretStore,
    opts: FingerprintIndexOptions = {},
  ) {
    this.o = {
      maxVersions: opts.maxVersions ?? 5,
      maxAgeDays: opts.maxAgeDays ?? 90,
      ttlMs: opts.ttlMs ?? 10 * 60_000,
      minRebuildMs: opts.minRebuildMs ?? 5_000,
      concurrency: opts.concurrency ?? 8,
      now: opts.now ?? Date.now,
    };
  }

  /** How many version hashes the index holds. */
  get size(): number {
    return this.entries.size;
  }

  /** The credential whose current or recent version has this SHA-256 hex, if any. */
  async match(sha256: string): Promise<IndexMatch | undefined> {
    const key = sha256.toLowerCase();
    if (this.o.now() - this.builtAt > this.o.ttlMs) await this.rebuild();
    const hit = this.entries.get(key);
    if (hit || this.o.now() - this.builtAt < this.o.minRebuildMs) return hit;
    await this.rebuild();
    return this.entries.get(key);
  }

  /** Rebuilds the index (one rebuild at a time; callers during one share it). */
  rebuild(): Promise<void> {
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(): Promise<void> {
    const credentials = this.registry.automations?.() ?? [];
    const next = new Map<string, IndexMatch>();
    for (let i = 0; i < credentials.length; i += this.o.concurrency) {
      const batch = credentials.slice(i, i + this.o.concurrency);
      await Promise.all(
        batch.map(async (c) => {
          const ref = this.registry.lookup(c.name, c.environment);
          if (!ref) return;
          for (const [hash, versionStage] of await this.versionHashes(ref)) {
            next.set(hash, { credential: c.name, environment: c.environment, versionStage });
          }
        }),
      );
    }
    this.entries = next;
    this.builtAt = this.o.now();
  }

  /** SHA-256 of the credential's current and recent stable versions; a store that fails gives none. */
  private async versionHashes(ref: CredentialRef): Promise<[string, IndexMatch['versionStage']][]> {
    const store = this.storeFor(ref);
    const out: [string, IndexMatch['versionStage']][] = [];
    try {
      const current = await store.readCurrent();
      out.push([sha256Hex(await store.resolve(current)), 'current']);
      const oldest = this.o.now() - this.o.maxAgeDays * 86_400_000;
      const previous = (await store.history())
        .filter((v) => v.name === current.name && v.version !== current.version)
        .filter((v) => !v.createdAt || Date.parse(v.createdAt) >= oldest)
        .reverse()
        .slice(0, this.o.maxVersions - 1);
      for (const v of previous) {
        // A disabled or purged version may not be readable: it cannot be matched, the rest still can.
        const value = await store.resolve(v).catch(() => undefined);
        if (value !== undefined) out.push([sha256Hex(value), 'previous']);
      }
    } catch {
      return out;
    }
    return out;
  }
}
