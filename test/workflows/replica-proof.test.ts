import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, rollbackUpdate, revokeReplacementKeyUpdate } from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  runScenario,
  seedInput,
  until,
  untilPhase,
  type RotationHandle,
  teardownEnv,
} from './rotation-harness';

// Proof on every replica, in the workflow with fake activities: a replica whose cache still accepts the
// old key fails the negative test and the old key is enabled again; a replica that cut the old key
// before revoke is a recorded finding that does not stop the revoke.
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

const REPLICAS = ['http://10.0.0.1:4000/v1', 'http://10.0.0.2:4000/v1', 'http://10.0.0.3:4000/v1'];

async function approveRevoke(h: RotationHandle) {
  await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
  await h.executeUpdate(approveUpdate, {
    args: [{ ...APPROVER, gate: 'revoke', comment: 'drain looks clean' }],
  });
}

describe('proof on every replica', () => {
  it('re-enables the old key when one replica still accepts it, alerts, and never deletes it', async () => {
    const world = new FakeWorld({
      replicas: REPLICAS.map((replica, i) => ({ replica, keepsOldKey: i === 2 })),
    });
    const { status } = await runScenario(env, world, seedInput(), 'replica-keeps-old-key', async (h) => {
      await approveRevoke(h);
      const again = await until(
        env,
        h,
        (s) => s.phase === 'AWAITING_REVOKE_APPROVAL' && s.revocation?.reEnabledAt !== undefined,
      );
      expect(again.negativeTest).toMatchObject({ oldKeyRejected: false, newKeyAccepted: true });
      expect(again.negativeTest!.replicas!.map((r) => [r.replica, r.oldKeyRejected])).toEqual([
        [REPLICAS[0], true],
        [REPLICAS[1], true],
        [REPLICAS[2], false],
      ]);
      expect(again.pendingGate?.blockers ?? []).toEqual(
        expect.arrayContaining([expect.stringMatching(/revocation undone: negative test failed/)]),
      );
      expect(world.gatewayKeys.get('gk-old')).toMatchObject({ revoked: false, disabled: false });
      await h.executeUpdate(rollbackUpdate, {
        args: [{ ...OPERATOR, reason: 'a replica keeps the old key' }],
      });
      await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation', { step: '1 minute' });
      await h.executeUpdate(revokeReplacementKeyUpdate, {
        args: [{ ...OPERATOR, reason: 'apps read the old key again' }],
      });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(world.calls).toEqual(
      expect.arrayContaining(['checkOldKeyGrace', 'disableGatewayKey:gk-old', 'enableGatewayKey:gk-old']),
    );
    expect(world.calls).not.toContain('deleteGatewayKey:gk-old');
    expect(world.notifications).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'alert',
          message: expect.stringMatching(/the old key works again/),
        }),
      ]),
    );
  });

  it('records a replica that cut the old key before revoke as a failed check and an alert, and still revokes', async () => {
    const world = new FakeWorld({
      replicas: REPLICAS.map((replica, i) => ({ replica, cutOldKeyEarly: i === 1 })),
    });
    const { status } = await runScenario(env, world, seedInput(), 'replica-cut-old-key-early', approveRevoke);
    expect(status.outcome).toBe('completed');
    expect(status.revocation?.oldKeyGrace).toMatchObject({ passed: false });
    expect(status.revocation!.oldKeyGrace!.replicas.map((r) => r.ok)).toEqual([true, false, true]);
    expect(status.checks.find((c) => c.name === 'old-key grace')).toMatchObject({
      passed: false,
      verdict: 'fail',
      detail: expect.stringContaining(`${REPLICAS[1]}:401`),
      breaches: [expect.objectContaining({ check: 'old-key-grace', observed: 1, limit: 0 })],
    });
    expect(status.timeline.find((e) => e.event === 'old-key-cut-early')?.detail).toMatch(
      /consumers still on it lost service early/,
    );
    expect(
      world.notifications.some((n) => n.event === 'alert' && /cut|refused the old key/.test(n.message)),
    ).toBe(true);
    // The grace check ran before the old key was touched.
    const calls = world.calls;
    expect(calls.indexOf('checkOldKeyGrace')).toBeLessThan(calls.indexOf('disableGatewayKey:gk-old'));
  });

  it('passes the grace check on a single gateway where the old key still answers', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'old-key-grace-kept', approveRevoke);
    expect(status.outcome).toBe('completed');
    expect(status.revocation?.oldKeyGrace).toMatchObject({ passed: true });
    expect(status.checks.find((c) => c.name === 'old-key grace')).toMatchObject({
      passed: true,
      verdict: 'pass',
    });
    expect(status.negativeTest).not.toHaveProperty('replicas');
  });
});
