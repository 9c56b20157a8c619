// The default evidence store: one JSON document per rotation in a folder, chained by SHA-256. Each
// document names the hash of the one written before it, so removing or editing a bundle breaks the
// chain that `verify` walks. Writes are idempotent per rotation: a retried activity gets the record of
// the bundle it already wrote instead of a second link.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { appendFile, mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EvidenceReader, EvidenceStore, StoredEvidence } from '../../domain/ports';
import type { EvidenceRecord } from '../../domain/activity-io';

/** One link of the chain, as `chain.jsonl` keeps it. */
interface ChainEntry {
  rotationId: string;
  file: string;
  sha256: string;
  previousSha256: string | null;
  writtenAt: string;
}

/** What is stored for a rotation: the bundle and the hash of the bundle before it. */
export type { EvidenceReader, StoredEvidence } from '../../domain/ports';

const LOCK_WAIT_MS = 10_000;
/** Far longer than any write takes: a lock this old belongs to a writer that died holding it. */
const LOCK_STALE_MS = 60_000;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** Rotation ids hold `:`, which some filesystems refuse; the file name keeps them readable. */
const fileFor = (rotationId: string) =>
  `${rotationId.replace(/[^A-Za-z0-9._-]/g, '_')}.${sha256(rotationId).slice(0, 8)}.json`;

/** A filesystem evidence store rooted at `dir` (created on first write). */
export function createFilesystemEvidenceStore(dir: string): EvidenceStore & EvidenceReader {
  const chainFile = path.join(dir, 'chain.jsonl');

  async function chain(): Promise<ChainEntry[]> {
    const text = await readFile(chainFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const lines = text.split('\n').filter((l) => l.trim());
    const entries: ChainEntry[] = [];
    for (const [i, line] of lines.entries()) {
      try {
        entries.push(JSON.parse(line) as ChainEntry);
      } catch (err) {
        // A writer that died mid-append leaves a torn last line: its bundle was never acknowledged,
        // so the chain ends before it. A torn line anywhere else is damage that verify must report.
        if (i === lines.length - 1) break;
        throw new Error(`${chainFile}: line ${i + 1} is not valid JSON`, { cause: err });
      }
    }
    return entries;
  }

  /**
   * Serialises writers (several workers may share the folder) with an exclusive lock file that names
   * its holder; a lock older than LOCK_STALE_MS was left by a writer that died, and is broken.
   */
  async function locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = path.join(dir, '.lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }));
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const held = await stat(lock).catch(() => undefined);
        if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) {
          await rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`evidence store ${dir} is locked (${lock}); remove it if no writer is running`, {
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Cuts a torn last line (a writer died mid-append) so the next link starts on a line of its own. */
  async function dropTornTail(): Promise<void> {
    const text = await readFile(chainFile, 'utf8').catch(() => '');
    if (text && !text.endsWith('\n')) {
      await truncate(chainFile, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    }
  }

  const record = (e: ChainEntry): EvidenceRecord => ({
    location: path.join(dir, e.file),
    sha256: e.sha256,
    previousSha256: e.previousSha256,
  });

  return {
    async write(rotationId, bundle) {
      await mkdir(dir, { recursive: true, mode: 0o750 });
      return locked(async () => {
        const links = await chain();
        const existing = links.find((e) => e.rotationId === rotationId);
        if (existing) return record(existing);
        const previousSha256 = links.at(-1)?.sha256 ?? null;
        const document: StoredEvidence = {
          rotationId,
          previousSha256,
          writtenAt: new Date().toISOString(),
          bundle,
        };
        const text = `${JSON.stringify(document, null, 2)}\n`;
        const entry: ChainEntry = {
          rotationId,
          file: fileFor(rotationId),
          sha256: sha256(text),
          previousSha256,
          writtenAt: document.writtenAt,
        };
        const target = path.join(dir, entry.file);
        await writeFile(`${target}.tmp`, text, { mode: 0o640 });
        await rename(`${target}.tmp`, target);
        await dropTornTail();
        await appendFile(chainFile, `${JSON.stringify(entry)}\n`, { mode: 0o640 });
        return record(entry);
      });
    },

    async read(rotationId) {
      const entry = (await chain()).find((e) => e.rotationId === rotationId);
      if (!entry) return undefined;
      const text = await readFile(path.join(dir, entry.file), 'utf8');
      return { record: record(entry), document: JSON.parse(text) as StoredEvidence };
    },

    async list() {
      return (await chain()).map((e) => e.rotationId);
    },

    async verify() {
      const problems: string[] = [];
      const links = await chain();
      let previous: string | null = null;
      for (const e of links) {
        if (e.previousSha256 !== previous) {
          problems.push(
            `${e.rotationId}: links to ${e.previousSha256 ?? 'nothing'}, expected ${previous ?? 'nothing'}`,
          );
        }
        const text = await readFile(path.join(dir, e.file), 'utf8').catch(() => undefined);
        if (text === undefined) problems.push(`${e.rotationId}: ${e.file} is missing`);
        else if (sha256(text) !== e.sha256)
          problems.push(`${e.rotationId}: ${e.file} was changed after it was written`);
        else if ((JSON.parse(text) as StoredEvidence).previousSha256 !== e.previousSha256) {
          problems.push(`${e.rotationId}: the bundle's previousSha256 disagrees with the chain`);
        }
        previous = e.sha256;
      }
      return { links: links.length, problems };
    },
  };
}
