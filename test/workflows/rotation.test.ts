import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fingerprint } from '../../domain/fingerprint';
import {
  abortUpdate,
  approveSignal,
  approveUpdate,
  extendHoldUpdate,
  rejectUpdate,
  replacementKeyStagedSignal,
  replacementKeyStagedUpdate,
  revocationConfirmedUpdate,
  revokeReplacementKeyUpdate,
  rollbackSignal,
  rollbackUpdate,
  statusQuery,
  refusalFailureType,
  type RefusalKind,
  type RotationStatus,
} from '../../workflows/messages';
import {
  RotationCredentialKey,
  RotationOutcomeKey,
  RotationPhaseKey,
} from '../../workflows/search-attributes';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  REQUESTER,
  VIEWER,
  runScenario,
  seedInput,
  until,
  untilPhase,
  type RotationHandle,
  teardownEnv,
} from './rotation-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  // Let a client call the SDK is still retrying settle before its channel closes under it.
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

/** Approves the revoke gate once it is open. */
async function approveRevoke(h: RotationHandle, by = APPROVER) {
  await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
  await h.executeUpdate(approveUpdate, { args: [{ ...by, gate: 'revoke', comment: 'drain looks clean' }] });
}

/** After a rollback past the flip: asks for the kept replacement key's revocation once it is open. */
async function revokeKeptKey(h: RotationHandle) {
  await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation', { step: '1 minute' });
  await h.executeUpdate(revokeReplacementKeyUpdate, {
    args: [{ ...OPERATOR, reason: 'apps read the old key again' }],
  });
}

/** Expects an update to be refused with this message and refusal kind (what the API maps to a status). */
async function expectRefused(promise: Promise<unknown>, message: RegExp, kind: RefusalKind) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(String(cause?.message)).toMatch(message);
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(refusalFailureType(kind));
}

describe('rotation workflow', () => {
  it('completes a scheduled rotation on an automated gateway: issue, canary, flip, hold, approve, revoke, verify, archive', async () => {
    const world = new FakeWorld();
    const { status, handle } = await runScenario(env, world, seedInput(), 'happy-path-automated', (h) =>
      approveRevoke(h),
    );

    expect(status.phase).toBe('COMPLETED');
    expect(status.outcome).toBe('completed');
    const phases = status.timeline.map((t) => t.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases).toEqual([
      'PREPARING',
      'ISSUING',
      'CANARY',
      'FLIPPING',
      'HOLDING',
      'AWAITING_REVOKE_APPROVAL',
      'REVOKING',
      'VERIFYING_REVOCATION',
      'ARCHIVING',
      'COMPLETED',
    ]);
    expect(world.appReads()).toBe(world.newKey);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
    expect(world.stable.find((v) => v.value === world.oldKey)?.enabled).toBe(false);
    expect(status.fingerprints).toEqual({ old: fingerprint(world.oldKey), new: fingerprint(world.newKey) });
    expect(status.approvals).toEqual([
      expect.objectContaining({ gate: 'revoke', decision: 'APPROVED', principal: APPROVER.principal }),
    ]);
    expect(status.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    expect(world.evidence).toHaveLength(1);
    expect(status.canary.map((r) => r.route)).toEqual(['chat-completions', 'responses']);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(RotationPhaseKey)).toBe('COMPLETED');
    expect(described.typedSearchAttributes.get(RotationOutcomeKey)).toBe('completed');
    expect(described.typedSearchAttributes.get(RotationCredentialKey)).toBe('flatkey-router-key');
    expect(await described.staticSummary()).toBe(
      'Rotate flatkey-router-key (production) · scheduled · ticket CHG-1001',
    );
    // The revoke gate only opened after the 60-minute observation window.
    const holdStart = status.timeline.find((t) => t.phase === 'HOLDING')!.at;
    const gateOpen = status.timeline.find((t) => t.phase === 'AWAITING_REVOKE_APPROVAL')!.at;
    expect(Date.parse(gateOpen) - Date.parse(holdStart)).toBeGreaterThanOrEqual(60 * 60_000);
  });
});

describe('rotation workflow on a manual gateway', () => {
  it('waits for the replacement key hand-off and the revocation confirmation, then completes', async () => {
    const world = new FakeWorld({ adminAdapter: 'manual' });
    const input = seedInput();
    const { status } = await runScenario(env, world, input, 'happy-path-manual', async (h) => {
      const waiting = await untilPhase(env, h, 'AWAITING_REPLACEMENT_KEY');
      expect(waiting.pendingGate).toMatchObject({ gate: 'replacement-key' });
      const staged = world.stageByHand(input.rotationId);
      await h.executeUpdate(replacementKeyStagedUpdate, { args: [{ ...REQUESTER, ...staged }] });
      await approveRevoke(h);
      const revoking = await until(env, h, (s) => s.pendingGate?.gate === 'revocation-confirmation');
      expect(revoking.phase).toBe('REVOKING');
      // The human revokes the old key in the gateway's console, then confirms.
      world.gatewayKeys.get('gk-old')!.revoked = true;
      await h.executeUpdate(revocationConfirmedUpdate, {
        args: [{ ...OPERATOR, comment: 'revoked in console' }],
      });
    });
    expect(status.outcome).toBe('completed');
    expect(world.appReads()).toBe(world.handedKey);
    expect(status.fingerprints.new).toBe(fingerprint(world.handedKey));
    expect(world.calls).not.toContain('issueReplacementKey');
    expect(world.calls.filter((c) => c.startsWith('revokeGatewayKey'))).toEqual([]);
    expect(status.timeline.map((t) => t.event)).toEqual(
      expect.arrayContaining(['replacement-key-staged', 'revocation-confirmed']),
    );
  });
});

describe('rollback before revoke', () => {
  it('discards the pending secret and revokes the new key when the canary fails, leaving the old key untouched', async () => {
    const world = new FakeWorld({
      canaryFailure: { route: 'responses', reason: 'route-denied', status: 403 },
    });
    const { status } = await runScenario(env, world, seedInput(), 'canary-failure');
    expect(status.phase).toBe('ROLLED_BACK');
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/canary failed: responses route-denied/);
    expect(world.calls).not.toContain('promote');
    expect(world.calls).toEqual(
      expect.arrayContaining(['discardPending', `revokeIssuedKey:gk-${status.rotationId}`]),
    );
    expect(world.pending).toBeUndefined();
    expect(world.stable).toHaveLength(1);
    expect(world.appReads()).toBe(world.oldKey);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(false);
  });

  it('rolls back automatically when the new-key 5xx rate exceeds its threshold during the hold', async () => {
    const world = new FakeWorld({
      newKeyWindow: () => ({ requests: 200, serverErrors: 30 }),
    });
    const { status, handle } = await runScenario(env, world, seedInput(), 'hold-5xx-breach', async (h) => {
      // Until the kept replacement key is revoked, the rollback is not over.
      const waiting = await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation');
      expect(waiting.phase).toBe('ROLLING_BACK');
      expect(waiting.keptReplacementKey).toMatchObject({ keyId: `gk-${waiting.rotationId}` });
      expect(world.gatewayKeys.get(`gk-${waiting.rotationId}`)?.revoked).toBe(false);
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    // A rotation that did not rotate ends as a failed workflow with its status, not a green one.
    const described = await handle.describe();
    expect(described.status.name).toBe('FAILED');
    const failure = await handle.result().then(
      () => undefined,
      (e: unknown) => (e as { cause?: ApplicationFailure }).cause,
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure?.type).toBe('RotationRolledBack');
    expect(status.rollbackCause).toMatch(/30 of 198 new-key requests got 5xx/);
    const breach = status.checks.find((c) => c.name === 'new-key traffic' && !c.passed);
    expect(breach?.verdict).toBe('fail');
    expect(breach?.breaches?.[0]).toMatchObject({ check: 'server-errors', limit: 0.02 });
    // Copy forward: the old value is the newest enabled version again; the new version is disabled.
    expect(world.appReads()).toBe(world.oldKey);
    expect(world.stable.map((v) => [v.value === world.oldKey ? 'old' : 'new', v.enabled])).toEqual([
      ['old', true],
      ['new', false],
      ['old', true],
    ]);
    expect(status.versions.restored?.fingerprint).toBe(fingerprint(world.oldKey));
    // After the flip some consumers may already hold the new key: it stayed enabled until a human
    // asked and rekey saw its traffic drained; the timeline never claims it was revoked at rollback.
    const events = status.timeline.map((t) => `${t.event} ${t.detail ?? ''}`);
    expect(events).not.toContain('compensated revoke replacement gateway key');
    expect(events).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^compensation-skipped revoke replacement gateway key: kept enabled/),
      ]),
    );
    expect(world.gatewayKeys.get(`gk-${status.rotationId}`)?.revoked).toBe(true);
    expect(status.keptReplacementKey).toMatchObject({ revokedBy: OPERATOR.principal });
    expect(status.rollbackCause).not.toMatch(/will retry|will look again/);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(false);
  });

  it('rolls back on an operator request during the hold and records who asked and why', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(
      env,
      world,
      seedInput(),
      'manual-rollback-during-hold',
      async (h) => {
        await untilPhase(env, h, 'HOLDING');
        // What the Temporal UI shows as the workflow's current details.
        const metadata = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        expect(metadata.currentDetails).toMatch(
          /^\*\*HOLDING\*\* · flatkey-router-key \(production\) · ticket CHG-1001/,
        );
        const ack = await h.executeUpdate(rollbackUpdate, {
          args: [{ ...OPERATOR, reason: 'support tickets rising' }],
        });
        expect(ack).toEqual({ accepted: true, phase: 'HOLDING' });
        await revokeKeptKey(h);
      },
    );
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toBe(`rollback requested by ${OPERATOR.principal}: support tickets rising`);
    expect(world.appReads()).toBe(world.oldKey);
    expect(status.timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'rollback-requested', by: OPERATOR.principal }),
      ]),
    );
  });

  it('rolls back when the revoke gate is rejected', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'reject-at-revoke', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(rejectUpdate, {
        args: [{ ...APPROVER, gate: 'revoke', reason: 'billing owner not informed' }],
      });
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toBe('revoke approval rejected');
    expect(status.approvals).toEqual([expect.objectContaining({ gate: 'revoke', decision: 'REJECTED' })]);
    expect(world.appReads()).toBe(world.oldKey);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(false);
  });

  it('aborts before the flip: the pending secret and the new key are removed and nothing was promoted', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => {
      r.approvals.flip_approval_required = true;
    });
    const { status } = await runScenario(env, world, input, 'abort-before-flip', async (h) => {
      await untilPhase(env, h, 'AWAITING_FLIP_APPROVAL');
      await h.executeUpdate(abortUpdate, { args: [{ ...REQUESTER, reason: 'change window moved' }] });
    });
    expect(status.phase).toBe('ABORTED');
    expect(status.outcome).toBe('aborted');
    expect(world.calls).not.toContain('promote');
    expect(world.pending).toBeUndefined();
    expect(world.gatewayKeys.get(`gk-${status.rotationId}`)?.revoked).toBe(true);
    expect(world.appReads()).toBe(world.oldKey);
  });
});

describe('gates', () => {
  it('refuses rollback once the old key is being revoked', async () => {
    const world = new FakeWorld({ adminAdapter: 'manual' });
    const input = seedInput();
    const { status } = await runScenario(env, world, input, 'rollback-refused-after-revoke', async (h) => {
      await untilPhase(env, h, 'AWAITING_REPLACEMENT_KEY');
      await h.executeUpdate(replacementKeyStagedUpdate, {
        args: [{ ...REQUESTER, ...world.stageByHand(input.rotationId) }],
      });
      await approveRevoke(h);
      await untilPhase(env, h, 'REVOKING');
      await expectRefused(
        h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'second thoughts' }] }),
        /too late to roll back.*REVOKING/,
        'NotOpen',
      );
      await h.signal(rollbackSignal, { ...OPERATOR, reason: 'second thoughts via CLI' });
      world.gatewayKeys.get('gk-old')!.revoked = true;
      await h.executeUpdate(revocationConfirmedUpdate, { args: [{ ...OPERATOR }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'rollback-refused', detail: expect.stringMatching(/too late/) }),
      ]),
    );
  });

  it('refuses a revoke approval by the requester (four-eyes) and by a principal without the approver role', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'four-eyes-and-roles', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await expectRefused(
        h.executeUpdate(approveUpdate, {
          args: [{ principal: REQUESTER.principal, roles: ['requester', 'approver'], gate: 'revoke' }],
        }),
        /four-eyes/,
        'NotAllowed',
      );
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...VIEWER, gate: 'revoke' }] }),
        /lacks a required role \(approver\)/,
        'NotAllowed',
      );
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...OPERATOR, gate: 'revoke' }] }),
        /lacks a required role/,
        'NotAllowed',
      );
      expect((await h.query(statusQuery)).phase).toBe('AWAITING_REVOKE_APPROVAL');
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals).toHaveLength(1);
  });

  it('refuses an approval for a gate that is not open, and an unknown gate', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'approval-wrong-phase', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] }),
        /revoke gate is not open \(phase HOLDING\)/,
        'NotOpen',
      );
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'flip' }] }),
        /flip gate is not open/,
        'NotOpen',
      );
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'deploy' as 'flip' }] }),
        /unknown gate deploy/,
        'Invalid',
      );
      await approveRevoke(h);
    });
    expect(status.outcome).toBe('completed');
  });

  it('accepts the same approval as a signal, as an operator sends it with the Temporal CLI', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'approve-by-signal', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.signal(approveSignal, { ...REQUESTER, gate: 'revoke' });
      await h.signal(approveSignal, { ...APPROVER, gate: 'revoke', comment: 'via temporal workflow signal' });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals).toEqual([
      expect.objectContaining({ principal: APPROVER.principal, comment: 'via temporal workflow signal' }),
    ]);
    expect(status.timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'approve-refused', by: REQUESTER.principal }),
      ]),
    );
  });

  it('notifies when an approval times out and keeps waiting, with the old key still working', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => {
      r.approvals.approval_timeout_minutes = 60;
    });
    const { status } = await runScenario(env, world, input, 'approval-timeout', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      const waited = await until(env, h, (s) => (s.pendingGate?.reminders ?? 0) >= 3, { step: '30 minutes' });
      expect(waited.phase).toBe('AWAITING_REVOKE_APPROVAL');
      expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(false);
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(world.notifications.filter((n) => n.event === 'approval-timeout').length).toBeGreaterThanOrEqual(
      3,
    );
    expect(status.timeline.filter((t) => t.event === 'approval-timeout').length).toBeGreaterThanOrEqual(3);
  });
});

describe('hold and drain', () => {
  it('opens the revoke gate with insufficient evidence when a consumer never leaves the old key, and waits for a human decision', async () => {
    const world = new FakeWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 7, key: 'old' },
      ],
    });
    const input = seedInput((r) => {
      r.cutover.max_hold_minutes = 120;
    });
    const { status } = await runScenario(env, world, input, 'never-drains', async (h) => {
      // Past the observation window the status says what the hold goes on for.
      const held = await until(env, h, (s) => (s.hold?.waitingFor?.length ?? 0) > 0, { step: '5 minutes' });
      expect(held.phase).toBe('HOLDING');
      expect(held.hold!.waitingFor).toEqual(['old-key traffic at zero for the drain window']);
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'insufficient' });
      expect(gate.pendingGate?.blockers?.join(' ')).toMatch(/enrichment-worker still used the old key/);
      expect(gate.gateEvidence.revoke?.rows.find((r) => r.signal === 'runtimeCoverage')?.state).toBe('red');
      expect(gate.coverage.find((c) => c.consumer === 'enrichment-worker')?.oldKeyRequests).toBe(7 * 24);
      expect(gate.timeline.some((t) => t.event === 'max-hold-reached')).toBe(true);
      // Approving without accepting the risk on record is refused.
      await expectRefused(
        h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] }),
        /lacks positive evidence.*riskReason/,
        'Invalid',
      );
      // A day later nothing has been revoked: it waits for a decision.
      await env.sleep('1 day');
      const later = await h.query(statusQuery);
      expect(later.phase).toBe('AWAITING_REVOKE_APPROVAL');
      expect(world.calls.filter((c) => /^(disable|delete)GatewayKey/.test(c))).toEqual([]);
      await h.executeUpdate(rollbackUpdate, {
        args: [{ ...OPERATOR, reason: 'enrichment-worker cannot reload' }],
      });
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    expect(world.appReads()).toBe(world.oldKey);
  });

  it('extends the hold with an exception on record and holds again before the revoke gate', async () => {
    let oldKeyTraffic = true;
    const world = new FakeWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 40, key: oldKeyTraffic ? 'old' : 'follow' },
      ],
    });
    const input = seedInput((r) => {
      r.cutover.max_hold_minutes = 90;
    });
    const { status } = await runScenario(env, world, input, 'extend-hold', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await h.executeUpdate(extendHoldUpdate, {
        args: [{ ...OPERATOR, minutes: 60, reason: 'worker restarts tonight' }],
      });
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.evidence).toBe('insufficient');
      const holdStart = Date.parse(gate.hold!.startedAt);
      expect(Date.parse(gate.hold!.maxHoldEndsAt) - holdStart).toBe(150 * 60_000);
      // The worker finally restarted: an approver extends once more, recording the exception.
      oldKeyTraffic = false;
      await h.executeUpdate(extendHoldUpdate, {
        args: [
          {
            ...APPROVER,
            minutes: 120,
            reason: 'watch the drain',
            exceptions: [
              {
                consumer: 'enrichment-worker',
                owner: 'data-team',
                expiresAt: '9999-12-31',
                compensatingControl: 'egress limited to the batch subnet',
              },
            ],
          },
        ],
      });
      await untilPhase(env, h, 'HOLDING');
      await until(
        env,
        h,
        (s) => s.phase === 'AWAITING_REVOKE_APPROVAL' && s.pendingGate?.evidence === 'positive',
        { step: '5 minutes' },
      );
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.timeline.filter((t) => t.event === 'hold-extended')).toHaveLength(2);
    expect(status.exceptions).toEqual([
      expect.objectContaining({
        consumer: 'enrichment-worker',
        owner: 'data-team',
        recordedBy: APPROVER.principal,
      }),
    ]);
  });
});

/** A scenario that ended at a human gate or a rollback: the old key was never disabled or deleted. */
function expectNeverRevoked(world: FakeWorld, status: RotationStatus) {
  expect(status.timeline.some((t) => t.phase === 'REVOKING')).toBe(false);
  expect(world.calls.filter((c) => /^(disable|delete)GatewayKey/.test(c))).toEqual([]);
  expect(world.gatewayKeys.get('gk-old')).toMatchObject({ revoked: false });
}

describe('gates open on evidence, never on its absence', () => {
  it('rolls back when all requests fail at low traffic (9 of 9 answered 5xx)', async () => {
    const world = new FakeWorld({
      consumers: () => [{ consumer: 'customer-chat-api', requests: 9 }],
      newKeyWindow: () => ({ serverErrors: 9 }),
    });
    const input = seedInput((r) => {
      r.scope.apps = ['customer-chat-api'];
      r.rollback.revoke_new_key = false;
    });
    const { status } = await runScenario(env, world, input, 'low-traffic-all-fail');
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/9 of 9 new-key requests got 5xx/);
    expect(world.appReads()).toBe(world.oldKey);
    expectNeverRevoked(world, status);
  });

  it('parks at the revoke gate when app traffic vanishes during the hold', async () => {
    let vanished = false;
    const world = new FakeWorld({
      consumers: () => (vanished ? [] : [{ consumer: 'customer-chat-api', requests: 60 }]),
    });
    const { status } = await runScenario(env, world, seedInput(), 'traffic-vanishes', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      vanished = true;
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.evidence).toBe('insufficient');
      expect(gate.pendingGate?.blockers?.join(' ')).toMatch(/inconclusive window/);
      const last = gate.checks.filter((c) => c.verdict === 'inconclusive').at(-1);
      expect(last?.reasons?.join(' ')).toMatch(/only 0 app request/);
      await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'traffic vanished' }] });
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    expectNeverRevoked(world, status);
  });

  it('keeps the gate shut for a consumer never seen on the new key, until a human accepts the risk on record', async () => {
    const world = new FakeWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 0, key: 'none' },
      ],
    });
    const input = seedInput((r) => {
      r.cutover.max_hold_minutes = 120;
    });
    const { status } = await runScenario(env, world, input, 'consumer-never-seen', async (h) => {
      const held = await until(env, h, (s) => (s.hold?.waitingFor?.length ?? 0) > 0, { step: '5 minutes' });
      expect(held.phase).toBe('HOLDING');
      expect(held.hold!.waitingFor!.join(' ')).toMatch(
        /runtimeCoverage unknown: enrichment-worker never seen/,
      );
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.evidence).toBe('insufficient');
      const coverage = gate.gateEvidence.revoke?.rows.find((r) => r.signal === 'runtimeCoverage');
      expect(coverage?.state).toBe('unknown');
      expect(coverage?.evidence.join(' ')).toMatch(/enrichment-worker never seen on the new key/);
      const heldMs = Date.parse(gate.pendingGate!.openedAt) - Date.parse(gate.hold!.startedAt);
      expect(heldMs).toBeGreaterThanOrEqual(120 * 60_000);
      await h.executeUpdate(approveUpdate, {
        args: [{ ...APPROVER, gate: 'revoke', riskReason: 'enrichment-worker is decommissioned (CHG-1002)' }],
      });
    });
    expect(status.outcome).toBe('completed');
    expect(status.riskAcceptances).toEqual([
      expect.objectContaining({
        gate: 'revoke',
        principal: APPROVER.principal,
        reason: 'enrichment-worker is decommissioned (CHG-1002)',
        missing: expect.arrayContaining([expect.stringMatching(/enrichment-worker never seen/)]),
      }),
    ]);
  });

  it('parks at the revoke gate when the telemetry source errors for the whole hold', async () => {
    const world = new FakeWorld({ telemetryDown: true });
    const { status } = await runScenario(env, world, seedInput(), 'telemetry-down', async (h) => {
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.blockers?.join(' ')).toMatch(/telemetry failed 5 times in a row/);
      const traffic = gate.checks.filter((c) => c.name === 'new-key traffic');
      expect(traffic.every((c) => c.verdict === 'error')).toBe(true);
      await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'no telemetry' }] });
      // The kept key's traffic cannot be read either: the request is refused and recorded.
      await revokeKeptKey(h);
      await until(env, h, (s) => s.timeline.some((t) => t.event === 'replacement-key-revocation-refused'));
      world.telemetryDown = false;
      await h.executeUpdate(revokeReplacementKeyUpdate, {
        args: [{ ...OPERATOR, reason: 'telemetry is back' }],
      });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.keptReplacementKey?.revokedAt).toBeDefined();
    expectNeverRevoked(world, status);
  });

  it('rolls back on the active probe when the source cannot see per-key 401s while the new key is blocked', async () => {
    const world = new FakeWorld({ blind: ['authErrors'] });
    const input = seedInput((r) => {
      r.rollback.revoke_new_key = false;
    });
    const { status } = await runScenario(env, world, input, 'blind-401-probe', async (h) => {
      const holding = await untilPhase(env, h, 'HOLDING');
      expect(holding.telemetry?.unobservable).toEqual(['authErrors']);
      world.newKeyFault = { status: 401, reason: 'auth' };
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/active probe of the new key failed: chat-completions 401 \(auth\)/);
    expectNeverRevoked(world, status);
  });

  it('keeps the gate shut for a consumer still on the old key when the drain window is 0', async () => {
    const world = new FakeWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 14, key: 'old' },
      ],
    });
    const input = seedInput((r) => {
      r.cutover.drain_window_minutes = 0;
      r.cutover.max_hold_minutes = 90;
    });
    const { status } = await runScenario(env, world, input, 'zero-drain-window', async (h) => {
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.evidence).toBe('insufficient');
      expect(gate.pendingGate?.blockers?.join(' ')).toMatch(/enrichment-worker still used the old key/);
      await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'worker on the old key' }] });
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    expectNeverRevoked(world, status);
  });
});

describe('the canary soak', () => {
  it('judges the canary cohort’s real traffic on the pending key and flips once it passes', async () => {
    const world = new FakeWorld({ canaryCohort: ['customer-chat-api'] });
    const input = seedInput((r) => {
      r.canary.soak_minutes = 20;
    });
    const { status } = await runScenario(env, world, input, 'canary-soak-cohort', (h) => approveRevoke(h));
    expect(status.outcome).toBe('completed');
    const soak = status.checks.filter((c) => c.name === 'canary soak');
    expect(soak.length).toBe(4);
    expect(soak.every((c) => c.verdict === 'pass')).toBe(true);
    expect(status.timeline.some((t) => t.phase === 'AWAITING_FLIP_APPROVAL')).toBe(false);
  });

  it('holds the flip for a human when the canary cohort never shows up on the pending key', async () => {
    const world = new FakeWorld({
      canaryCohort: ['customer-chat-api'],
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 0, key: 'none' },
        { consumer: 'enrichment-worker', requests: 40 },
      ],
    });
    const input = seedInput((r) => {
      r.canary.soak_minutes = 20;
    });
    const { status } = await runScenario(env, world, input, 'canary-soak-no-cohort', async (h) => {
      const gate = await untilPhase(env, h, 'AWAITING_FLIP_APPROVAL');
      expect(gate.pendingGate).toMatchObject({ gate: 'flip', evidence: 'insufficient' });
      expect(gate.pendingGate?.blockers?.join(' ')).toMatch(
        /canary soak inconclusive|customer-chat-api never seen/,
      );
      expect(world.calls).not.toContain('promote');
      await h.executeUpdate(rejectUpdate, {
        args: [{ ...APPROVER, gate: 'flip', reason: 'canary cohort did not reload' }],
      });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(world.calls).not.toContain('promote');
    expect(world.appReads()).toBe(world.oldKey);
  });
});

describe('a revoke that can be undone until it is proven', () => {
  it('stops before revoking when the new key fails the probe just before revoke, with the old key untouched', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => {
      r.rollback.revoke_new_key = false;
    });
    const { status } = await runScenario(env, world, input, 'pre-revoke-probe-fails', async (h) => {
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      expect(gate.pendingGate?.evidence).toBe('positive');
      world.newKeyFault = { status: 500, reason: 'server-error' };
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/just before revoke; the old key was not touched/);
    expect(world.calls.filter((c) => /^(disable|delete)GatewayKey/.test(c))).toEqual([]);
    expect(world.gatewayKeys.get('gk-old')).toMatchObject({ revoked: false });
    expect(world.appReads()).toBe(world.oldKey);
  });

  it('re-enables the old key when the negative test finds it still accepted, and offers the gate again', async () => {
    const world = new FakeWorld({ oldKeyStillAccepted: true });
    const { status } = await runScenario(env, world, seedInput(), 'old-key-still-accepted', async (h) => {
      await approveRevoke(h);
      const again = await until(
        env,
        h,
        (s) =>
          s.phase === 'AWAITING_REVOKE_APPROVAL' &&
          (s.pendingGate?.blockers ?? []).some((b) => /revocation undone/.test(b)),
      );
      expect(again.revocation).toMatchObject({ method: 'disable-then-delete' });
      expect(again.revocation?.reEnabledAt).toBeDefined();
      expect(world.gatewayKeys.get('gk-old')).toMatchObject({ revoked: false, disabled: false });
      await h.executeUpdate(rollbackUpdate, {
        args: [{ ...OPERATOR, reason: 'a replica still accepts the old key' }],
      });
      await revokeKeptKey(h);
    });
    expect(status.outcome).toBe('rolled_back');
    expect(world.calls).toEqual(
      expect.arrayContaining(['disableGatewayKey:gk-old', 'enableGatewayKey:gk-old']),
    );
    expect(world.calls).not.toContain('deleteGatewayKey:gk-old');
    expect(world.notifications).toEqual(
      expect.arrayContaining([expect.objectContaining({ event: 'alert' })]),
    );
    expect(world.appReads()).toBe(world.oldKey);
  });

  it('re-enables the old key and rolls back when the new key fails after the disable', async () => {
    const world = new FakeWorld({ newKeyFailsOnceDisabled: true });
    const input = seedInput((r) => {
      r.rollback.revoke_new_key = false;
    });
    const { status } = await runScenario(env, world, input, 'new-key-fails-after-disable', (h) =>
      approveRevoke(h),
    );
    expect(status.outcome).toBe('rolled_back');
    expect(status.rollbackCause).toMatch(/new key refused after the old key was revoked.*re-enabled/);
    expect(world.gatewayKeys.get('gk-old')).toMatchObject({ revoked: false, disabled: false });
    expect(world.appReads()).toBe(world.oldKey);
  });
});

describe('failing only when nothing reversible is left', () => {
  it('fails with what is live spelled out when the old key cannot be re-enabled after a failed negative test', async () => {
    const world = new FakeWorld({ oldKeyStillAccepted: true, enableFails: true });
    const { status } = await runScenario(env, world, seedInput(), 'reenable-fails', (h) => approveRevoke(h));
    expect(status.phase).toBe('FAILED');
    expect(status.failure?.reason).toMatch(/old key still accepted.*re-enabling the old key failed/);
    expect(status.live).toMatchObject({ oldKey: 'disabled', newKey: 'enabled' });
    expect(status.live?.detail).toMatch(/enable it at the gateway, then roll back/);
    expect(world.notifications).toEqual(
      expect.arrayContaining([expect.objectContaining({ event: 'alert' })]),
    );
    expect(world.calls).not.toContain('deleteGatewayKey:gk-old');
  });
});

describe('emergency mode', () => {
  it('skips the flip approval and drain wait, and allows a break-glass approval by the requester only with a reason', async () => {
    const world = new FakeWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 12, key: 'old' },
      ],
    });
    const input = seedInput((r) => {
      r.mode = 'emergency';
      r.approvals.flip_approval_required = true;
    });
    const { status } = await runScenario(env, world, input, 'emergency', async (h) => {
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      // One post-flip check, well before the 60-minute observation window.
      const heldMs = Date.parse(gate.pendingGate!.openedAt) - Date.parse(gate.hold!.startedAt);
      expect(heldMs).toBeGreaterThanOrEqual(input.checkIntervalMs);
      expect(heldMs).toBeLessThan(input.observationWindowMs);
      await expectRefused(
        h.executeUpdate(approveUpdate, {
          args: [{ principal: REQUESTER.principal, roles: ['approver'], gate: 'revoke' }],
        }),
        /break-glass approval by the requester must carry a reason/,
        'Invalid',
      );
      await h.executeUpdate(approveUpdate, {
        args: [
          {
            principal: REQUESTER.principal,
            roles: ['approver'],
            gate: 'revoke',
            breakGlassReason: 'key posted in a public issue',
          },
        ],
      });
    });
    expect(status.outcome).toBe('completed');
    expect(status.timeline.some((t) => t.phase === 'AWAITING_FLIP_APPROVAL')).toBe(false);
    expect(status.approvals).toEqual([
      expect.objectContaining({
        principal: REQUESTER.principal,
        breakGlassReason: 'key posted in a public issue',
      }),
    ]);
    expect(status.acceptedRisk).toMatch(/emergency rotation/);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
  });
});

describe('durable timers', () => {
  it('runs a 60-minute observation window and a 2-day approval wait in seconds of wall time', async () => {
    const world = new FakeWorld();
    const started = Date.now();
    const { status } = await runScenario(env, world, seedInput(), 'two-day-approval-wait', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '10 minutes' });
      await env.sleep('2 days');
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    const wallMs = Date.now() - started;
    expect(status.outcome).toBe('completed');
    const opened = Date.parse(status.timeline.find((t) => t.phase === 'AWAITING_REVOKE_APPROVAL')!.at);
    const approved = Date.parse(status.approvals[0]!.at);
    expect(approved - opened).toBeGreaterThanOrEqual(2 * 24 * 3600_000);
    expect(wallMs).toBeLessThan(30_000);
  });
});

describe('messages from the Temporal CLI are untrusted', () => {
  it('records a malformed signal as refused and keeps running', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'malformed-signal', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await h.signal(rollbackSignal, { ...OPERATOR, reason: 42 as unknown as string });
      await h.signal(approveSignal, {
        principal: 'x',
        roles: 'approver' as unknown as ['approver'],
        gate: 'revoke',
      });
      await approveRevoke(h);
    });
    expect(status.outcome).toBe('completed');
    const refused = status.timeline.filter((t) => t.event.endsWith('-refused')).map((t) => t.detail);
    expect(refused).toEqual(['reason must be text', 'roles must be a list of role names']);
  });

  it('refuses a message whose text looks like an API key, so none reaches history', async () => {
    const world = new FakeWorld();
    const { status } = await runScenario(env, world, seedInput(), 'key-in-comment', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await expectRefused(
        h.executeUpdate(approveUpdate, {
          args: [{ ...APPROVER, gate: 'revoke', comment: `new key is ${'sk-' + 'a'.repeat(24)}` }],
        }),
        /looks like it contains an API key/,
        'Invalid',
      );
      await approveRevoke(h);
    });
    expect(status.outcome).toBe('completed');
  });

  it('accepts one replacement key hand-off only', async () => {
    const world = new FakeWorld({ adminAdapter: 'manual' });
    const input = seedInput();
    const { status } = await runScenario(env, world, input, 'second-handoff-refused', async (h) => {
      await untilPhase(env, h, 'AWAITING_REPLACEMENT_KEY');
      await expectRefused(
        h.executeUpdate(replacementKeyStagedUpdate, {
          args: [{ ...REQUESTER, version: 'same', fingerprint: fingerprint(world.oldKey) }],
        }),
        /the key being replaced/,
        'Invalid',
      );
      const staged = world.stageByHand(input.rotationId);
      await h.signal(replacementKeyStagedSignal, { ...REQUESTER, ...staged });
      await h.signal(replacementKeyStagedSignal, {
        ...REQUESTER,
        version: 'other',
        fingerprint: 'sha256:0123456789ab',
      });
      await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'test over' }] });
    });
    expect(status.timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'replacementKeyStaged-refused',
          detail: expect.stringMatching(/already handed over/),
        }),
      ]),
    );
    expect(status.outcome).toBe('rolled_back');
    expect(world.calls).toContain('discardPending');
  });
});
