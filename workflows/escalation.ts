// Escalation to emergency mode and the emergency revoke rule, as pure functions the workflow calls and
// unit tests call directly. An escalation switches a running rotation to what an emergency policy would
// have run from the start (no flip approval, no soak, no drain wait); the revoke gate then follows the
// policy's emergency_revoke rule: a person (break_glass), or the verified leak alert itself (alert), the
// latter only on positive evidence: the canary passed and the hold ended on a passing post-flip check.
import type { ExposureRef } from '../domain/exposures';
import type { ProofRecord } from '../domain/message-proof';
import type { RotationInput } from '../domain/policy';
import type { Role } from '../domain/rotation';
import type { CanaryRequest } from '../domain/observations';
import type { EscalationRecord } from '../domain/status';
import type { EscalateArgs, GateEvidence, Phase, Refusal, Verdict } from './messages';
import { invalid, notAllowed, notOpen } from './messages';

/** Who may escalate: whoever may start, approve or operate a rotation. */
export const ESCALATE_ROLES: readonly Role[] = ['requester', 'approver', 'operator'];

/** The phases in which an escalation is accepted and recorded but has nothing left to speed up. */
const TOO_LATE: readonly Phase[] = ['REVOKING', 'VERIFYING_REVOCATION', 'ARCHIVING'];

/** The input as emergency mode runs it: what toRotationInput gives an emergency policy. */
export function emergencyInput(input: RotationInput): RotationInput {
  if (input.mode === 'emergency') return input;
  return {
    ...input,
    mode: 'emergency',
    flipApprovalRequired: false,
    canarySoakMs: 0,
    drainWindowMs: 0,
    requireOldKeyDrain: false,
  };
}

/** What the escalate validator looks at. */
export interface EscalationView {
  phase: Phase;
  /** A rollback or abort was asked for and is about to run. */
  interrupting?: 'rollback' | 'abort';
}

/** Why an escalation is refused, or undefined (the shape and terminal phases are checked before). */
export function escalateRefusal(a: EscalateArgs, view: EscalationView): Refusal | undefined {
  if (!a.roles.some((r) => ESCALATE_ROLES.includes(r))) {
    return notAllowed(`${a.principal} lacks the requester, approver or operator role`);
  }
  if (typeof a.reason !== 'string' || !a.reason.trim()) return invalid('an escalation needs a reason');
  if (view.phase === 'ROLLING_BACK' || view.interrupting) {
    return notOpen(
      `the rotation is rolling back (${view.interrupting ?? 'phase ROLLING_BACK'}): nothing left to escalate`,
    );
  }
  return undefined;
}

/** Whether an escalation repeats an alert already on record (the same source and alert id): a no-op. */
export function repeatsAlert(
  a: Pick<EscalateArgs, 'exposure'>,
  known: { exposure?: ExposureRef | undefined; escalations?: readonly EscalationRecord[] | undefined },
): boolean {
  const e = a.exposure;
  if (!e) return false;
  const same = (x?: ExposureRef) => !!x && x.source === e.source && x.alertId === e.alertId;
  return same(known.exposure) || (known.escalations ?? []).some((r) => same(r.exposure));
}

/** What an escalation changes, by the phase it arrives in: one line for the timeline and evidence. */
export function escalationEffect(phase: Phase, flipGateOpen: boolean): string {
  if (TOO_LATE.includes(phase)) return `recorded: the old key's revocation is already under way (${phase})`;
  if (flipGateOpen || phase === 'AWAITING_FLIP_APPROVAL') return 'flip approval no longer needed';
  if (phase === 'HOLDING') return 'drain requirement dropped: the hold ends at the next passing check';
  if (phase === 'AWAITING_REVOKE_APPROVAL') return 'revoke gate recomputed under the emergency rules';
  if (phase === 'FLIPPING') return 'the hold will end at its first passing check';
  return 'no flip approval, no canary soak, no drain wait';
}

/**
 * The leak alert that may authorise the revoke: the one the rotation was started for (the API verified
 * it before starting), or one an escalation carried under a proof that says the API verified that very
 * alert (authn exposure-alert). An exposure a person typed in authorises nothing.
 */
export function authorisingAlert(
  input: Pick<RotationInput, 'exposure'>,
  escalations: readonly EscalationRecord[] | undefined,
): ExposureRef | undefined {
  if (input.exposure) return input.exposure;
  return (escalations ?? []).find(
    (r) =>
      r.exposure &&
      r.proof?.method === 'signature' &&
      r.proof.authn.method === 'exposure-alert' &&
      r.proof.authn.source === r.exposure.source &&
      r.proof.authn.alertId === r.exposure.alertId,
  )?.exposure;
}

/** The facts the alert rule judges at the revoke gate. */
export interface AlertRevokeFacts {
  input: Pick<RotationInput, 'mode' | 'emergencyRevoke'>;
  alert: ExposureRef | undefined;
  canary: readonly CanaryRequest[];
  /** The verdict of the hold's last new-key check, if it ran one. */
  lastHoldVerdict: Verdict | undefined;
  /** Why the hold stopped short (an analysis limit, the max hold) or a revocation was undone. */
  stoppedShort: string | undefined;
  gate: Pick<GateEvidence, 'evidence' | 'blockers'>;
}

/**
 * Why the verified alert may not approve the revoke gate itself, or [] when it may: only under policy
 * emergency_revoke alert, in emergency mode, with a verified alert, after a passing canary and a hold
 * that ended on a passing check (inconclusive never counts), and with the gate's evidence positive.
 */
export function alertRevokeBlockers(f: AlertRevokeFacts): string[] {
  if (f.input.mode !== 'emergency' || (f.input.emergencyRevoke ?? 'break_glass') !== 'alert') {
    return ['policy: a person approves the revoke (emergency_revoke break_glass, or not an emergency)'];
  }
  const blockers: string[] = [];
  if (!f.alert) blockers.push('no verified leak alert on record');
  if (f.canary.length === 0 || !f.canary.every((c) => c.ok)) blockers.push('the canary did not pass');
  if (f.lastHoldVerdict !== 'pass') {
    blockers.push(`the last post-flip check was ${f.lastHoldVerdict ?? 'not run'}, not pass`);
  }
  if (f.stoppedShort) blockers.push(f.stoppedShort);
  if (f.gate.evidence !== 'positive') {
    blockers.push(`the revoke gate lacks positive evidence (${(f.gate.blockers ?? []).join('; ')})`);
  }
  return blockers;
}

/** How an alert-approved revoke is proven, for the approval record. */
export function alertProof(alert: ExposureRef): ProofRecord {
  return {
    method: 'verified-alert',
    source: alert.source,
    alertId: alert.alertId,
    ...(alert.url ? { url: alert.url } : {}),
    receivedAt: alert.receivedAt,
  };
}

/** The principal a verified alert acts as (domain/exposures.ts exposurePrincipal, without zod). */
export function alertPrincipal(alert: Pick<ExposureRef, 'source' | 'alertId'>): string {
  return `exposure:${alert.source}:${alert.alertId}`;
}
