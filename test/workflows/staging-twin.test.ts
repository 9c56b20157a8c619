// Staging before production, in the workflow with fake activities on the time-skipping server: the
// twin gate runs before PREPARING reads anything; mode require goes on only with a completed twin
// rotation of the same policy and fails with nothing done without one; an emergency does not wait.
// Mode run (a child rotation of the twin) runs on the real stack: test/integration/staging-twin.test.ts.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate } from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  runScenario,
  seedInput,
  untilPhase,
  type RotationHandle,
  teardownEnv,
} from './rotation-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

const TWIN = { name: 'router-key', environment: 'staging', withinDays: 7, mode: 'require' as const };
const MATCH = {
  rotationId: 'staging:router-key:CHG-3000',
  workflowId: 'rekey:staging:router-key',
  runId: '8f2c8f0e-5a43-4c59-9a8c-1f4f7a2d3e10',
  completedAt: '2026-11-30T10:00:00.000Z',
};

async function approveRevoke(h: RotationHandle) {
  await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
  await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke', comment: 'drained' }] });
}

describe('staging twin gate', () => {
  it('require: a completed twin rotation with the same policy lets production go on, and is linked', async () => {
    const world = new FakeWorld({ stagingTwin: { spec: TWIN, match: MATCH, differing: 1 } });
    const { status } = await runScenario(
      env,
      world,
      seedInput(undefined, 'CHG-3001'),
      'staging-twin-require-found',
      approveRevoke,
    );
    expect(status.outcome).toBe('completed');
    // Checked before PREPARING read anything.
    expect(world.calls[0]).toBe('checkStagingTwin');
    expect(world.calls[1]).toBe('preflight');
    expect(status.stagingTwin).toMatchObject({
      credential: 'router-key',
      environment: 'staging',
      mode: 'require',
      state: 'passed',
      rotationId: MATCH.rotationId,
      completedAt: MATCH.completedAt,
    });
    expect(status.stagingTwin?.policyFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    const passed = status.timeline.find((t) => t.event === 'staging-twin-passed');
    expect(passed?.detail).toBe(`${MATCH.rotationId} completed ${MATCH.completedAt} with the same policy`);
  });

  it('require: without one, production fails before anything is read or changed, saying why', async () => {
    const world = new FakeWorld({ stagingTwin: { spec: TWIN, differing: 2 } });
    const { status } = await runScenario(
      env,
      world,
      seedInput(undefined, 'CHG-3002'),
      'staging-twin-missing',
    );
    expect(status.outcome).toBe('failed');
    expect(status.phase).toBe('FAILED');
    expect(status.failure?.phase).toBe('PREPARING');
    expect(status.failure?.reason).toMatch(
      /staging twin staging\/router-key has no completed rotation with this policy \(sha256:[0-9a-f]{64}\) in the last 7 days; 2 completed with another policy/,
    );
    expect(status.stagingTwin?.state).toBe('failed');
    // Nothing read of production, no key issued, the old key untouched.
    expect(world.calls).not.toContain('preflight');
    expect(world.calls).not.toContain('issueReplacementKey');
    expect([...world.gatewayKeys.keys()]).toEqual(['gk-old']);
    expect(world.appReads()).toBe(world.oldKey);
  });

  it('an emergency does not wait for its twin, and says so', async () => {
    const world = new FakeWorld({ stagingTwin: { spec: { ...TWIN, mode: 'run' } } });
    const { status } = await runScenario(
      env,
      world,
      seedInput((r) => void (r.mode = 'emergency'), 'CHG-3003'),
      'staging-twin-emergency',
      async (h) => {
        await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
        await h.executeUpdate(approveUpdate, {
          args: [{ ...APPROVER, gate: 'revoke', comment: 'leak', breakGlassReason: 'key in a public repo' }],
        });
      },
    );
    expect(status.outcome).toBe('completed');
    expect(status.stagingTwin).toMatchObject({ state: 'skipped', mode: 'run' });
    const skipped = status.timeline.find((t) => t.event === 'staging-twin-skipped');
    expect(skipped?.detail).toBe('emergency: does not wait for staging/router-key');
  });

  it('a credential without a twin runs as before: no twin in its status', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(
      env,
      world,
      seedInput(undefined, 'CHG-3004'),
      'staging-twin-none',
      approveRevoke,
    );
    expect(status.outcome).toBe('completed');
    expect(status.stagingTwin).toBeUndefined();
    expect(world.calls[0]).toBe('checkStagingTwin');
  });
});
