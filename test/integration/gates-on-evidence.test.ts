import { randomBytes } from 'node:crypto';
import { fingerprint } from '../../domain/fingerprint';
import { finalStatusOf } from '../../api/final-status';
import type { RotationStatus } from '../../workflows/messages';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// The gates open on evidence only, on the real stack: the Temporal dev server, the real worker and
// activities, the reference gateway, Key Vault, and a real Prometheus scraping the gateway. Each key's
// app sends 9 requests per 15 s hold window, fewer than min_requests (20), so no window has enough
// traffic to pass on its own.
// - broken: after the flip the new key answers 500 to every request. Rates are noise on 9 requests,
//   but 9 of 9 failing is clearly a failure: the hold rolls back at its first window, the old key is
//   never touched, the app reads the old key again, and the kept replacement key is revoked only once
//   its traffic has drained.
// - quiet: the new key is healthy, but every window is inconclusive: the revoke gate opens with
//   insufficient evidence, a plain approval is refused, and the operator rolls back.
// Neither rotation reaches REVOKING.
jest.setTimeout(6 * 60_000);

const run = randomBytes(3).toString('hex');
const MIN_REQUESTS = 20;
/** 9 app requests per 15 s window. */
const APP_REQUESTS_PER_MINUTE = 36;
const CHECK_INTERVAL_MS = 15_000;

const broken: StackCredential = {
  name: `broken-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-B${run}`,
  adapter: 'litellm',
};
const quiet: StackCredential = {
  name: `quiet-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-Q${run}`,
  adapter: 'litellm',
};

let stack: RotationStack;
const apps = new Map<StackCredential, StackApp>();
/** Each credential's key value before the rotation. */
const oldValues = new Map<StackCredential, string>();

const rotationUrl = (c: StackCredential, suffix = '') =>
  `/v1/rotations/${encodeURIComponent(stack.idOf(c))}${suffix}`;
const untilPhase = (c: StackCredential, phases: string[]) =>
  stack.untilPhase(stack.idOf(c), phases, { timeoutMs: 4 * 60_000, intervalMs: 500, expectOk: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Phases the rotation was ever in, from its timeline. */
const phasesOf = (s: RotationStatus) => new Set(s.timeline.map((e) => e.phase));

/** None of the revocation path: no revoke gate, no REVOKING, the old key never disabled or deleted. */
function expectOldKeyNeverRevoked(s: RotationStatus) {
  const phases = phasesOf(s);
  for (const p of ['REVOKING', 'VERIFYING_REVOCATION', 'ARCHIVING', 'COMPLETED'])
    expect([p, phases.has(p as RotationStatus['phase'])]).toEqual([p, false]);
  expect(s.timeline.map((e) => e.event)).not.toEqual(
    expect.arrayContaining([expect.stringMatching(/^(revoking|old-key-disabled|old-key-deleted)$/)]),
  );
  expect(s.revocation).toBeUndefined();
  expect(s.negativeTest).toBeUndefined();
  expect(s.approvals.filter((a) => a.gate === 'revoke' && a.decision === 'APPROVED')).toEqual([]);
}

/**
 * After a post-flip rollback: the workflow waits in ROLLING_BACK for the kept replacement key's
 * revocation. The app is back on the old key; a revocation asked while the app's last requests on
 * the new key are still in the window is refused; asked again once drained, the key is revoked.
 */
async function rollBackThroughKeptKey(c: StackCredential, rolling: RotationStatus) {
  const app = apps.get(c)!;
  const oldValue = oldValues.get(c)!;
  const oldFp = fingerprint(oldValue);
  const newFp = rolling.fingerprints.new!;
  const newKeyId = rolling.gatewayKeys.new!;
  expect(rolling.phase).toBe('ROLLING_BACK');
  expect(rolling.pendingGate).toMatchObject({ gate: 'replacement-key-revocation' });
  expect(rolling.keptReplacementKey).toMatchObject({ keyId: newKeyId, fingerprint: newFp });
  expect(rolling.keptReplacementKey!.revokedAt).toBeUndefined();
  expect(rolling.versions.restored).toBeDefined();

  // The app reads the old key from the stable path again, and the gateway answers it.
  await app.untilKey(oldFp);
  expect(fingerprint((await stack.readSecret(c))!)).toBe(oldFp);
  const okBefore = app.stats(oldFp)!.answers['200'] ?? 0;
  await sleep(3000);
  expect(app.stats(oldFp)!.answers['200']).toBeGreaterThan(okBefore);
  expect(await stack.gatewayStatus(oldValue)).toBe(200);

  const ask = () =>
    stack.call('POST', rotationUrl(c, '/replacement-key-revocations'), 'carol', {
      reason: 'the app is back on the old key',
    });
  // Too early: the app used the kept key within the last check interval.
  expect((await ask()).statusCode).toBe(202);
  const refused = await stack.untilStatus(
    stack.idOf(c),
    (s) => s.timeline.some((e) => e.event === 'replacement-key-revocation-refused'),
    'the early revocation request refused',
  );
  expect(refused.phase).toBe('ROLLING_BACK');
  expect(refused.timeline.find((e) => e.event === 'replacement-key-revocation-refused')!.detail).toMatch(
    /still used .* by customer-chat-api/,
  );
  // Once the last new-key request is out of the window (and scraped), it is revoked.
  const lastOnNew = app.stats(newFp)!.lastAt;
  await sleep(Math.max(0, lastOnNew + CHECK_INTERVAL_MS + 4000 - Date.now()));
  expect((await ask()).statusCode).toBe(202);
  const done = await untilPhase(c, ['ROLLED_BACK']);
  expect(done.keptReplacementKey).toMatchObject({
    keyId: newKeyId,
    revokedAt: expect.any(String),
    revokedBy: 'carol@example.com',
  });
  expect(done.pendingGate).toBeUndefined();
  // The rollback disabled the new key's secret version; the app had read its value before.
  expect(await stack.gatewayStatus(stack.keyValue(newFp))).toBe(401);
  expect(await stack.gatewayStatus(oldValue)).toBe(200);
  expectOldKeyNeverRevoked(done);

  // The run ends Failed with the typed failure that carries the final status.
  const handle = stack.client.workflow.getHandle(`rekey:${c.environment}:${c.name}`);
  await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'RotationRolledBack' } });
  expect(await finalStatusOf(stack.client, handle, 10_000)).toMatchObject({ phase: 'ROLLED_BACK' });
  const evidence = await stack.call('GET', rotationUrl(c, '/evidence'), 'dave');
  expect(evidence.statusCode).toBe(200);
  expect(evidence.json()).toMatchObject({
    bundle: {
      outcome: {
        outcome: 'rolled_back',
        finalPhase: 'ROLLED_BACK',
        oldKeyRevoked: false,
        newKeyServing: false,
        keptReplacementKey: { gatewayKeyId: newKeyId, revoked: true, revokedBy: 'carol@example.com' },
      },
    },
  });
  return done;
}

const describeVault = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeVault('gates open on evidence, on the real stack', () => {
  beforeAll(async () => {
    stack = await startRotationStack([broken, quiet]);
    for (const c of [broken, quiet]) {
      oldValues.set(c, (await stack.readSecret(c))!);
      apps.set(c, await stack.startApp(c, { requestsPerMinute: APP_REQUESTS_PER_MINUTE }));
    }
    // The apps are on the old key when the rotations start (the baseline sees them).
    await sleep(3000);
    await stack.start(broken, {
      thresholds: { min_requests: MIN_REQUESTS },
      // The fault goes on the new key after its canary passed, before anyone reads it.
      approvals: { flip_approval_required: true },
    });
    await stack.start(quiet, { thresholds: { min_requests: MIN_REQUESTS } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('rolls back a new key that answers 500 to every request, though no window reaches min_requests, and never revokes the old key', async () => {
    const app = apps.get(broken)!;
    const atFlip = await untilPhase(broken, ['AWAITING_FLIP_APPROVAL']);
    expect(atFlip.canary.every((r) => r.ok)).toBe(true);
    const newFp = atFlip.fingerprints.new!;
    await stack.setFaults(atFlip.gatewayKeys.new!, { status: 500 });
    const approved = await stack.call('POST', rotationUrl(broken, '/approvals'), 'bob', {
      gate: 'flip',
      decision: 'approve',
      comment: 'canary is clean',
    });
    expect(approved.statusCode).toBe(200);

    const rolling = await stack.untilStatus(
      stack.idOf(broken),
      (s) => s.pendingGate?.gate === 'replacement-key-revocation',
      'ROLLING_BACK at the replacement-key-revocation gate',
      { timeoutMs: 3 * 60_000, expectOk: true },
    );
    expect(rolling.rollbackCause).toMatch(/new-key traffic failed the hold analysis/);
    // The first hold window failed on its own figures: too few requests for a rate, but all 5xx.
    const windows = rolling.checks.filter((c) => c.name === 'new-key traffic');
    expect(windows.map((w) => w.verdict)).toEqual(['fail']);
    const [failed] = windows;
    expect(failed!.figures!.requests).toBeGreaterThan(0);
    expect(failed!.figures!.requests).toBeLessThan(MIN_REQUESTS);
    expect(failed!.figures!.serverErrors).toBe(failed!.figures!.requests);
    expect(failed!.breaches).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ check: 'server-errors', detail: expect.stringMatching(/small window/) }),
      ]),
    );
    expect(failed!.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/active probe of the new key failed/)]),
    );
    expect(rolling.analysis).toMatchObject({ stage: 'hold', failed: 1, passed: 0 });
    // The app was answered 500 on the new key, every time.
    expect(Object.keys(app.stats(newFp)!.answers)).toEqual(['500']);
    expectOldKeyNeverRevoked(rolling);

    await rollBackThroughKeptKey(broken, rolling);
  });

  it('parks a healthy new key whose windows all lack min_requests at a revoke gate with insufficient evidence, and rolls back on request', async () => {
    const gate = await untilPhase(quiet, ['AWAITING_REVOKE_APPROVAL']);
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'insufficient' });
    expect(gate.pendingGate!.blockers).toEqual(
      expect.arrayContaining([expect.stringMatching(/hold analysis inconclusive: 3 inconclusive window/)]),
    );
    const windows = gate.checks.filter((c) => c.name === 'new-key traffic');
    expect(windows.map((w) => w.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    for (const w of windows) {
      expect(w.figures!.requests).toBeLessThan(MIN_REQUESTS);
      expect(w.reasons).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`app request\\(s\\) on the new key \\(at least ${MIN_REQUESTS}`)),
        ]),
      );
    }
    // The app itself is fine on the new key.
    expect(Object.keys(apps.get(quiet)!.stats(gate.fingerprints.new!)!.answers)).toEqual(['200']);

    // An approval that does not accept the risk on record is refused; the gate stays open.
    const plain = await stack.call('POST', rotationUrl(quiet, '/approvals'), 'bob', {
      gate: 'revoke',
      decision: 'approve',
      comment: 'looks fine',
    });
    expect(plain.statusCode).toBe(400);
    expect(plain.json<{ detail: string }>().detail).toMatch(/lacks positive evidence/);
    const rollback = await stack.call('POST', rotationUrl(quiet, '/rollback'), 'carol', {
      reason: 'not enough traffic to judge the new key',
    });
    expect(rollback.statusCode).toBe(202);

    const rolling = await stack.untilStatus(
      stack.idOf(quiet),
      (s) => s.pendingGate?.gate === 'replacement-key-revocation',
      'ROLLING_BACK at the replacement-key-revocation gate',
      { expectOk: true },
    );
    expect(rolling.rollbackCause).toMatch(/carol@example.com/);
    expect(rolling.riskAcceptances).toEqual([]);
    expectOldKeyNeverRevoked(rolling);
    await rollBackThroughKeptKey(quiet, rolling);
  });

  it('never lets a key reach a workflow history, a log line or an API response', async () => {
    // The master key, both old keys and both issued keys.
    expect(stack.secrets.size).toBeGreaterThanOrEqual(5);
    await stack.assertNoKeyLeaks([broken, quiet]);
  });
});
