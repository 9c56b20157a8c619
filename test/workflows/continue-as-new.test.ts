// Continue-as-new, with the bound lowered so that every run hands over after a hold check or a
// reminder or two: a rotation runs through dozens of runs and still rotates once, rolls back once, and
// takes an approval that arrives while a run is handing over exactly once. The long hold runs on the
// time-skipping server; the rollback and the manual gateway run in real time on a dev server (the real
// server), where queries and updates race each hand-over as they would in production.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { fingerprint } from '../../domain/fingerprint';
import {
  approveUpdate,
  extendHoldUpdate,
  replacementKeyStagedUpdate,
  revocationConfirmedUpdate,
  revokeReplacementKeyUpdate,
  rollbackUpdate,
  statusQuery,
} from '../../workflows/messages';
import {
  RotationCredentialKey,
  RotationOutcomeKey,
  RotationPhaseKey,
} from '../../workflows/search-attributes';
import { createDevServerEnv, createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  REQUESTER,
  runScenario,
  seedInput,
  until,
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

/** Every run past its first few events hands over at its next wait. */
const EVERY_WAIT = 8;

/** A one-hour hold with one-minute checks and one-minute reminders at the gates. */
function longInput(adminAdapter: 'litellm' | 'manual' = 'litellm') {
  const input = seedInput((p) => {
    p.cutover.observation_window_minutes = 60;
    p.cutover.check_interval_minutes = 1;
  }, `CHG-CAN-${adminAdapter}`);
  return { ...input, continueAsNewAfterEvents: EVERY_WAIT, approvalReminderMs: 60_000 };
}

/**
 * The same in real time: checks and reminders as often as the dev server fires timers (about once a
 * second), a 12 s observation window, a 500 ms drain window.
 */
function realTimeInput(adminAdapter: 'litellm' | 'manual') {
  return {
    ...longInput(adminAdapter),
    checkIntervalMs: 100,
    observationWindowMs: 12_000,
    drainWindowMs: 500,
    maxHoldMs: 120_000,
    approvalReminderMs: 200,
  };
}
const realTime = { step: 100, maxSkips: 600 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each run's events, and how it ended. */
function runShapes(runs: string[]) {
  return runs.map((json) => {
    const events = historyFromJSON(JSON.parse(json)).events ?? [];
    const last = events.at(-1);
    return {
      events: events.length,
      continued: Boolean(last?.workflowExecutionContinuedAsNewEventAttributes),
    };
  });
}

describe('continue-as-new on the time-skipping server', () => {
  it('runs a hold and a revoke gate across many runs; an approval arriving while a run hands over completes it once', async () => {
    const world = new FakeWorld();
    let handle: RotationHandle | undefined;
    let approvalsSent = 0;
    const { status, runs } = await runScenario(env, world, longInput(), 'continue-as-new-hold', async (h) => {
      handle = h;
      const gate = await until(env, h, (s) => s.phase === 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.run).toBeGreaterThan(30);
      // Ten reminders at the gate, each in a run of its own.
      await env.sleep('10 minutes');
      const waiting = await h.query(statusQuery);
      expect(waiting.pendingGate?.reminders).toBeGreaterThanOrEqual(9);
      expect(waiting.run).toBeGreaterThan(gate.run! + 8);
      // The next reminder's notification is what the run waits for before it hands over: the
      // approval arrives right then, and the run completes instead of continuing.
      world.onNotify = async (event) => {
        if (event !== 'approval-timeout' || approvalsSent > 0) return;
        approvalsSent += 1;
        await h.executeUpdate(approveUpdate, {
          args: [{ ...APPROVER, gate: 'revoke', comment: 'mid-handover' }],
        });
      };
      await env.sleep('1 minute');
    });
    expect(approvalsSent).toBe(1);
    expect(status.outcome).toBe('completed');
    expect(status.approvals.filter((a) => a.gate === 'revoke')).toEqual([
      expect.objectContaining({
        decision: 'APPROVED',
        principal: APPROVER.principal,
        comment: 'mid-handover',
      }),
    ]);
    // One rotation: one evidence bundle, one revocation, one negative test, whatever the runs.
    expect(world.calls.filter((c) => c === 'writeEvidence')).toHaveLength(1);
    expect(world.calls.filter((c) => c === 'negativeTest')).toHaveLength(1);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
    expect(world.appReads()).toBe(world.newKey);
    expect(world.notifications.filter((n) => n.event === 'finished')).toHaveLength(1);

    const shapes = runShapes(runs);
    expect(shapes.length).toBe(status.run);
    expect(shapes.length).toBeGreaterThan(40);
    expect(shapes.slice(0, -1).every((r) => r.continued)).toBe(true);
    expect(shapes.at(-1)!.continued).toBe(false);
    // Between the first run (preparation, canary, flip) and the last (revoke, verify, archive), each
    // run holds one check or one reminder.
    expect(Math.max(...shapes.slice(1, -1).map((r) => r.events))).toBeLessThan(60);

    // The state carried across runs: hold totals, the analysis, the gate, the timeline.
    expect(status.hold?.totals.checks).toBeGreaterThanOrEqual(60);
    expect(status.analysis?.measurements).toBe(status.hold?.totals.checks);
    expect(status.gateEvidence.revoke?.evidence).toBe('positive');
    const events = status.timeline.map((t) => t.event);
    expect(events[0]).toBe('started');
    expect(events).toEqual(expect.arrayContaining(['continued-as-new', 'revoke-approved', 'finished']));
    expect(events.filter((e) => e === 'holding')).toHaveLength(1);
    expect(status.timeline.length).toBeLessThanOrEqual(400);

    // The last run carries the rotation's search attributes.
    const described = await handle!.describe();
    expect(described.typedSearchAttributes.get(RotationPhaseKey)).toBe('COMPLETED');
    expect(described.typedSearchAttributes.get(RotationOutcomeKey)).toBe('completed');
    expect(described.typedSearchAttributes.get(RotationCredentialKey)).toBe('flatkey-router-key');
  });
});

describe('continue-as-new on a dev server, in real time', () => {
  let dev: TestWorkflowEnvironment;
  beforeAll(async () => {
    dev = await createDevServerEnv();
  });
  afterAll(async () => {
    await pause(500);
    await dev?.teardown();
  });

  it('rolls back after many runs: the compensations owed carry over, and the kept key waits across runs', async () => {
    const world = new FakeWorld();
    const { status, runs } = await runScenario(
      dev,
      world,
      realTimeInput('litellm'),
      'continue-as-new-rollback',
      async (h) => {
        const holding = await until(dev, h, (s) => s.phase === 'HOLDING' && (s.run ?? 1) >= 4, realTime);
        expect(holding.hold?.totals.checks).toBeGreaterThanOrEqual(2);
        await h.executeUpdate(extendHoldUpdate, {
          args: [{ ...OPERATOR, minutes: 30, reason: 'quiet night' }],
        });
        await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'latency on the new key' }] });
        const kept = await until(
          dev,
          h,
          (s) => s.pendingGate?.gate === 'replacement-key-revocation',
          realTime,
        );
        await pause(3_000);
        expect((await h.query(statusQuery)).run).toBeGreaterThan(kept.run! + 1);
        await h.executeUpdate(revokeReplacementKeyUpdate, { args: [{ ...OPERATOR, reason: 'drained' }] });
      },
    );
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/latency on the new key/);
    expect(world.appReads()).toBe(world.oldKey);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(false);
    expect(status.keptReplacementKey?.revokedBy).toBe(OPERATOR.principal);
    expect(world.calls).toEqual(
      expect.arrayContaining(['restoreOldSecret', `revokeIssuedKey:gk-${status.rotationId}`]),
    );
    expect(world.calls.filter((c) => c === 'restoreOldSecret')).toHaveLength(1);
    expect(status.timeline.filter((t) => t.event === 'compensated').map((t) => t.detail)).toEqual([
      'restore old secret version',
      'discard pending secret',
    ]);
    expect(status.timeline.map((t) => t.event)).toContain('hold-extended');
    expect(runShapes(runs).length).toBeGreaterThan(6);
  });

  it('waits for a manual hand-off and a revocation confirmation across runs', async () => {
    const world = new FakeWorld({ adminAdapter: 'manual' });
    const input = realTimeInput('manual');
    const { status, runs } = await runScenario(dev, world, input, 'continue-as-new-manual', async (h) => {
      const first = await until(dev, h, (s) => s.phase === 'AWAITING_REPLACEMENT_KEY', realTime);
      await pause(3_000);
      expect((await h.query(statusQuery)).run).toBeGreaterThan((first.run ?? 1) + 1);
      const staged = world.stageByHand(input.rotationId);
      await h.executeUpdate(replacementKeyStagedUpdate, { args: [{ ...REQUESTER, ...staged }] });
      await until(dev, h, (s) => s.phase === 'AWAITING_REVOKE_APPROVAL', realTime);
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
      const confirming = await until(
        dev,
        h,
        (s) => s.pendingGate?.gate === 'revocation-confirmation',
        realTime,
      );
      await pause(3_000);
      expect((await h.query(statusQuery)).run).toBeGreaterThan(confirming.run! + 1);
      world.gatewayKeys.get('gk-old')!.revoked = true;
      await h.executeUpdate(revocationConfirmedUpdate, {
        args: [{ ...OPERATOR, comment: 'revoked in console' }],
      });
    });
    expect(status.outcome).toBe('completed');
    expect(world.appReads()).toBe(world.handedKey);
    expect(status.fingerprints.new).toBe(fingerprint(world.handedKey));
    expect(status.timeline.map((t) => t.event)).toEqual(
      expect.arrayContaining(['replacement-key-staged', 'revocation-confirmed', 'continued-as-new']),
    );
    expect(runShapes(runs).length).toBe(status.run);
  });
});
