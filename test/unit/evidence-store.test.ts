import { appendFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFilesystemEvidenceStore } from '../../activities/evidence';

describe('the filesystem evidence store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rekey-evidence-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('chains each bundle to the one before it and verifies the chain', async () => {
    const store = createFilesystemEvidenceStore(dir);
    const first = await store.write('prod:key-a:CHG-1', { phase: 'COMPLETED' });
    const second = await store.write('prod:key-b:CHG-2', { phase: 'ROLLED_BACK' });
    expect(first.previousSha256).toBeNull();
    expect(second.previousSha256).toBe(first.sha256);
    expect(await store.verify()).toEqual({ links: 2, problems: [] });
    const read = await store.read('prod:key-b:CHG-2');
    expect(read?.document).toMatchObject({ rotationId: 'prod:key-b:CHG-2', previousSha256: first.sha256 });
    expect(read?.document.bundle).toEqual({ phase: 'ROLLED_BACK' });
  });

  it('returns the same record when a retried activity writes the same rotation again', async () => {
    const store = createFilesystemEvidenceStore(dir);
    const once = await store.write('prod:key-a:CHG-1', { phase: 'COMPLETED' });
    const twice = await store.write('prod:key-a:CHG-1', { phase: 'COMPLETED' });
    expect(twice).toEqual(once);
    expect((await store.verify()).links).toBe(1);
  });

  it('reports a bundle edited after it was written', async () => {
    const store = createFilesystemEvidenceStore(dir);
    const rec = await store.write('prod:key-a:CHG-1', { approvedBy: 'bob' });
    await store.write('prod:key-b:CHG-2', { approvedBy: 'carol' });
    writeFileSync(rec.location, readFileSync(rec.location, 'utf8').replace('bob', 'mallory'));
    const { problems } = await store.verify();
    expect(problems).toEqual([
      expect.stringMatching(/prod:key-a:CHG-1: .* was changed after it was written/),
    ]);
  });

  it('breaks a lock left by a writer that died, and carries on after a torn last chain line', async () => {
    const store = createFilesystemEvidenceStore(dir);
    await store.write('prod:key-a:CHG-1', { phase: 'COMPLETED' });
    const lock = path.join(dir, '.lock');
    writeFileSync(lock, '{"pid":1}');
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(lock, old, old);
    appendFileSync(path.join(dir, 'chain.jsonl'), '{"rotationId":"prod:key-b:CHG-2","fi');
    const second = await store.write('prod:key-c:CHG-3', { phase: 'ROLLED_BACK' });
    expect(second.previousSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.verify()).toEqual({ links: 2, problems: [] });
  });

  it('serialises concurrent writers into one unbroken chain', async () => {
    const a = createFilesystemEvidenceStore(dir);
    const b = createFilesystemEvidenceStore(dir);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).write(`prod:key-${i}:CHG-${i}`, { i })),
    );
    expect(await a.verify()).toEqual({ links: 10, problems: [] });
  });
});
