// The one contract every SecretStore backend passes against its real local server (DESIGN "Secrets: never
// in history"): what the rotation workflow relies on, phrased through the port only — read, stage, promote
// exactly the canaried version, roll back, retire, discard, history — plus what production needs around it:
// every step safe to retry, apps never meeting a gap across the flip, outages that fail retryable and in
// bounded time, and no key value in any result, log line or error. Backend quirks live in the fixtures
// (test/contract/<backend>.ts), never here: a case that needs an `if (kind === …)` is a contract question.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { fingerprint } from '../../domain/fingerprint';
import type { SecretStore } from '../../domain/ports';
import type { SecretStoreLogger } from '../../activities/secrets/backend';
import { FailureTypes } from '../../domain/failure-types';
import { rotationIdFor } from '../../domain/policy';
import {
  secretVersionRecordSchema,
  secretVersionRefSchema,
  type Fingerprint,
  type SecretBackendKind,
  type SecretVersionRecord,
  type SecretVersionRef,
} from '../../domain/secrets';
import { secretPaths, storeLabel } from '../../domain/secret-refs';
import { vaultOptions } from '../../workflows/activity-options';
import type { ContractBackend, ContractFixture } from './backend';
import { startTcpProxy } from './tcp-proxy';

/**
 * How long a store operation may take to fail while its server is unreachable. A vault activity has a
 * 1-minute start-to-close timeout (workflows/activity-options.ts); an attempt must give up well before it,
 * so its retry is not raced by a zombie. Key Vault's own operation deadline is 40 s, the longest of the
 * backends'; 45 s leaves the retry 15 s.
 */
export const OUTAGE_BOUND_MS = 45_000;

/** Upper bound of client chunks one stagePending or promote sends; the blip sweep stops there. */
const MAX_SWEEP_CHUNKS = 80;

/** The failure types the workflow does not retry on a vault activity. */
const NOT_RETRIED = new Set<string>(vaultOptions.retry?.nonRetryableErrorTypes ?? []);

/** What readCurrent may fail with on a broken stable secret: each backend's documented equivalent. */
const BROKEN_STABLE_TYPES: Record<'missing' | 'disabled', readonly string[]> = {
  missing: [FailureTypes.SecretNotFound],
  // KV v2 soft-deletes or destroys a version, Secrets Manager schedules a secret for deletion: some report
  // that as gone rather than disabled. Either way the workflow stops and names the secret.
  disabled: [FailureTypes.SecretDisabled, FailureTypes.SecretNotFound],
};

/** One fresh credential's secret, its store opened through the port, and its original value. */
interface Credential<K extends SecretBackendKind> {
  fixture: ContractFixture<K>;
  store: SecretStore;
  /** storeLabel() of the location: what every ref must carry as `store`. */
  label: string;
  paths: { stable: string; pending: string };
  old: string;
}

/** Where a version stands, as a comparable line: history shapes say "nothing new was written". */
type Shape = string[];

/** Registers the shared contract cases of one backend as one jest `describe`. */
export function describeSecretStoreContract<K extends SecretBackendKind>(backend: ContractBackend<K>): void {
  describe(`the ${backend.kind} SecretStore contract`, () => {
    /** Every key value this suite made, and every string a store (or its fixture) gave back or logged. */
    const keys: string[] = [];
    const observed: string[] = [];
    const logLines: string[] = [];
    const logger: SecretStoreLogger = {
      info: (fields, msg) => void logLines.push(JSON.stringify({ level: 'info', msg, ...fields })),
      warn: (fields, msg) => void logLines.push(JSON.stringify({ level: 'warn', msg, ...fields })),
    };

    function newKey(purpose: string): string {
      const key = `sk-contract-${purpose}-${randomBytes(18).toString('base64url')}`;
      keys.push(key);
      return key;
    }

    /** A rotation id shaped like the API's (`environment:credential:ticket`), unique per call. */
    const rotation = () =>
      rotationIdFor(
        `cred-${randomBytes(3).toString('hex')}`,
        'contract',
        `CHG-${randomBytes(4).toString('hex')}`,
      );

    /** Records a result for the final no-value check and returns it. */
    function seen<T>(result: T): T {
      observed.push(JSON.stringify(result) ?? 'undefined');
      return result;
    }

    /** Every string an error carries: message, stack, details, serialized form, and its causes'. */
    function recordError(err: unknown): void {
      for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
        if (typeof e === 'string') observed.push(e);
        if (e instanceof Error) {
          observed.push(e.message, e.stack ?? '');
          if (e instanceof ApplicationFailure) observed.push(JSON.stringify(e.details ?? null));
        }
        try {
          observed.push(JSON.stringify(e) ?? '');
        } catch {
          // A cyclic error object: its own fields were recorded above.
        }
        e = (e as { cause?: unknown }).cause;
      }
    }

    /** The ApplicationFailure `p` rejects with, recorded; fails the test if it resolves or throws otherwise. */
    async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
      try {
        await p;
      } catch (err) {
        recordError(err);
        if (!(err instanceof ApplicationFailure))
          throw new Error(`expected an ApplicationFailure, got ${(err as Error)?.name ?? typeof err}`, {
            cause: err,
          });
        return err;
      }
      throw new Error('expected the call to fail, it succeeded');
    }

    /** Fails unless the failure is one the workflow retries. */
    function expectRetryable(err: ApplicationFailure, label: string): void {
      expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
        type: expect.any(String),
        nonRetryable: false,
      });
      expect(NOT_RETRIED.has(err.type ?? '')).toBe(false);
      expect(err.message).toContain(label);
    }

    /** Which of the test's values `v` is, so that a failed expectation never prints a key. */
    function which(v: string | undefined, named: Record<string, string>): string {
      if (v === undefined) return '(nothing)';
      for (const [name, value] of Object.entries(named)) if (v === value) return name;
      return '(another value)';
    }

    async function credential(opts: { serverUrl?: string } = {}): Promise<Credential<K>> {
      const old = newKey('old');
      const fixture = await backend.fresh(old, { ...opts, logger });
      return {
        fixture,
        store: fixture.session.open(fixture.location),
        label: storeLabel(fixture.location),
        paths: secretPaths(fixture.location),
        old,
      };
    }

    /** A ref in the domain shape (store, not vaultUrl), of this store, recorded. */
    function checkRef(ref: SecretVersionRef | undefined, c: Credential<K>): SecretVersionRef {
      seen(ref);
      expect(ref).toBeDefined();
      const parsed = secretVersionRefSchema.safeParse(ref);
      expect(
        parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ).toEqual([]);
      expect(ref).not.toHaveProperty('vaultUrl');
      expect(ref?.store).toBe(c.label);
      return ref as SecretVersionRef;
    }

    function shape(c: Credential<K>, history: SecretVersionRecord[]): Shape {
      const where = (name: string) =>
        name === c.paths.stable ? 'stable' : name === c.paths.pending ? 'pending' : `other:${name}`;
      return history.map(
        (r) => `${where(r.name)} ${r.version} ${r.stage ?? '-'} ${r.enabled ? 'on' : 'off'}`,
      );
    }

    /** The same as shape() without version ids: comparable across two credentials. */
    const kinds = (c: Credential<K>, history: SecretVersionRecord[]): Shape =>
      shape(c, history)
        .map((line) => line.replace(/^(\S+) \S+ /, '$1 '))
        .sort();

    async function historyOf(c: Credential<K>): Promise<SecretVersionRecord[]> {
      return seen(await c.store.history());
    }

    /** Runs a step as a retried activity would: twice. The retry returns the same and writes nothing. */
    async function twice<T>(c: Credential<K>, step: () => Promise<T>): Promise<T> {
      const first = seen(await step());
      const after = shape(c, await historyOf(c));
      const again = seen(await step());
      expect(again).toEqual(first);
      expect(shape(c, await historyOf(c))).toEqual(after);
      return first;
    }

    /** Versions a reader of the pending secret could take for this rotation's replacement. */
    const livePending = (history: SecretVersionRecord[], rotationId: string) =>
      history.filter((r) => r.stage === 'pending' && r.enabled && r.rotationId === rotationId);

    const proven = (staged: SecretVersionRef): { version: string; fingerprint: Fingerprint } => ({
      version: staged.version,
      fingerprint: staged.fingerprint,
    });

    async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
        await sleep(10);
      }
    }

    it('reads the current version: the fingerprint of what apps read, the store, enabled; resolve gives its value', async () => {
      const c = await credential();
      const current = checkRef(await c.store.readCurrent(), c);
      expect(current).toMatchObject({ name: c.paths.stable, fingerprint: fingerprint(c.old), enabled: true });
      expect(current.version).not.toBe('');
      expect(checkRef(await c.store.readCurrent(), c)).toEqual(current);
      expect(which(await c.store.resolve(current), { old: c.old })).toBe('old');
      expect(which(await c.fixture.appRead(), { old: c.old })).toBe('old');
    });

    it('stages a replacement for one rotation: only that rotation finds it, apps still read the old key', async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = checkRef(await twice(c, () => c.store.stagePending(rot, next, 'gk-contract-stage')), c);
      expect(staged).toMatchObject({
        fingerprint: fingerprint(next),
        enabled: true,
        gatewayKeyId: 'gk-contract-stage',
      });
      expect([c.paths.pending, c.paths.stable]).toContain(staged.name);
      expect(checkRef(await c.store.readPending(rot), c)).toEqual(staged);
      expect(seen(await c.store.readPending(rotation()))).toBeUndefined();
      expect(which(await c.store.resolve(staged), { old: c.old, new: next })).toBe('new');
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('old');
      expect(seen(await c.store.readCurrent()).fingerprint).toBe(fingerprint(c.old));
      // A retried stagePending never leaves two values a canary could pick up.
      expect(livePending(await historyOf(c), rot).map((r) => r.version)).toEqual([staged.version]);
    });

    it('promotes the canaried version: apps read the new key, the replaced version is the previous one', async () => {
      const c = await credential();
      const before = checkRef(await c.store.readCurrent(), c);
      const rot = rotation();
      const next = newKey('new');
      const staged = await c.store.stagePending(rot, next, 'gk-contract-promote');
      const { current, previous } = await twice(c, () => c.store.promote(rot, proven(staged)));
      expect(checkRef(current, c)).toMatchObject({
        name: c.paths.stable,
        fingerprint: fingerprint(next),
        enabled: true,
        gatewayKeyId: 'gk-contract-promote',
      });
      expect(checkRef(previous, c)).toMatchObject({
        name: c.paths.stable,
        version: before.version,
        fingerprint: fingerprint(c.old),
      });
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('new');
      expect(checkRef(await c.store.readCurrent(), c)).toMatchObject({
        version: current.version,
        fingerprint: fingerprint(next),
      });
      expect(which(await c.store.resolve(current), { old: c.old, new: next })).toBe('new');
    });

    it('refuses to promote with a fingerprint other than the canaried one, and changes nothing', async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = checkRef(await c.store.stagePending(rot, next), c);
      const before = shape(c, await historyOf(c));
      const err = await failureOf(
        c.store.promote(rot, { version: staged.version, fingerprint: fingerprint(newKey('never-staged')) }),
      );
      expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
        type: FailureTypes.StagedKeyMismatch,
        nonRetryable: true,
      });
      expect(shape(c, await historyOf(c))).toEqual(before);
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('old');
      expect(checkRef(await c.store.readPending(rot), c)).toEqual(staged);
      // The refusal left nothing half done: the canaried pair still promotes.
      await c.store.promote(rot, proven(staged));
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('new');
    });

    it('after a late second hand-off, promote takes only a matching version and fingerprint pair', async () => {
      const c = await credential();
      const rot = rotation();
      const first = newKey('first');
      const second = newKey('second');
      const a = checkRef(await c.store.stagePending(rot, first), c);
      const b = checkRef(await c.store.stagePending(rot, second), c);
      expect(b.fingerprint).toBe(fingerprint(second));
      const before = shape(c, await historyOf(c));
      for (const crossed of [
        { version: b.version, fingerprint: a.fingerprint },
        { version: a.version, fingerprint: b.fingerprint },
      ]) {
        const err = await failureOf(c.store.promote(rot, crossed));
        expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
          type: FailureTypes.StagedKeyMismatch,
          nonRetryable: true,
        });
      }
      expect(shape(c, await historyOf(c))).toEqual(before);
      expect(which(await c.fixture.appRead(), { old: c.old, first, second })).toBe('old');
      await c.store.promote(rot, proven(b));
      expect(which(await c.fixture.appRead(), { old: c.old, first, second })).toBe('second');
    });

    it('rolls back after promote: apps read the old key again, the rolled-back version is disabled', async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = await c.store.stagePending(rot, next);
      const { current } = await c.store.promote(rot, proven(staged));
      const { restored, disabled } = await twice(c, () => c.store.rollback(rot));
      expect(checkRef(restored, c)).toMatchObject({
        name: c.paths.stable,
        fingerprint: fingerprint(c.old),
        enabled: true,
      });
      expect(checkRef(disabled, c)).toMatchObject({
        name: c.paths.stable,
        version: current.version,
        fingerprint: fingerprint(next),
        enabled: false,
      });
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('old');
      expect(checkRef(await c.store.readCurrent(), c)).toMatchObject({
        version: restored?.version,
        fingerprint: fingerprint(c.old),
      });
      const rolledBack = (await historyOf(c)).find(
        (r) => r.name === c.paths.stable && r.version === current.version,
      );
      expect(rolledBack).toMatchObject({ enabled: false, stage: 'rolled-back', rotationId: rot });
    });

    it('before promote, rollback and retirePrevious change nothing', async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = checkRef(await c.store.stagePending(rot, next), c);
      const before = shape(c, await historyOf(c));
      const rolledBack = await twice(c, () => c.store.rollback(rot));
      expect(rolledBack.restored).toBeUndefined();
      expect(rolledBack.disabled).toBeUndefined();
      expect(await twice(c, () => c.store.retirePrevious(rot))).toBeUndefined();
      expect(shape(c, await historyOf(c))).toEqual(before);
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('old');
      expect(checkRef(await c.store.readPending(rot), c)).toEqual(staged);
    });

    it('retires the previous version after promote: it is disabled, apps still read the new key', async () => {
      const c = await credential();
      const before = await c.store.readCurrent();
      const rot = rotation();
      const next = newKey('new');
      const staged = await c.store.stagePending(rot, next);
      await c.store.promote(rot, proven(staged));
      const retired = checkRef(await twice(c, () => c.store.retirePrevious(rot)), c);
      expect(retired).toMatchObject({
        name: c.paths.stable,
        version: before.version,
        fingerprint: fingerprint(c.old),
        enabled: false,
      });
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('new');
      const record = (await historyOf(c)).find(
        (r) => r.name === c.paths.stable && r.version === before.version,
      );
      expect(record).toMatchObject({ enabled: false, stage: 'retired' });
    });

    it("discards only its own rotation's pending value", async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = checkRef(await c.store.stagePending(rot, next), c);
      await c.store.discardPending(rotation());
      expect(checkRef(await c.store.readPending(rot), c)).toEqual(staged);
      await twice(c, () => c.store.discardPending(rot));
      expect(seen(await c.store.readPending(rot))).toBeUndefined();
      expect(livePending(await historyOf(c), rot)).toEqual([]);
      expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('old');
      expect(seen(await c.store.readCurrent()).fingerprint).toBe(fingerprint(c.old));
    });

    it('an app polling the stable secret across flip and rollback always reads a key: old, then new, then old', async () => {
      const c = await credential();
      const rot = rotation();
      const next = newKey('new');
      const staged = await c.store.stagePending(rot, next);
      const reads: string[] = [];
      let stop = false;
      const reader = (async () => {
        while (!stop) {
          try {
            reads.push(which(await c.fixture.appRead(), { old: c.old, new: next }));
          } catch (err) {
            recordError(err);
            reads.push('(failed)');
          }
        }
      })();
      try {
        await until('the app read a few times', () => reads.length >= 3);
        seen(await c.store.promote(rot, proven(staged)));
        await until('the app reads the new key', () => reads.at(-1) === 'new');
        const flipped = reads.length;
        await until('the app read the new key a few times', () => reads.length >= flipped + 3);
        seen(await c.store.rollback(rot));
        await until('the app reads the old key again', () => reads.at(-1) === 'old');
        const restored = reads.length;
        await until('the app read the old key a few times', () => reads.length >= restored + 3);
      } finally {
        stop = true;
        await reader;
      }
      expect([...new Set(reads)].sort()).toEqual(['new', 'old']);
      const runs = reads.filter((r, i) => r !== reads[i - 1]);
      expect(runs).toEqual(['old', 'new', 'old']);
    });

    it('rotates two credentials side by side without one touching the other', async () => {
      const a = await credential();
      const b = await credential();
      const [ra, rb] = [rotation(), rotation()];
      const [ka, kb] = [newKey('a'), newKey('b')];
      const read = async (c: Credential<K>) =>
        which(await c.fixture.appRead(), { 'a-old': a.old, 'b-old': b.old, 'a-new': ka, 'b-new': kb });
      const sa = await a.store.stagePending(ra, ka);
      expect(seen(await b.store.readPending(ra))).toBeUndefined();
      const sb = await b.store.stagePending(rb, kb);
      await a.store.promote(ra, proven(sa));
      expect([await read(a), await read(b)]).toEqual(['a-new', 'b-old']);
      expect(checkRef(await b.store.readPending(rb), b)).toEqual(checkRef(sb, b));
      await b.store.promote(rb, proven(sb));
      await a.store.rollback(ra);
      expect([await read(a), await read(b)]).toEqual(['a-old', 'b-new']);
      expect((await historyOf(a)).filter((r) => r.rotationId === rb)).toEqual([]);
      expect((await historyOf(b)).filter((r) => r.rotationId === ra)).toEqual([]);
    });

    it.each(['missing', 'disabled'] as const)(
      'fails readCurrent non-retryably, naming the secret, when the stable secret is %s',
      async (how) => {
        const c = await credential();
        await c.fixture.breakStable(how);
        expect(which(await c.fixture.appRead(), { old: c.old })).toBe('(nothing)');
        const err = await failureOf(c.store.readCurrent());
        expect(BROKEN_STABLE_TYPES[how]).toContain(err.type);
        expect(err.nonRetryable).toBe(true);
        expect(err.message).toContain(c.paths.stable);
      },
    );

    it('fails retryable within a bounded time while the server is cut off, and completes exactly once after', async () => {
      const proxy = await startTcpProxy(backend.serverUrl());
      try {
        const a = await credential({ serverUrl: proxy.url });
        const b = await credential({ serverUrl: proxy.url });
        const [ra, rb] = [rotation(), rotation()];
        const [ka, kb] = [newKey('a'), newKey('b')];
        const stagedA = checkRef(await a.store.stagePending(ra, ka), a);

        proxy.cut();
        const started = Date.now();
        const [read, promote, stage] = await Promise.all([
          failureOf(a.store.readCurrent()),
          failureOf(a.store.promote(ra, proven(stagedA))),
          failureOf(b.store.stagePending(rb, kb)),
        ]);
        expect(Date.now() - started).toBeLessThan(OUTAGE_BOUND_MS);
        expectRetryable(read, a.label);
        expectRetryable(promote, a.label);
        expectRetryable(stage, b.label);

        proxy.restore();
        expect(checkRef(await a.store.readCurrent(), a).fingerprint).toBe(fingerprint(a.old));
        const { current } = await twice(a, () => a.store.promote(ra, proven(stagedA)));
        expect(which(await a.fixture.appRead(), { old: a.old, new: ka })).toBe('new');
        expect(
          (await historyOf(a))
            .filter((r) => r.rotationId === ra && r.stage === 'current')
            .map((r) => r.version),
        ).toEqual([current.version]);
        const stagedB = checkRef(await twice(b, () => b.store.stagePending(rb, kb)), b);
        expect(stagedB.fingerprint).toBe(fingerprint(kb));
        expect(livePending(await historyOf(b), rb).map((r) => r.version)).toEqual([stagedB.version]);
      } finally {
        await proxy.close();
      }
    });

    it('a connection lost at any point of stagePending or promote: the retried call completes exactly once', async () => {
      // What an undisturbed rotation leaves behind, to compare every disturbed one with.
      const quiet = await credential();
      const quietRot = rotation();
      const quietKey = newKey('quiet');
      await quiet.store.promote(quietRot, proven(await quiet.store.stagePending(quietRot, quietKey)));
      const expected = kinds(quiet, await historyOf(quiet));

      const proxy = await startTcpProxy(backend.serverUrl());
      try {
        for (const step of ['stagePending', 'promote'] as const) {
          let covered = false;
          for (let n = 1; n <= MAX_SWEEP_CHUNKS && !covered; n++) {
            const c = await credential({ serverUrl: proxy.url });
            const rot = rotation();
            const next = newKey('new');
            /** One attempt with the blip armed: it may succeed (a read resent) or fail, but retryable. */
            const disturbed = async <T>(call: () => Promise<T>): Promise<void> => {
              proxy.dropAfter(n);
              try {
                seen(await call());
              } catch (err) {
                recordError(err);
                if (!(err instanceof ApplicationFailure)) throw err;
                expectRetryable(err, c.label);
              } finally {
                covered = !proxy.dropped;
                proxy.restore();
              }
            };
            if (step === 'stagePending') await disturbed(() => c.store.stagePending(rot, next));
            const staged = checkRef(await c.store.stagePending(rot, next), c);
            expect((await historyOf(c)).filter((r) => r.rotationId === rot).map((r) => r.version)).toEqual([
              staged.version,
            ]);
            if (step === 'promote') await disturbed(() => c.store.promote(rot, proven(staged)));
            await twice(c, () => c.store.promote(rot, proven(staged)));
            expect(which(await c.fixture.appRead(), { old: c.old, new: next })).toBe('new');
            expect({ step, lostAfterChunk: n, versions: kinds(c, await historyOf(c)) }).toEqual({
              step,
              lostAfterChunk: n,
              versions: expected,
            });
          }
          expect({ step, sweptEveryChunk: covered }).toEqual({ step, sweptEveryChunk: true });
        }
      } finally {
        await proxy.close();
      }
    });

    it('lists every version with its stage, rotation and fingerprint, oldest first, and no values', async () => {
      const c = await credential();
      const before = await c.store.readCurrent();
      const rot = rotation();
      const next = newKey('new');
      const staged = await c.store.stagePending(rot, next, 'gk-contract-history');
      const pendingRecord = (await historyOf(c)).find(
        (r) => r.version === staged.version && r.name === staged.name,
      );
      expect(pendingRecord).toMatchObject({
        stage: 'pending',
        rotationId: rot,
        fingerprint: fingerprint(next),
        gatewayKeyId: 'gk-contract-history',
        enabled: true,
      });
      const { current } = await c.store.promote(rot, proven(staged));
      await c.store.retirePrevious(rot);

      const history = await historyOf(c);
      for (const r of history) {
        const parsed = secretVersionRecordSchema.safeParse(r);
        expect(parsed.success ? [] : parsed.error.issues.map((i) => i.message)).toEqual([]);
        expect(r.store).toBe(c.label);
        expect([c.paths.stable, c.paths.pending]).toContain(r.name);
        expect(r).not.toHaveProperty('value');
        expect(r).not.toHaveProperty('vaultUrl');
      }
      const at = (version: string) =>
        history.findIndex((r) => r.name === c.paths.stable && r.version === version);
      expect(history[at(before.version)]).toMatchObject({
        stage: 'retired',
        enabled: false,
        fingerprint: fingerprint(c.old),
      });
      expect(history[at(current.version)]).toMatchObject({
        stage: 'current',
        enabled: true,
        rotationId: rot,
        fingerprint: fingerprint(next),
        gatewayKeyId: 'gk-contract-history',
      });
      expect(at(before.version)).toBeLessThan(at(current.version));
    });

    it('reads the value of another secret of the same store (a gateway admin key)', async () => {
      const c = await credential();
      const admin = newKey('admin');
      const name = await c.fixture.putOther(admin);
      expect(which(await c.fixture.session.readValue(c.fixture.location, name), { admin })).toBe('admin');
      expect(seen(await c.store.readCurrent()).fingerprint).toBe(fingerprint(c.old));
    });

    it('no key value reached a result, a log line or an error', () => {
      expect(keys.length).toBeGreaterThan(20);
      expect(observed.length).toBeGreaterThan(50);
      // A store that logs nothing, or a fixture that drops the logger, would pass the scan unseen.
      expect(logLines.length).toBeGreaterThan(0);
      const leaks: string[] = [];
      for (const [where, lines] of [
        ['result or error', observed],
        ['log line', logLines],
      ] as const)
        lines.forEach((line, i) =>
          keys.forEach((key, k) => {
            if (line.includes(key)) leaks.push(`${where} #${i} holds key #${k}`);
          }),
        );
      expect(leaks).toEqual([]);
    });
  });
}
