import { randomBytes } from 'node:crypto';
import { type ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { MessageSigner } from '../../api/message-signing';
import type { ExposureRef } from '../../domain/exposures';
import { fingerprint } from '../../domain/fingerprint';
import {
  approveUpdate,
  escalateSignal,
  escalateUpdate,
  refusalFailureType,
  revokeReplacementKeyUpdate,
  rollbackUpdate,
  type RefusalKind,
} from '../../workflows/messages';
import { alertRevokeBlockers, escalationEffect, repeatsAlert } from '../../workflows/escalation';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  REQUESTER,
  VIEWER,
  queryStatus,
  runScenario,
  seedInput,
  until,
  untilPhase,
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

/** A leak alert as the API hands it over: the fingerprint of a token generated here, never the token. */
function alert(alertId = String(randomBytes(4).readUInt32BE())): ExposureRef {
  return {
    source: 'github-secret-scanning',
    alertId,
    url: `https://github.example/acme/app/security/secret-scanning/${alertId}`,
    fingerprint: fingerprint(`sk-${randomBytes(24).toString('hex')}`),
    receivedAt: new Date().toISOString(),
  };
}

async function expectRefused(promise: Promise<unknown>, message: RegExp, kind: RefusalKind) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(String(cause?.message)).toMatch(message);
  expect((cause as ApplicationFailure).type).toBe(refusalFailureType(kind));
}

/** Consumers that never leave the old key: a scheduled hold waits for them until its max hold. */
const stuckOnOldKey = () => [
  { consumer: 'customer-chat-api', requests: 60 },
  { consumer: 'enrichment-worker', requests: 12, key: 'old' as const },
];

describe('escalating a running rotation to emergency', () => {
  it('in HOLDING drops the drain wait: the hold ends at the next passing check, long before the window', async () => {
    const world = new FakeWorld({ consumers: stuckOnOldKey });
    const input = seedInput();
    const { status } = await runScenario(env, world, input, 'escalate-holding', async (h) => {
      const holding = await untilPhase(env, h, 'HOLDING');
      await expectRefused(
        h.executeUpdate(escalateUpdate, { args: [{ ...VIEWER, reason: 'key in a log' }] }),
        /lacks the requester, approver or operator role/,
        'NotAllowed',
      );
      await expectRefused(
        h.executeUpdate(escalateUpdate, { args: [{ ...OPERATOR, reason: '  ' }] }),
        /reason/,
        'Invalid',
      );
      const ack = await h.executeUpdate(escalateUpdate, {
        args: [{ ...OPERATOR, reason: 'key pasted in ticket INC-7' }],
      });
      expect(ack).toEqual({ accepted: true, phase: 'HOLDING' });
      const escalated = await queryStatus(env, h);
      expect(escalated.mode).toBe('emergency');
      expect(escalated.escalations).toEqual([
        expect.objectContaining({
          principal: OPERATOR.principal,
          reason: 'key pasted in ticket INC-7',
          phase: 'HOLDING',
          effect: expect.stringMatching(/drain requirement dropped/),
        }),
      ]);
      const gate = await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      const heldMs = Date.parse(gate.pendingGate!.openedAt) - Date.parse(holding.hold!.startedAt);
      expect(heldMs).toBeLessThan(input.observationWindowMs);
      // break_glass (the default): a person approves; the requester only with the role and a reason.
      await expectRefused(
        h.executeUpdate(approveUpdate, {
          args: [{ ...REQUESTER, gate: 'revoke', breakGlassReason: 'leak' }],
        }),
        /lacks a required role \(approver\)/,
        'NotAllowed',
      );
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.acceptedRisk).toMatch(/emergency rotation/);
    expect(status.timeline.some((t) => t.event === 'escalated' && t.by === OPERATOR.principal)).toBe(true);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
  });

  it('during the canary soak ends the soak, and no flip approval is asked for', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => {
      r.canary.soak_minutes = 60;
      r.approvals.flip_approval_required = true;
    });
    const { status } = await runScenario(env, world, input, 'escalate-soak', async (h) => {
      await until(env, h, (s) => s.phase === 'CANARY' && s.analysis?.stage === 'soak', {
        step: '10 seconds',
      });
      await h.executeUpdate(escalateUpdate, {
        args: [{ ...REQUESTER, reason: 'key seen in a public gist' }],
      });
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.timeline.some((t) => t.event === 'canary-soak-ended')).toBe(true);
    expect(status.timeline.some((t) => t.phase === 'AWAITING_FLIP_APPROVAL')).toBe(false);
  });

  it('at a pending flip approval waives it, and the rotation flips', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => {
      r.approvals.flip_approval_required = true;
    });
    const { status } = await runScenario(env, world, input, 'escalate-flip-gate', async (h) => {
      await untilPhase(env, h, 'AWAITING_FLIP_APPROVAL');
      await h.executeUpdate(escalateUpdate, { args: [{ ...APPROVER, reason: 'key in a support ticket' }] });
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals.map((a) => a.gate)).toEqual(['revoke']);
    expect(status.escalations?.[0]?.effect).toMatch(/flip approval no longer needed/);
  });

  it('refuses an escalation once a rollback is under way, and after the rotation ended', async () => {
    const world = new FakeWorld();
    const { status, handle } = await runScenario(env, world, seedInput(), 'escalate-refused', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await h.executeUpdate(rollbackUpdate, { args: [{ ...OPERATOR, reason: 'errors' }] });
      // Past the flip the rollback keeps the replacement key until its traffic drains.
      await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation', { step: '1 minute' });
      await expectRefused(
        h.executeUpdate(escalateUpdate, { args: [{ ...OPERATOR, reason: 'leak' }] }),
        /rolling back/,
        'NotOpen',
      );
      await h.executeUpdate(revokeReplacementKeyUpdate, {
        args: [{ ...OPERATOR, reason: 'apps read the old key again' }],
      });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.escalations).toBeUndefined();
    await expect(
      handle.executeUpdate(escalateUpdate, { args: [{ ...OPERATOR, reason: 'leak' }] }),
    ).rejects.toThrow();
  });
});

describe('the emergency revoke rule', () => {
  it('alert: a verified alert approves the revoke itself once the canary and the first post-flip check passed', async () => {
    const world = new FakeWorld();
    const exposure = alert();
    const input = {
      ...seedInput((r) => {
        r.mode = 'emergency';
        r.approvals.emergency_revoke = 'alert';
      }),
      exposure,
    };
    const { status, historyJson } = await runScenario(
      env,
      world,
      input,
      'emergency-alert-revoke',
      async (h) => {
        // Nobody approves: the rotation completes on its own.
        await until(env, h, (x) => x.phase === 'COMPLETED');
      },
    );
    expect(status.outcome).toBe('completed');
    const principal = `exposure:github-secret-scanning:${exposure.alertId}`;
    expect(status.approvals).toEqual([
      expect.objectContaining({
        gate: 'revoke',
        decision: 'APPROVED',
        principal,
        proof: expect.objectContaining({ method: 'verified-alert', alertId: exposure.alertId }),
      }),
    ]);
    // The hold ended at its first check (a pass), not after the 60-minute window.
    const checks = status.checks.filter((c) => c.name === 'new-key traffic');
    expect(checks).toHaveLength(1);
    expect(checks[0]!.verdict).toBe('pass');
    const flipped = Date.parse(status.timeline.find((t) => t.phase === 'HOLDING')!.at);
    const approved = Date.parse(status.approvals[0]!.at);
    // One check interval after the flip, plus the check's own activities: seconds, not the window.
    expect(approved - flipped).toBeLessThan(input.checkIntervalMs + 10_000);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
    expect(historyJson).not.toContain(world.oldKey);
  });

  it('alert: an inconclusive first check does not revoke; the hold keeps watching until a check passes', async () => {
    let quiet = false;
    const world = new FakeWorld({
      consumers: () => (quiet ? [] : [{ consumer: 'customer-chat-api', requests: 60 }]),
    });
    const input = {
      ...seedInput((r) => {
        r.mode = 'emergency';
        r.approvals.emergency_revoke = 'alert';
        r.scope.apps = ['customer-chat-api'];
      }),
      exposure: alert(),
    };
    const { status } = await runScenario(env, world, input, 'emergency-alert-inconclusive', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      quiet = true;
      const seen = await until(env, h, (s) =>
        s.checks.some((c) => c.name === 'new-key traffic' && c.verdict === 'inconclusive'),
      );
      expect(seen.phase).toBe('HOLDING');
      expect(seen.approvals).toEqual([]);
      expect(world.gatewayKeys.get('gk-old')?.revoked).not.toBe(true);
      quiet = false;
    });
    expect(status.outcome).toBe('completed');
    const verdicts = status.checks.filter((c) => c.name === 'new-key traffic').map((c) => c.verdict);
    expect(verdicts[0]).toBe('inconclusive');
    expect(verdicts.at(-1)).toBe('pass');
    expect(status.approvals[0]?.principal).toMatch(/^exposure:github-secret-scanning:/);
  });

  it('break_glass: the same alert-driven rotation waits for a person at the revoke gate', async () => {
    const world = new FakeWorld();
    const input = { ...seedInput((r) => void (r.mode = 'emergency')), exposure: alert() };
    const { status } = await runScenario(env, world, input, 'emergency-break-glass', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      await h.executeUpdate(approveUpdate, {
        args: [
          { principal: REQUESTER.principal, roles: ['approver'], gate: 'revoke', breakGlassReason: 'leak' },
        ],
      });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals[0]).toEqual(
      expect.objectContaining({ principal: REQUESTER.principal, breakGlassReason: 'leak' }),
    );
  });

  it('alert via escalation: a signed alert escalates a running rotation once per alert id, and authorises the revoke', async () => {
    const world = new FakeWorld({ consumers: stuckOnOldKey });
    const signer = MessageSigner.ephemeral();
    const base = seedInput((r) => void (r.approvals.emergency_revoke = 'alert'));
    const input = { ...base, messageTrust: signer.trust() };
    const exposure = alert();
    const scanner = {
      principal: `exposure:github-secret-scanning:${exposure.alertId}`,
      roles: ['requester' as const],
      authn: { method: 'exposure-alert' as const, source: exposure.source, alertId: exposure.alertId },
    };
    const signed = async () =>
      signer.sign({
        rotationId: input.rotationId,
        message: 'escalate',
        args: {
          principal: scanner.principal,
          roles: scanner.roles,
          reason: 'GitHub secret scanning alert',
          exposure,
        },
        principal: scanner,
        via: 'api',
        at: await env.currentTimeMs(),
      });
    const { status } = await runScenario(env, world, input, 'escalate-by-alert', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await h.executeUpdate(escalateUpdate, { args: [await signed()] });
      // The same alert again (a webhook redelivered): accepted, recorded once.
      await h.executeUpdate(escalateUpdate, { args: [await signed()] });
      await h.signal(escalateSignal, await signed());
    });
    expect(status.outcome).toBe('completed');
    expect(status.escalations).toHaveLength(1);
    expect(status.escalations![0]).toEqual(
      expect.objectContaining({
        principal: scanner.principal,
        exposure,
        proof: expect.objectContaining({ authn: scanner.authn }),
      }),
    );
    expect(status.exposure).toEqual(exposure);
    expect(status.approvals).toEqual([
      expect.objectContaining({
        principal: scanner.principal,
        proof: expect.objectContaining({ method: 'verified-alert' }),
      }),
    ]);
    expect(world.gatewayKeys.get('gk-old')?.revoked).toBe(true);
  });

  it('at the revoke gate: a signed alert reopens the gate under the emergency rules and approves it', async () => {
    const world = new FakeWorld();
    const signer = MessageSigner.ephemeral();
    const input = {
      ...seedInput((r) => void (r.approvals.emergency_revoke = 'alert')),
      messageTrust: signer.trust(),
    };
    const exposure = alert();
    const scanner = {
      principal: `exposure:gitguardian:${exposure.alertId}`,
      roles: ['requester' as const],
      authn: { method: 'exposure-alert' as const, source: 'gitguardian' as const, alertId: exposure.alertId },
    };
    const { status } = await runScenario(env, world, input, 'escalate-revoke-gate', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      const args = signer.sign({
        rotationId: input.rotationId,
        message: 'escalate',
        args: {
          principal: scanner.principal,
          roles: scanner.roles,
          reason: 'GitGuardian incident',
          exposure: { ...exposure, source: 'gitguardian' as const },
        },
        principal: scanner,
        via: 'api',
        at: await env.currentTimeMs(),
      });
      await h.executeUpdate(escalateUpdate, { args: [args] });
      await until(env, h, (x) => x.phase === 'COMPLETED');
    });
    expect(status.outcome).toBe('completed');
    expect(status.escalations?.[0]?.effect).toMatch(/revoke gate recomputed/);
    expect(status.approvals).toEqual([
      expect.objectContaining({ principal: scanner.principal, decision: 'APPROVED' }),
    ]);
  });

  it('an exposure claimed without the API’s alert proof escalates but authorises nothing', async () => {
    const world = new FakeWorld();
    const input = seedInput((r) => void (r.approvals.emergency_revoke = 'alert'));
    const { status } = await runScenario(env, world, input, 'escalate-unproven-alert', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      await h.executeUpdate(escalateUpdate, {
        args: [{ ...OPERATOR, reason: 'scanner said so', exposure: alert() }],
      });
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL');
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals[0]?.principal).toBe(APPROVER.principal);
    expect(status.timeline.some((t) => t.event === 'alert-approval-withheld')).toBe(true);
  });
});

describe('escalation rules (pure)', () => {
  it('says what an escalation changes in each phase', () => {
    expect(escalationEffect('REVOKING', false)).toMatch(/already under way/);
    expect(escalationEffect('VERIFYING_REVOCATION', false)).toMatch(/already under way/);
    expect(escalationEffect('AWAITING_FLIP_APPROVAL', true)).toMatch(/flip approval no longer needed/);
    expect(escalationEffect('HOLDING', false)).toMatch(/drain requirement dropped/);
    expect(escalationEffect('PREPARING', false)).toMatch(/no canary soak/);
  });

  it('counts an alert once per source and alert id', () => {
    const a = alert('42');
    expect(repeatsAlert({ exposure: a }, { exposure: a })).toBe(true);
    expect(repeatsAlert({ exposure: { ...a, alertId: '43' } }, { exposure: a })).toBe(false);
    expect(repeatsAlert({}, { exposure: a })).toBe(false);
  });

  it('lets an alert approve only on a pass, never on an inconclusive check or without positive evidence', () => {
    const base = {
      input: { mode: 'emergency' as const, emergencyRevoke: 'alert' as const },
      alert: alert(),
      canary: [{ route: 'chat-completions' as const, status: 200, latencyMs: 5, ok: true }],
      lastHoldVerdict: 'pass' as const,
      stoppedShort: undefined,
      gate: { evidence: 'positive' as const, blockers: [] },
    };
    expect(alertRevokeBlockers(base)).toEqual([]);
    expect(alertRevokeBlockers({ ...base, lastHoldVerdict: 'inconclusive' })).not.toEqual([]);
    expect(alertRevokeBlockers({ ...base, gate: { evidence: 'insufficient', blockers: ['x'] } })).not.toEqual(
      [],
    );
    expect(alertRevokeBlockers({ ...base, alert: undefined })).not.toEqual([]);
    expect(
      alertRevokeBlockers({ ...base, input: { mode: 'emergency', emergencyRevoke: 'break_glass' } }),
    ).not.toEqual([]);
    expect(
      alertRevokeBlockers({ ...base, input: { mode: 'scheduled', emergencyRevoke: 'alert' } }),
    ).not.toEqual([]);
  });
});
