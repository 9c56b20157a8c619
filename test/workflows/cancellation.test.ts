import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import { runScenario, seedInput, untilClosed, untilPhase, teardownEnv } from './rotation-harness';

// On a time-skipping server of its own: a cancelled run's leftovers must not stall other scenarios.
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await teardownEnv(env);
});

describe('cancelling a rotation', () => {
  it('rolls back and leaves evidence when the workflow is cancelled during the hold', async () => {
    const world = new FakeWorld();
    const { status, handle } = await runScenario(
      env,
      world,
      seedInput(),
      'cancelled-during-hold',
      async (h) => {
        await untilPhase(env, h, 'HOLDING');
        await h.cancel();
        await untilClosed(env, h);
      },
    );
    expect(status.outcome).toBe('rolled_back');
    expect(world.appReads()).toBe(world.oldKey);
    expect(world.evidence).toHaveLength(1);
    // It ends cancelled in Temporal, not as a green completion.
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  });
});
