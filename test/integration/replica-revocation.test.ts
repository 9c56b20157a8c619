import { randomBytes } from 'node:crypto';
import type { RotationStatus } from '../../workflows/messages';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackCredential,
} from '../helpers/rotation-stack';

// Proof on every replica, in whole rotations on the real stack: the reference gateway with three
// replicas (own key cache each, block/delete delays of 0 s, 1 s and 3 s), listed in the registry, so
// the canary, the hold probes, the old-key grace check and the negative test run on each replica.
// - settled: the negative test waits out the 3 s replica and the rotation completes, with every
//   replica's answers in the status and the evidence.
// - stuck: the third replica's cache keeps the old key for 10 minutes, longer than the negative test's
//   retries (about a minute): the test fails on that replica alone, the old key is enabled again (it
//   answers on every replica), an alert goes out and the revoke gate opens again, never COMPLETED.
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const settled: StackCredential = {
  name: `replicas-ok-${run}`,
  environment: 'e2e',
  ticket: `CHG-R${run}`,
  adapter: 'litellm',
};
const stuck: StackCredential = {
  name: `replica-stuck-${run}`,
  environment: 'e2e',
  ticket: `CHG-S${run}`,
  adapter: 'litellm',
};
const DELAYS_MS = [0, 1_000, 3_000];

let stack: RotationStack;
const oldValues = new Map<StackCredential, string>();
const untilPhase = (c: StackCredential, phases: string[]) =>
  stack.untilPhase(stack.idOf(c), phases, { timeoutMs: 5 * 60_000, intervalMs: 1000, expectOk: true });
const approveRevoke = (c: StackCredential) =>
  stack.call('POST', `/v1/rotations/${encodeURIComponent(stack.idOf(c))}/approvals`, 'bob', {
    gate: 'revoke',
    decision: 'approve',
    comment: 'drain is clean',
  });
const replicaUrls = () => stack.replicas.map((r) => `${r.base}/v1`);
/** What each replica answers a chat completion with this key. */
const replicaStatuses = (key: string) =>
  Promise.all(
    stack.replicas.map(async (r) => {
      const res = await fetch(`${r.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
      });
      await res.arrayBuffer();
      return res.status;
    }),
  );

/** The canary ran on every replica: each allowed route once per replica, all 200. */
function expectCanaryOnEveryReplica(s: RotationStatus) {
  const byReplica = replicaUrls().map((u) => s.canary.filter((r) => r.replica === u).map((r) => r.status));
  expect(byReplica).toEqual(replicaUrls().map(() => [200, 200]));
}

const describeVault = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeVault('rotations with gateway replicas', () => {
  beforeAll(async () => {
    stack = await startRotationStack([settled, stuck], {
      replicas: DELAYS_MS.map((revocationDelayMs) => ({ revocationDelayMs })),
    });
    for (const c of [settled, stuck]) {
      oldValues.set(c, (await stack.readSecret(c))!);
      await stack.startApp(c, { requestsPerMinute: 240 });
    }
    stack.replicas[2]!.delayKey(oldValues.get(stuck)!, 10 * 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    for (const c of [settled, stuck]) await stack.start(c, { thresholds: { min_requests: 20 } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('completes once every replica refuses the old key, with each replica’s result recorded', async () => {
    const gate = await untilPhase(settled, ['AWAITING_REVOKE_APPROVAL']);
    expectCanaryOnEveryReplica(gate);
    expect((await approveRevoke(settled)).statusCode).toBe(200);
    const done = await untilPhase(settled, ['COMPLETED']);

    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    const perReplica = done.negativeTest!.replicas!;
    expect(perReplica.map((r) => [r.replica, r.oldKeyStatus, r.newKeyStatus])).toEqual(
      replicaUrls().map((u) => [u, 401, 200]),
    );
    // The 3 s replica needed retries; the 0 s one did not.
    expect(perReplica[0]!.attempts).toBe(1);
    expect(perReplica[2]!.attempts).toBeGreaterThan(1);
    expect(done.revocation!.oldKeyGrace).toMatchObject({ passed: true });
    expect(done.revocation!.oldKeyGrace!.replicas.map((r) => [r.replica, r.status])).toEqual(
      replicaUrls().map((u) => [u, 200]),
    );
    expect(done.checks.find((c) => c.name === 'old-key grace')).toMatchObject({ passed: true });
    expect(done.revocation!.preRevokeProbe!.map((r) => r.replica)).toEqual(
      replicaUrls().flatMap((u) => [u, u]),
    );
    expect(await replicaStatuses(oldValues.get(settled)!)).toEqual([401, 401, 401]);

    const evidence = await stack.call(
      'GET',
      `/v1/rotations/${encodeURIComponent(stack.idOf(settled))}/evidence`,
      'dave',
    );
    expect(evidence.statusCode).toBe(200);
    expect(evidence.json()).toMatchObject({
      bundle: {
        negativeTest: {
          ran: true,
          oldKeyRejected: true,
          replicas: replicaUrls().map((replica): unknown => ({ replica, oldKeyRejected: true })),
          revocation: { oldKeyGrace: { passed: true } },
        },
        outcome: { outcome: 'completed', oldKeyRevoked: true },
      },
    });
  });

  it('re-enables the old key when one replica still accepts it after revoke, and never completes', async () => {
    await untilPhase(stuck, ['AWAITING_REVOKE_APPROVAL']);
    expect((await approveRevoke(stuck)).statusCode).toBe(200);
    const undone = await stack.untilStatus(
      stack.idOf(stuck),
      (s) => s.phase === 'AWAITING_REVOKE_APPROVAL' && s.revocation?.reEnabledAt !== undefined,
      'the revoke gate again, with the old key re-enabled',
      { timeoutMs: 4 * 60_000, intervalMs: 1000 },
    );
    expect(undone.negativeTest).toMatchObject({
      oldKeyRejected: false,
      newKeyAccepted: true,
      oldKeyStatus: 200,
    });
    expect(undone.negativeTest!.replicas!.map((r) => r.oldKeyRejected)).toEqual([true, true, false]);
    expect(undone.negativeTest!.replicas![2]).toMatchObject({ replica: replicaUrls()[2], oldKeyStatus: 200 });
    expect(undone.checks.find((c) => c.name === 'negative test')).toMatchObject({ passed: false });
    expect(undone.timeline.map((e) => e.event)).toEqual(
      expect.arrayContaining(['old-key-disabled', 'old-key-re-enabled']),
    );
    expect(undone.timeline.map((e) => e.event)).not.toContain('old-key-deleted');
    expect(undone.pendingGate?.blockers ?? []).toEqual(
      expect.arrayContaining([expect.stringMatching(/revocation undone: negative test failed/)]),
    );
    expect(undone.revocation).not.toHaveProperty('deletedAt');
    // The way back: the old key answers on every replica and through the primary again.
    expect(await replicaStatuses(oldValues.get(stuck)!)).toEqual([200, 200, 200]);
    expect(await stack.gatewayStatus(oldValues.get(stuck)!)).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    const still = await untilPhase(stuck, ['AWAITING_REVOKE_APPROVAL']);
    expect(still.outcome).toBeUndefined();
    await stack.assertNoKeyLeaks([settled, stuck]);
  });
});
