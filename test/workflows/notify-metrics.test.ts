import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RotationActivities } from '../../activities';
import { approveUpdate } from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld, type WorldActivities } from './fake-world';
import { APPROVER, runScenario, seedInput, untilPhase, teardownEnv } from './rotation-harness';

// The worker's rekey_phase_duration_seconds and rekey_rotations_finished_total come from figures the
// workflow puts on its notify calls (workflow time, its own outcome): no activity call is added for them.
type NotifyInput = Parameters<RotationActivities['notify']>[0];

/** A fake world that also keeps every notify input whole. */
class NotifyRecordingWorld extends FakeWorld {
  readonly notifyInputs: NotifyInput[] = [];
  override activities(): WorldActivities {
    const acts = super.activities();
    return {
      ...acts,
      notify: async (input) => {
        this.notifyInputs.push(input);
        return acts.notify(input);
      },
    };
  }
}

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

describe('notify figures for the worker metrics', () => {
  it('give every phase left with its workflow-time duration, and the outcome and environment at the end', async () => {
    const world = new NotifyRecordingWorld();
    const input = seedInput();
    const { status } = await runScenario(env, world, input, 'notify-metrics', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke', comment: 'clean' }] });
    });
    expect(status.phase).toBe('COMPLETED');

    const changes = world.notifyInputs.filter((n) => n.event === 'phase-changed');
    const phases = status.timeline.map((t) => t.phase).filter((p, i, all) => p !== all[i - 1]);
    // Each phase change reports the phase before it: every phase but the terminal one. Notifications
    // are activities that may run side by side, so they arrive in any order.
    expect(changes.map((n) => n.metrics?.left?.phase).sort()).toEqual(phases.slice(0, -1).sort());
    const seconds = Object.fromEntries(
      changes.map((n) => [n.metrics!.left!.phase, n.metrics!.left!.seconds]),
    );
    // The hold lasts at least the observation window, in workflow (skipped) time.
    expect(seconds.HOLDING).toBeGreaterThanOrEqual(input.observationWindowMs / 1000);
    expect(Object.values(seconds).every((s) => s >= 0)).toBe(true);

    for (const n of world.notifyInputs) {
      expect(n.metrics).toMatchObject({ credential: input.credential, environment: input.environment });
    }
    const finished = world.notifyInputs.filter((n) => n.event === 'finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]!.metrics?.outcome).toBe('completed');
    expect(world.notifyInputs.filter((n) => n.metrics?.outcome)).toEqual(finished);
  });
});
