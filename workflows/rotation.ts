// The rotation runbook as a durable workflow: prepare, stage the replacement, canary, flip, hold and
// watch, drain, revoke after approval, prove the old key dead, archive. Before revoke every step pushes
// its compensation; a rollback runs them in reverse. Only references and fingerprints pass through here.
import { FailureTypes } from '../domain/failure-types';
import {
  ApplicationFailure,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  ContinueAsNew,
  makeContinueAsNewFunc,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { RotationActivities } from '../activities';
import type { AutomationActivities } from '../activities/automation';
import type { StagingTwinRecord } from '../domain/status';
import { twinMissingReason } from '../domain/staging-twin';
import { rotationEnd, startRotation } from './child-rotation';
import type { TelemetryKey } from '../domain/ports';
import type {
  CanaryReport,
  CredentialRef,
  HoldObservation,
  PreflightResult,
  SecretVersionRef,
} from '../domain/activity-io';
import type { RotationInput, Role } from '../domain/policy';
import { KEY_LIKE } from '../domain/key-shape';
import {
  malformedExposure,
  malformedHandOff,
  malformedMessage,
  unknownGate,
  type TextScreen,
} from '../domain/message-checks';
import { describeProof, verifyProof, type ProofRecord, type ProofVerdict } from '../domain/message-proof';
import { secretLocationOf, secretPaths } from '../domain/secret-refs';
import { EMERGENCY_ACCEPTED_RISK } from '../domain/risk';
import { PAIR_HOLD_LEASE_MARGIN_MS, otherOfPair, pairHoldId, releasePairs, takePairs } from './pair-hold';
import {
  canaryOptions,
  evidenceOptions,
  gatewayAdminOptions,
  negativeTestOptions,
  notifyOptions,
  preflightOptions,
  rolloutHookOptions,
  telemetryOptions,
  vaultOptions,
} from './activity-options';
import {
  OUTCOME_FAILURE_TYPES,
  POINT_OF_NO_RETURN,
  TERMINAL_PHASES,
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  escalateSignal,
  escalateUpdate,
  extendHoldSignal,
  extendHoldUpdate,
  rejectSignal,
  rejectUpdate,
  replacementKeyStagedSignal,
  replacementKeyStagedUpdate,
  revocationConfirmedSignal,
  revocationConfirmedUpdate,
  revokeReplacementKeySignal,
  revokeReplacementKeyUpdate,
  rollbackSignal,
  rollbackUpdate,
  statusQuery,
  invalid,
  notAllowed,
  notOpen,
  refusalFailureType,
  type Refusal,
  type AbortArgs,
  type Actor,
  type ApproveArgs,
  type EscalateArgs,
  type ExceptionInput,
  type ExtendHoldArgs,
  type Gate,
  type GateEvidence,
  type KeyState,
  type MessageAck,
  type Outcome,
  type PendingGate,
  type Phase,
  type RejectArgs,
  type ReplacementKeyStagedArgs,
  type RevocationConfirmedArgs,
  type RevokeReplacementKeyArgs,
  type RollbackArgs,
  type RotationStatus,
  type Verdict,
} from './messages';
import { approvalRefusal, finalFailureMessage } from './rules';
import {
  alertPrincipal,
  alertProof,
  alertRevokeBlockers,
  authorisingAlert,
  emergencyInput,
  escalateRefusal,
  escalationEffect,
  repeatsAlert,
} from './escalation';
import {
  analysisOutcome,
  drainSatisfied,
  inventoryCoverage,
  judgeWindow,
  newTally,
  nextZeroSince,
  probeFailure,
  recordCoverage,
  requiredSignals,
  tally,
  unobservable,
} from './analysis';
import { revokeGateEvidence } from './gate-evidence';
import { scopeCheckFromFailure } from './key-scope-status';
import {
  RESUME_POINTS,
  appendBounded,
  continueAsNewDue,
  type CompensationName,
  type ResumePoint,
  type RotationCarry,
} from './continuation';
import {
  ChangeTicketKey,
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationOutcomeKey,
  RotationPhaseKey,
  RotationRequestedByKey,
} from './search-attributes';

const preflightActs = proxyActivities<RotationActivities>(preflightOptions);
const vault = proxyActivities<RotationActivities>(vaultOptions);
const gatewayAdmin = proxyActivities<RotationActivities>(gatewayAdminOptions);
const canaryActs = proxyActivities<RotationActivities>(canaryOptions);
const telemetry = proxyActivities<RotationActivities>(telemetryOptions);
const negative = proxyActivities<RotationActivities>(negativeTestOptions);
const rollout = proxyActivities<RotationActivities>(rolloutHookOptions);
const evidence = proxyActivities<RotationActivities>(evidenceOptions);
const notifier = proxyActivities<RotationActivities>(notifyOptions);
const twinActs = proxyActivities<AutomationActivities>(preflightOptions);

/** Longest total extension of a hold, so a forgotten rotation cannot be extended forever. */
const MAX_TOTAL_EXTENSION_MS = 7 * 24 * 3600_000;
/** Negative test: old-key probes while revocation propagates (backoff doubles from the interval). */
const NEGATIVE_TEST_ATTEMPTS = 6;
const NEGATIVE_TEST_INTERVAL_MS = 2_000;
/** A flip waiting for a paired credential's hold retries after 30 s, doubling up to 5 min. */
const PAIR_WAIT_FIRST_MS = 30_000;
const PAIR_WAIT_MAX_MS = 5 * 60_000;

/** A human (or a gate) stopped the forward path; `kind` says how it ends. */
class Interrupted extends Error {
  constructor(
    readonly kind: 'rollback' | 'abort',
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Past the point where a rollback could help: the rotation fails with what is live spelled out. */
class Unrecoverable extends Error {
  constructor(
    reason: string,
    readonly live: NonNullable<RotationStatus['live']>,
  ) {
    super(reason);
  }
}

/** What the Temporal UI's current details tell a person at each gate. */
const GATE_HINTS: Record<PendingGate['gate'], string> = {
  'replacement-key':
    'create the new key at the gateway, then `rekey hand-off <id> --key-file -` (PUT /v1/rotations/<id>/replacement-key)',
  flip: 'release owner: `rekey approve <id> --gate flip` (or reject, or roll back)',
  revoke: 'on-call, not the requester: `rekey approve <id> --gate revoke` once old-key traffic is zero',
  'revocation-confirmation':
    'revoke the old key at the gateway, then `rekey confirm-revocation <id>` (POST /v1/rotations/<id>/revocation-confirmations)',
  'replacement-key-revocation':
    'the rolled-back replacement key is still live: once its traffic has drained, `rekey revoke-replacement-key <id> --reason …` (POST /v1/rotations/<id>/replacement-key-revocations)',
};

/** What a gate lacking positive evidence asks of the human. */
const INSUFFICIENT_HINT =
  'the evidence is insufficient: extend the hold (`rekey extend-hold`), roll back, or approve with `--accept-risk "<reason>"` to accept the risk on record';

/** Roles allowed to hand over a manual replacement key, and to confirm a manual revocation. */
const HANDOFF_ROLES: Role[] = ['requester', 'operator'];
const CONFIRM_ROLES: Role[] = ['approver', 'operator'];
/** Roles allowed to extend a hold and to have a kept replacement key revoked (see the README). */
const HOLD_ROLES: Role[] = ['operator', 'approver'];

const iso = (ms: number) => new Date(ms).toISOString();
/** Messages may not carry key-shaped text: whatever a message carries is written to history. */
const refuseKeyLike: TextScreen = (text, field, where) =>
  !KEY_LIKE.test(text)
    ? undefined
    : where === 'message'
      ? `${field} looks like it contains an API key: never paste keys into messages`
      : `exception ${field} looks like it contains an API key`;
const HOLD_CHECKS = ['new-key traffic', 'old-key drain', 'canary soak', 'usage attribution'];
const RECENT_HOLD_CHECKS = 24;
/** Attribution looks while the new key's first usage is still on its way to the telemetry. */
const ATTRIBUTION_LOOKS = 10;
const ATTRIBUTION_INTERVAL_MS = 30_000;
const BASELINE_FALLBACK_MS = 60 * 60_000;

/**
 * Runs one rotation from PREPARING to a terminal phase and returns its final status. `carry` is set
 * only by a run that continued as new: the successor picks up where it waited.
 */
export async function rotation(input: RotationInput, carry?: RotationCarry): Promise<RotationStatus> {
  return new Rotation(input, carry).run();
}

/** How far along the forward path a resume point is (a fresh run starts before all of them). */
const stage = (p: ResumePoint | undefined) => (p ? RESUME_POINTS.indexOf(p) : -1);

class Rotation {
  private readonly s: RotationStatus;
  private credential?: CredentialRef;
  private preflight?: PreflightResult;
  private interrupt?: Interrupted;
  private decisions = new Map<Gate, 'APPROVED' | 'REJECTED'>();
  private staged?: ReplacementKeyStagedArgs;
  private revocationConfirmed?: RevocationConfirmedArgs;
  private revocationConfirmedProof?: ProofRecord;
  private extensionMs = 0;
  private extensionsRequested = 0;
  /** Compensations owed, in the order they were pushed; a rollback runs them in reverse. */
  private readonly compensations: CompensationName[] = [];
  private readonly notifications: Promise<void>[] = [];
  /** Set once promote was asked for: from then on, consumers may hold the new key. */
  private flipped = false;
  /** The hold's start and per-consumer old-key traffic survive extensions (hold is re-entered). */
  private holdStart?: number;
  private zeroSince?: number;
  private lastProbe?: CanaryReport;
  /** Requests the latest probe sent: they land in the next window, and are not app traffic. */
  private probeRequests = 0;
  private holdTotals = { newKeyAppRequests: 0, oldKeyRequests: 0 };
  /** Why the last hold stopped short of positive evidence (an analysis limit, the max hold). */
  private holdStopped?: string;
  /** A revocation that was undone, and why: the revoke gate opens again with it as a blocker. */
  private revertedBecause?: string;
  private replacementRevocation?: RevokeReplacementKeyArgs;
  /** The workflow was cancelled: unwind without waiting for humans. */
  private cancelled = false;
  /** When the current phase was entered (workflow time), for the worker's phase-duration metric. */
  private phaseSince = Date.now();
  /** Nonces of the message proofs this rotation accepted, with their expiry: a proof counts once. */
  private readonly usedProofs = new Map<string, number>();
  /** Where a continued run picks up, and the locals of that wait. */
  private readonly resume?: RotationCarry;
  /** The pair holds (workflow ids) this rotation holds from before its flip to the end of its hold. */
  private readonly pairHolds: string[] = [];

  constructor(
    private readonly input: RotationInput,
    carry?: RotationCarry,
  ) {
    this.resume = carry;
    this.s = carry
      ? { ...carry.status, run: carry.run }
      : {
          run: 1,
          rotationId: input.rotationId,
          credential: input.credential,
          environment: input.environment,
          mode: input.mode,
          changeTicket: input.changeTicket.id,
          requestedBy: input.requestedBy,
          phase: 'PREPARING',
          timeline: [],
          checks: [],
          approvals: [],
          versions: {},
          fingerprints: {},
          gatewayKeys: {},
          preChecks: [],
          canary: [],
          exceptions: [],
          coverage: [],
          gateEvidence: {},
          riskAcceptances: [],
          ...(input.mode === 'emergency' ? { acceptedRisk: EMERGENCY_ACCEPTED_RISK } : {}),
        };
    if (carry) this.restore(carry);
    this.registerHandlers();
  }

  /** A continued run: everything its predecessor knew. */
  private restore(c: RotationCarry): void {
    this.credential = c.credential;
    this.preflight = c.preflight;
    this.compensations.push(...c.compensations);
    this.flipped = c.flipped;
    this.staged = c.staged;
    this.revocationConfirmed = c.revocationConfirmed;
    this.extensionMs = c.extensionMs;
    this.extensionsRequested = c.extensionsRequested;
    this.holdStart = c.holdStart;
    this.zeroSince = c.zeroSince;
    this.lastProbe = c.lastProbe;
    this.probeRequests = c.probeRequests;
    this.holdTotals = { ...c.holdTotals };
    this.holdStopped = c.holdStopped;
    this.revertedBecause = c.revertedBecause;
    this.cancelled = c.cancelled;
    this.phaseSince = c.phaseSince;
    for (const [nonce, expiresAtMs] of c.usedProofs ?? []) this.usedProofs.set(nonce, expiresAtMs);
    this.pairHolds.push(...(c.pairHolds ?? []));
  }

  async run(): Promise<RotationStatus> {
    const at = this.resume?.at;
    if (at) {
      this.log('continued-as-new', `run ${this.s.run} picks up at ${at}`);
      this.details(this.s.pendingGate ? this.gateHint(this.s.pendingGate) : undefined);
    } else {
      upsertSearchAttributes([
        { key: RotationCredentialKey, value: this.input.credential },
        { key: RotationEnvironmentKey, value: this.input.environment },
        { key: ChangeTicketKey, value: this.input.changeTicket.id },
        { key: RotationRequestedByKey, value: this.input.requestedBy },
      ]);
      this.enter('PREPARING', 'started', this.input.reason);
    }
    if (at === 'kept-key-revocation') {
      // The rollback itself ran in an earlier run: only the kept key's revocation and the end are left.
      const ending = this.resume!.ending!;
      const { outcome, end } = ending;
      return CancellationScope.nonCancellable(async () => {
        await this.awaitKeptKeyRevocation(ending, true);
        return this.finish(outcome, end);
      });
    }
    try {
      await this.forward(at);
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      // Even a cancelled workflow rolls back (or fails with what is live) and leaves evidence.
      this.cancelled = isCancellation(err);
      return CancellationScope.nonCancellable(() =>
        err instanceof Unrecoverable ? this.fail(err.message, err.live) : this.unwind(err),
      );
    }
    // The old key is proven refused; only irreversible clean-up is left.
    try {
      await this.finishRevocation();
    } catch (err) {
      return CancellationScope.nonCancellable(() =>
        this.fail(this.describe(err), {
          oldKey: this.s.revocation?.deletedAt ? 'deleted' : 'disabled',
          newKey: 'enabled',
          ...(this.s.versions.current ? { currentVersion: this.s.versions.current.version } : {}),
          detail:
            'the old key is refused by the gateway; finish its deletion and the retirement of the previous secret version by hand',
        }),
      );
    }
    return CancellationScope.nonCancellable(() => this.finish('completed', 'COMPLETED'));
  }

  /** The forward path up to a proven revocation, from the start or from where a continued run waits. */
  private async forward(at: ResumePoint | undefined): Promise<void> {
    if (stage(at) < stage('replacement-key')) {
      await this.stagingTwinGate();
      await this.prepare();
    }
    if (stage(at) <= stage('replacement-key')) {
      const pending =
        this.credential?.adminAdapter === 'manual'
          ? await this.awaitReplacementKey(at === 'replacement-key')
          : await this.issue();
      await this.canary(pending);
    }
    if (stage(at) <= stage('flip-gate')) {
      const soak = at === 'flip-gate' ? this.s.pendingGate?.blockers : await this.soak(at === 'soak');
      if (this.policy.flipApprovalRequired || soak || at === 'flip-gate')
        await this.awaitApproval('flip', this.input.flipRoles, soak, undefined, at === 'flip-gate');
      await this.takePairHolds();
      await this.flip();
    }
    // Past the flip, a continued run picks up inside the loop once, then goes round as usual.
    let resume = stage(at) >= stage('hold') ? at : undefined;
    for (;;) {
      const r = resume;
      resume = undefined;
      // A revocation undone by its negative test goes straight back to the gate, with the reason.
      if (r === 'hold' || (!r && !this.revertedBecause)) await this.hold(r === 'hold');
      if (r !== 'revocation-confirmation' && !(await this.awaitRevokeApproval(r === 'revoke-gate'))) continue;
      if (await this.revokeAndVerify(r === 'revocation-confirmation')) return;
    }
  }

  // ── phases ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Staging before production, before PREPARING reads anything: a credential whose registry entry names
   * a staging twin needs the twin's rotation with the same policy first, completed within the window
   * (mode require), or run now as a child workflow (mode run), which this one waits for. An emergency
   * does not wait. Nothing has changed when this fails, so the rotation fails with nothing to undo.
   */
  private async stagingTwinGate(): Promise<void> {
    if (!patched('staging-twin')) return;
    const check = await twinActs.checkStagingTwin({ input: this.input, nowMs: Date.now() });
    const twin = check.twin;
    if (!twin) return;
    const label = `${twin.environment}/${twin.name}`;
    const record: StagingTwinRecord = {
      credential: twin.name,
      environment: twin.environment,
      mode: twin.mode,
      withinDays: twin.withinDays,
      policyFingerprint: check.policyFingerprint,
      state: 'checking',
    };
    this.s.stagingTwin = record;
    const refuse = (type: string, detail: string): never => {
      record.state = 'failed';
      record.detail = detail;
      this.log('staging-twin-failed', detail);
      throw ApplicationFailure.nonRetryable(detail, type);
    };
    if (this.s.mode === 'emergency') {
      record.state = 'skipped';
      record.detail = `emergency: does not wait for ${label}`;
      this.log('staging-twin-skipped', record.detail);
      return;
    }
    if (twin.mode === 'require') {
      const missing = twinMissingReason(this.s, check);
      if (missing) return refuse(FailureTypes.StagingTwinMissing, missing);
      const m = check.match!;
      Object.assign(record, { state: 'passed', ...m });
      this.log('staging-twin-passed', `${m.rotationId} completed ${m.completedAt} with the same policy`);
      return;
    }
    const start = check.twinStart;
    if (!start) {
      return refuse(FailureTypes.StagingTwinMissing, `staging twin ${label} is not in the registry`);
    }
    const child = await startRotation(start.input, start.workflowId);
    if (!child) {
      return refuse(
        FailureTypes.StagingTwinFailed,
        `staging twin ${label} has a rotation running already (${start.workflowId}): let it end, then start this one again`,
      );
    }
    Object.assign(record, {
      state: 'running',
      rotationId: start.input.rotationId,
      workflowId: start.workflowId,
      runId: child.firstExecutionRunId,
    });
    this.log('staging-twin-started', `${start.input.rotationId} runs first, with the same policy`);
    this.details(`waiting for staging twin rotation ${start.input.rotationId}`);
    let end: Awaited<ReturnType<typeof rotationEnd>> | undefined;
    let endError: Error | undefined;
    void rotationEnd(child).then(
      (e) => void (end = e),
      (err: unknown) =>
        void (endError = err instanceof Error ? err : new Error(`staging twin rotation: ${String(err)}`)),
    );
    await condition(
      () =>
        end !== undefined ||
        endError !== undefined ||
        this.interrupt !== undefined ||
        this.s.mode === 'emergency',
    );
    this.checkpoint();
    if (endError !== undefined) throw endError;
    if (!end) {
      record.state = 'skipped';
      record.detail = `escalated to emergency while ${start.input.rotationId} ran: goes on without it`;
      this.log('staging-twin-skipped', record.detail);
      return;
    }
    if (!end.completed) {
      return refuse(
        FailureTypes.StagingTwinFailed,
        `staging twin rotation ${start.input.rotationId} ${end.why}: ${this.input.environment} is not rotated`,
      );
    }
    record.state = 'passed';
    record.completedAt = iso(Date.now());
    this.details(undefined);
    this.log('staging-twin-passed', `${start.input.rotationId} completed with the same policy`);
  }

  /** PREPARING: registry entry, current version and fingerprint, old key works, scope, baseline, pre-checks. */
  private async prepare(): Promise<void> {
    const p = await preflightActs.preflight({
      rotationId: this.input.rotationId,
      credential: this.input.credential,
      environment: this.input.environment,
      gatewayBaseUrl: this.input.gatewayBaseUrl,
      preChecks: this.input.preChecks,
    });
    this.preflight = p;
    this.credential = p.credential;
    this.s.versions.old = p.current;
    this.s.fingerprints.old = p.current.fingerprint;
    this.s.baseline = p.baseline;
    this.s.preChecks = p.preChecks;
    this.s.coverage = inventoryCoverage(this.input.apps, p.credential.consumers, p.baselineByConsumer);
    this.s.telemetry = {
      ...p.telemetry,
      unobservable: unobservable(requiredSignals(this.input.evidence), p.telemetry.capabilities),
    };
    if (p.oldGatewayKeyId) this.s.gatewayKeys.old = p.oldGatewayKeyId;
    this.check(
      'preflight',
      true,
      `current ${p.current.name}@${p.current.version} (${p.current.fingerprint}) answered ${p.oldKeyStatus}`,
    );
    for (const c of p.preChecks) this.check(`pre-check ${c.name}`, c.verified, `${c.result}: ${c.detail}`);
    if (this.s.telemetry.unobservable.length > 0) {
      this.log(
        'telemetry-blind-spots',
        `${p.telemetry.name} cannot observe ${this.s.telemetry.unobservable.join(', ')} per key: checks that need them are inconclusive`,
      );
    }
    if (p.credential.adminAdapter !== 'manual' && (!p.oldGatewayKeyId || !p.oldScope)) {
      throw ApplicationFailure.nonRetryable(
        `${p.credential.adminAdapter} gateway does not know the current key ${p.current.fingerprint}`,
        FailureTypes.OldKeyUnknownToGateway,
      );
    }
    this.checkpoint();
  }

  /** AWAITING_REPLACEMENT_KEY (manual gateways): a human hands the key to the API, which stages it. */
  private async awaitReplacementKey(resumed = false): Promise<SecretVersionRef> {
    const credential = this.credential!;
    if (!resumed) {
      this.enter(
        'AWAITING_REPLACEMENT_KEY',
        'gate-opened',
        'hand the replacement key to PUT /v1/rotations/:id/replacement-key',
      );
      // The API stages the key before it signals: a rollback while waiting must still discard it.
      this.compensate('discard pending secret');
      this.openGate('replacement-key', HANDOFF_ROLES);
    }
    await this.waitWithReminders(() => this.staged !== undefined, 'replacement key hand-off', {
      resumeAt: 'replacement-key',
    });
    const staged = this.staged!;
    this.closeGate();
    const pending = await vault.confirmStagedKey({
      rotationId: this.input.rotationId,
      credential,
      version: staged.version,
      fingerprint: staged.fingerprint,
    });
    this.s.versions.pending = pending;
    this.s.fingerprints.new = pending.fingerprint;
    this.log(
      'replacement-key-staged',
      `${pending.name}@${pending.version} ${pending.fingerprint}`,
      staged.principal,
    );
    this.checkpoint();
    return pending;
  }

  /** (issue) Automated gateways: a key with the same scope, stored as the pending secret. */
  private async issue(): Promise<SecretVersionRef> {
    this.enter('ISSUING', 'issuing', 'replacement key with the same scope');
    const credential = this.credential!;
    // Pushed before issuing: an issue that created a key and then failed (retries exhausted, scope
    // refused) must not leave it live. The key is found by the rotation's tag, not by an id we may lack.
    this.compensate('discard pending secret');
    this.compensate('revoke replacement gateway key');
    const issued = await gatewayAdmin
      .issueReplacementKey({
        rotationId: this.input.rotationId,
        credential,
        oldScope: this.preflight!.oldScope!,
        ...(this.s.gatewayKeys.old ? { oldGatewayKeyId: this.s.gatewayKeys.old } : {}),
        ...(this.input.keyScope ? { keyScope: this.input.keyScope } : {}),
      })
      .catch((err: unknown) => {
        const refused = scopeCheckFromFailure(err);
        if (refused) this.s.keyScope = refused;
        throw err;
      });
    this.s.gatewayKeys.new = issued.gatewayKeyId;
    // Results recorded before the scope check have none; status then shows no comparison.
    if (issued.scopeCheck) this.s.keyScope = issued.scopeCheck;
    this.s.versions.pending = issued.pending;
    this.s.fingerprints.new = issued.pending.fingerprint;
    this.log(
      'replacement-key-issued',
      `${issued.gatewayKeyId}${issued.reused ? ' (found by rotation id)' : ''}, pending ${issued.pending.version}`,
    );
    this.checkpoint();
    return issued.pending;
  }

  /** CANARY: every allowed route with the new key, then usage attribution. */
  private async canary(pending: SecretVersionRef): Promise<void> {
    this.enter('CANARY', 'canary', this.input.allowedRoutes.join(', '));
    const credential = this.credential!;
    const report = await canaryActs.runCanary({
      credential,
      version: pending,
      routes: this.input.allowedRoutes,
    });
    this.s.canary = report.requests;
    const failed = report.requests.filter((r) => !r.ok);
    const summary = report.requests.map(
      (r) => `${r.route}:${r.status}${r.ok ? '' : `(${r.reason ?? 'failed'})`}`,
    );
    this.check('canary', report.passed && failed.length === 0, summary.join(' '));
    if (!report.passed || failed.length > 0) {
      throw new Interrupted(
        'rollback',
        `canary failed: ${failed.map((r) => `${r.route} ${r.reason ?? r.status}`).join(', ')}`,
      );
    }
    // The canary's requests land in the first telemetry window: they are not app traffic either.
    this.probeRequests = report.requests.length;
    this.checkpoint();
    if (this.attributionRequired()) await this.checkAttribution(ATTRIBUTION_LOOKS);
  }

  private attributionRequired(): boolean {
    return (
      this.input.evidence.usage_owner_check === 'required' ||
      this.input.evidence.cost_anomaly_check === 'required'
    );
  }

  /**
   * Usage attribution: a wrong owner rolls back; no usage recorded yet is looked at again a few times
   * (the canary's requests are on their way to the telemetry), then left inconclusive for the gate.
   */
  private async checkAttribution(looks: number): Promise<void> {
    for (let look = 1; ; look++) {
      const a = await telemetry.checkAttribution({
        credential: this.credential!,
        key: this.keyRef('new'),
        expectedOwner: this.input.expectedOwner,
      });
      this.s.attribution = a;
      const detail = `owner ${a.owner ?? 'unknown'} (expected ${a.expectedOwner})${a.anomalies.length ? `; ${a.anomalies.join('; ')}` : ''}`;
      if (a.verdict === 'fail') {
        this.check('usage attribution', false, detail, { verdict: 'fail' });
        throw new Interrupted('rollback', `usage attribution failed: ${detail}`);
      }
      if (a.verdict === 'pass' || look >= looks) {
        this.check(
          'usage attribution',
          a.verdict === 'pass',
          a.verdict === 'pass' ? detail : 'no usage of the new key attributed yet',
          {
            verdict: a.verdict,
          },
        );
        return;
      }
      await this.sleepUnlessInterrupted(ATTRIBUTION_INTERVAL_MS, 'attribution not recorded yet');
    }
  }

  /**
   * The canary soak: registered canary consumers read the pending secret, and their traffic on it is
   * judged like the hold's, window by window, with an active probe each time. Without a cohort the
   * soak is synthetic: probes only. Returns the blockers of a soak that ended without positive
   * evidence (the flip gate then waits for a human), or undefined.
   */
  private async soak(resumed = false): Promise<string[] | undefined> {
    if (this.policy.canarySoakMs <= 0) return undefined;
    const credential = this.credential!;
    const cohort = this.s.coverage.filter((c) => c.canary).map((c) => c.consumer);
    const end = resumed ? this.resume!.soak!.endMs : Date.now() + this.input.canarySoakMs;
    this.details(
      `canary soak until ${iso(end)}${cohort.length ? ` with ${cohort.join(', ')} on the pending key` : ' (synthetic probes only: no canary consumers registered)'}`,
    );
    if (!resumed) this.s.analysis = newTally('soak', this.input.analysis);
    let from = resumed ? this.resume!.soak!.fromMs : Date.now();
    let stopped: string | undefined;
    while (Date.now() < end) {
      await this.continueAsNewIfDue('soak', { soak: { endMs: end, fromMs: from } });
      await this.sleepUnlessInterrupted(
        Math.min(this.input.checkIntervalMs, end - Date.now()),
        'canary soak',
        () => this.s.mode === 'emergency',
      );
      // Escalated to emergency: the synthetic canary already passed, and emergency mode has no soak.
      if (this.s.mode === 'emergency') {
        this.log('canary-soak-ended', 'escalated to emergency: no soak');
        return undefined;
      }
      const to = Date.now();
      const { verdict, reasons, figures } = await this.measure(
        { credential, newKey: this.keyRef('new'), fromMs: from, toMs: to },
        this.s.versions.pending!,
        cohort.length > 0,
      );
      from = to;
      const tallied = tally(this.s.analysis!, verdict);
      this.s.analysis = tallied;
      this.check(
        'canary soak',
        verdict === 'pass',
        `${verdict}${reasons.length ? `: ${reasons.join('; ')}` : ''}`,
        {
          verdict,
          reasons,
          ...(figures ? { figures } : {}),
        },
      );
      const outcome = analysisOutcome(tallied);
      if (outcome.state === 'failed')
        throw new Interrupted('rollback', `canary soak failed: ${reasons.join('; ')}`);
      if (outcome.state === 'inconclusive') {
        stopped = `canary soak inconclusive: ${outcome.why}`;
        break;
      }
    }
    const blockers = [
      ...(stopped ? [stopped] : []),
      ...(this.s.analysis!.passed === 0 && !stopped ? ['no soak window passed'] : []),
      ...this.s.coverage
        .filter((c) => c.canary && c.newKeyRequests === 0)
        .map((c) => `canary consumer ${c.consumer} never seen on the pending key`),
    ];
    if (blockers.length === 0) return undefined;
    this.s.gateEvidence.flip = {
      gate: 'flip',
      computedAt: iso(Date.now()),
      evidence: 'insufficient',
      blockers,
      rows: [],
    };
    return blockers;
  }

  /**
   * One measurement: a telemetry window and an active probe with the same key, judged together.
   * `judgeTraffic` false (a synthetic soak) judges the probe alone.
   */
  private async measure(
    window: {
      credential: CredentialRef;
      newKey: TelemetryKey;
      oldKey?: TelemetryKey;
      fromMs: number;
      toMs: number;
    },
    version: SecretVersionRef,
    judgeTraffic = true,
  ): Promise<ReturnType<typeof judgeWindow> & { observation: HoldObservation }> {
    const observation = await telemetry.observeHoldWindow(window);
    const probe = await canaryActs.runCanary({
      credential: window.credential,
      version,
      routes: this.input.allowedRoutes,
    });
    this.lastProbe = probe;
    this.s.coverage = recordCoverage(this.s.coverage, observation);
    const judged = judgeTraffic
      ? judgeWindow({
          observation,
          probe,
          baseline: this.s.baseline!,
          thresholds: this.input.thresholds,
          required: requiredSignals(this.input.evidence),
          probeRequestsInWindow: this.probeRequests,
        })
      : {
          verdict: (probeFailure(probe) ? 'fail' : 'pass') as Verdict,
          reasons: probeFailure(probe) ? [probeFailure(probe)!] : [],
          breaches: [],
          appRequests: 0,
        };
    this.probeRequests = probe.requests.length;
    return { ...judged, observation };
  }

  /** FLIPPING: the new key becomes the newest version of the stable path; optional rollout hook. */
  private async flip(): Promise<void> {
    this.enter(
      'FLIPPING',
      'flipping',
      `promote pending to ${secretPaths(secretLocationOf(this.credential!)).stable}`,
    );
    const credential = this.credential!;
    // Compensation first: promote is idempotent, and a promote whose answer was lost still needs undoing.
    this.compensate('restore old secret version');
    this.flipped = true;
    // The version that was canaried, and nothing else, becomes current.
    const staged = this.s.versions.pending!;
    const promoted = await vault.promote({
      rotationId: this.input.rotationId,
      credential,
      expected: { version: staged.version, fingerprint: staged.fingerprint },
    });
    this.s.versions.current = promoted.current;
    this.s.versions.old = promoted.previous;
    this.log(
      'promoted',
      `${promoted.current.name}@${promoted.current.version} is current; previous ${promoted.previous.version}`,
    );
    if (this.input.rolloutHookUrl) {
      const status = await rollout.callRolloutHook({
        rotationId: this.input.rotationId,
        url: this.input.rolloutHookUrl,
        version: promoted.current.version,
      });
      this.log('rollout-hook', `answered ${status}`);
    }
    this.checkpoint();
  }

  /**
   * HOLDING: a judged window every interval (new-key traffic against the baseline, an active probe,
   * old-key traffic per consumer). A failure rolls back; the hold ends when the revoke gate's rows
   * have positive evidence after the observation window, or stops short (an analysis limit, the max
   * hold) with blockers the revoke gate shows to a human.
   */
  private async hold(resumed = false): Promise<void> {
    // The hold's clock starts once: an extension adds time to the same hold, it does not start a new one.
    const start = (this.holdStart ??= Date.now());
    const observationEnd = start + this.input.observationWindowMs;
    const maxHoldEnd = () => start + this.input.maxHoldMs + this.extensionMs;
    const emergency = this.s.mode === 'emergency';
    if (!resumed) await this.takePairHolds();
    const lastCheck = resumed ? this.resume!.hold!.lastCheckMs : Date.now();
    if (!resumed) this.startHold(start, observationEnd, maxHoldEnd(), emergency);
    try {
      await this.holdChecks(start, observationEnd, maxHoldEnd, lastCheck);
    } catch (err) {
      // A continued run keeps its pairs; a rollback lets them go (as finish would).
      if (!(err instanceof ContinueAsNew)) await this.releasePairHolds();
      throw err;
    }
    // Leaving HOLDING for the revoke gate: a paired credential may flip and hold now.
    await this.releasePairHolds();
  }

  /** The hold's checks, until the hold ends or stops short; throws to roll back. */
  private async holdChecks(
    start: number,
    observationEnd: number,
    maxHoldEnd: () => number,
    lastCheckMs: number,
  ): Promise<void> {
    const credential = this.credential!;
    let lastCheck = lastCheckMs;
    for (;;) {
      await this.continueAsNewIfDue('hold', { hold: { lastCheckMs: lastCheck } });
      const waiting = this.s.hold?.waitingFor;
      this.details(
        `next check at ${iso(Date.now() + this.input.checkIntervalMs)}${waiting?.length ? `; the hold goes on for: ${waiting.join('; ')}` : ''}`,
      );
      await this.sleepUnlessInterrupted(this.input.checkIntervalMs, 'hold check interval');
      const now = Date.now();
      const m = await this.measure(
        { credential, newKey: this.keyRef('new'), oldKey: this.keyRef('old'), fromMs: lastCheck, toMs: now },
        this.s.versions.current!,
      );
      lastCheck = now;
      const { verdict, reasons, observation } = m;
      const tallied = tally(this.s.analysis!, verdict);
      this.s.analysis = tallied;
      this.countTotals(m.figures, m.appRequests, observation);
      const fig = m.figures;
      const figures = fig
        ? `${m.appRequests} app req, ${fig.authErrors} 401/403, ${fig.rateLimited} 429, ${fig.serverErrors} 5xx, p95 ${fig.p95LatencyMs} ms`
        : 'no figures';
      this.check(
        'new-key traffic',
        verdict === 'pass',
        `${verdict}: ${figures}${reasons.length ? ` — ${reasons.join('; ')}` : ''}`,
        { verdict, reasons, ...(fig ? { figures: fig } : {}), breaches: m.breaches },
      );
      const old = observation.oldKeyByConsumer;
      this.zeroSince = nextZeroSince(this.zeroSince, old, observation.fromMs);
      if (this.zeroSince !== undefined) this.s.hold!.oldKeyZeroSince = iso(this.zeroSince);
      else delete this.s.hold!.oldKeyZeroSince;
      const oldTotal = old?.reduce((n, c) => n + c.requests, 0);
      const perConsumer = (old ?? [])
        .filter((c) => c.requests > 0)
        .map((c) => `${c.consumer}=${c.requests}`)
        .join(' ');
      this.check(
        'old-key drain',
        oldTotal === 0,
        old
          ? `${oldTotal} old-key req${perConsumer ? ` (${perConsumer})` : ''}`
          : 'old-key traffic could not be read',
        { verdict: old ? (oldTotal === 0 ? 'pass' : 'inconclusive') : 'error' },
      );
      this.s.hold!.maxHoldEndsAt = iso(maxHoldEnd());
      this.details(`${verdict}: ${figures}; old key ${oldTotal ?? '?'} req`);
      const outcome = analysisOutcome(tallied);
      if (outcome.state === 'failed') {
        throw new Interrupted('rollback', `new-key traffic failed the hold analysis: ${reasons.join('; ')}`);
      }
      this.checkpoint();
      if (outcome.state === 'inconclusive') {
        this.holdStopped = `hold analysis inconclusive: ${outcome.why}`;
        this.log('analysis-inconclusive', `${outcome.why}; last: ${reasons.join('; ')}`);
        return;
      }
      // Read each round: an escalation mid-hold drops the drain wait from the next check on.
      const emergencyNow = this.s.mode === 'emergency';
      const drained = drainSatisfied(this.zeroSince, now, this.policy.drainWindowMs);
      const waitForDrain = this.policy.requireOldKeyDrain && !emergencyNow;
      if (emergencyNow ? verdict === 'pass' : now >= observationEnd && (drained || !waitForDrain)) {
        if (this.attributionRequired() && this.s.attribution?.verdict !== 'pass')
          await this.checkAttribution(1);
        const gate = this.revokeGate();
        if (gate.evidence === 'positive' || emergencyNow || !waitForDrain) {
          delete this.s.hold!.waitingFor;
          return;
        }
        // Said on the status and the UI: why a hold past its observation window goes on.
        this.s.hold!.waitingFor = gate.blockers;
      } else if (now >= observationEnd) {
        this.s.hold!.waitingFor = [
          emergencyNow ? 'a passing post-flip check' : 'old-key traffic at zero for the drain window',
        ];
      }
      if (now >= maxHoldEnd()) {
        const onOld = this.s.coverage.filter(
          (c) =>
            c.lastOldKeyAt &&
            Date.parse(c.lastOldKeyAt) >=
              now - Math.max(this.policy.drainWindowMs, this.input.checkIntervalMs),
        );
        this.holdStopped = `max hold reached without positive evidence${onOld.length ? `; old key still used by ${onOld.map((c) => c.consumer).join(', ')}` : ''}`;
        this.log('max-hold-reached', this.holdStopped);
        return;
      }
    }
  }

  /**
   * Before the flip and each entry into HOLDING: takes the holds of every pair (paired credentials
   * share consumers), waiting while a paired credential flips or holds. An emergency does not wait.
   */
  private async takePairHolds(): Promise<void> {
    const credential = this.credential!;
    const pairs = credential.pairedWith ?? [];
    if (pairs.length === 0 || !patched('paired-holds')) return;
    const ids = pairs.map((p) => pairHoldId(credential.environment, credential.name, p));
    const holder = this.input.rotationId;
    const leaseMs = this.input.maxHoldMs + this.extensionMs + PAIR_HOLD_LEASE_MARGIN_MS;
    let backoffMs = PAIR_WAIT_FIRST_MS;
    for (;;) {
      // A leak does not wait (an escalation mid-wait ends it): the pairing is said in the timeline.
      if (this.s.mode === 'emergency') {
        await this.releasePairHolds();
        if (!this.s.timeline.some((t) => t.event === 'pair-wait-skipped'))
          this.log('pair-wait-skipped', `emergency: does not wait for ${pairs.join(', ')}`);
        break;
      }
      const busy = await takePairs(ids, this.pairHolds, (id) => ({
        holder,
        environment: credential.environment,
        credential: credential.name,
        pairedWith: otherOfPair(id, credential.name),
        leaseMs,
      }));
      if (!busy) break;
      // All or none: what this try took goes back, so two rotations never hold half each.
      await this.releasePairHolds();
      const other = otherOfPair(busy, credential.name);
      if (!this.s.pairWait) {
        this.s.pairWait = { pairedWith: [other], since: iso(Date.now()) };
        this.log('pair-wait', `${other} shares consumers and is flipping or holding: the flip waits`);
      } else this.s.pairWait.pairedWith = [other];
      this.details(`waiting for paired credential ${other} to leave HOLDING`);
      // Jittered so two waiters do not retry in step; Math.random is seeded per workflow (deterministic).
      await this.sleepUnlessInterrupted(
        backoffMs * (0.75 + Math.random() / 2),
        `waiting for paired credential ${other}`,
        () => this.s.mode === 'emergency',
      );
      backoffMs = Math.min(backoffMs * 2, PAIR_WAIT_MAX_MS);
    }
    if (this.s.pairWait) {
      this.log('pair-wait-over', `waited since ${this.s.pairWait.since}`);
      delete this.s.pairWait;
    }
  }

  /** Lets every pair this rotation holds go (none held: nothing happens). */
  private async releasePairHolds(): Promise<void> {
    if (this.pairHolds.length === 0) return;
    await CancellationScope.nonCancellable(() => releasePairs(this.pairHolds, this.input.rotationId));
  }

  /** Enters HOLDING: the hold's dates, its totals (kept across extensions), a fresh analysis. */
  private startHold(start: number, observationEnd: number, maxHoldEnd: number, emergency: boolean): void {
    this.holdStopped = undefined;
    this.s.hold = {
      startedAt: iso(start),
      observationEndsAt: iso(observationEnd),
      maxHoldEndsAt: iso(maxHoldEnd),
      // An extended hold starts again but keeps counting.
      totals: this.s.hold?.totals ?? {
        checks: 0,
        newKeyRequests: 0,
        authErrors: 0,
        rateLimited: 0,
        serverErrors: 0,
        oldKeyRequests: 0,
      },
    };
    // Each entry into the hold (the first, or after a human extended it) is a fresh analysis.
    this.s.analysis = newTally('hold', this.input.analysis);
    this.enter(
      'HOLDING',
      'holding',
      emergency ? 'post-flip checks until one passes (emergency)' : `observe until ${iso(observationEnd)}`,
    );
  }

  /** Sums over the whole hold; the checks list keeps only the latest windows. */
  private countTotals(
    fig: HoldObservation['newKey'] | undefined,
    appRequests: number,
    observation: HoldObservation,
  ): void {
    const totals = this.s.hold!.totals;
    totals.checks += 1;
    const oldRequests = (observation.oldKeyByConsumer ?? []).reduce((n, c) => n + c.requests, 0);
    totals.oldKeyRequests += oldRequests;
    this.holdTotals.oldKeyRequests += oldRequests;
    if (!fig) return;
    totals.newKeyRequests += appRequests;
    totals.authErrors += fig.authErrors;
    totals.rateLimited += fig.rateLimited;
    totals.serverErrors += fig.serverErrors;
    this.holdTotals.newKeyAppRequests += appRequests;
  }

  /** The revoke gate's rows as of now, from what the hold observed. */
  private revokeGate(): GateEvidence {
    const baseline = this.s.baseline!;
    return revokeGateEvidence({
      nowMs: Date.now(),
      input: this.policy,
      manualGateway: this.credential?.adminAdapter === 'manual',
      canary: this.s.canary,
      ...(this.s.keyScope ? { keyScope: this.s.keyScope } : {}),
      ...(this.lastProbe ? { lastProbe: this.lastProbe } : {}),
      ...(this.s.attribution ? { attribution: this.s.attribution } : {}),
      ...(this.s.analysis ? { analysis: this.s.analysis } : {}),
      ...(this.holdStopped || this.revertedBecause
        ? { analysisStopped: [this.revertedBecause, this.holdStopped].filter(Boolean).join('; ') }
        : {}),
      checks: this.s.checks.filter((c) => c.name === 'new-key traffic'),
      coverage: this.s.coverage,
      exceptions: this.s.exceptions,
      unobservable: this.s.telemetry?.unobservable ?? [],
      ...(this.zeroSince !== undefined ? { oldKeyZeroSince: this.zeroSince } : {}),
      baseline: {
        requests: baseline.requests,
        windowMs: baseline.toMs - baseline.fromMs || BASELINE_FALLBACK_MS,
      },
      holdStartMs: this.holdStart ?? Date.now(),
      holdTotals: this.holdTotals,
    });
  }

  /**
   * AWAITING_REVOKE_APPROVAL: the seed's rollback checks, computed now and shown in the gate; true once
   * approved, false when the hold was extended (hold again).
   */
  private async awaitRevokeApproval(resumed = false): Promise<boolean> {
    for (;;) {
      let blockers = this.s.pendingGate?.blockers;
      if (!resumed) {
        // Attribution left inconclusive at the canary is looked at once more: the new key has traffic now.
        if (this.attributionRequired() && this.s.attribution?.verdict !== 'pass')
          await this.checkAttribution(1);
        const gate = this.revokeGate();
        this.s.gateEvidence.revoke = gate;
        blockers = gate.evidence === 'positive' ? undefined : gate.blockers;
        if (this.approvedByAlert(gate)) return true;
      }
      const extensionsBefore = this.extensionsRequested;
      const escalationsBefore = this.s.escalations?.length ?? 0;
      const escalated = () => (this.s.escalations?.length ?? 0) !== escalationsBefore;
      const decision = await this.awaitApproval(
        'revoke',
        this.input.revokeRoles,
        blockers,
        () => this.extensionsRequested !== extensionsBefore || escalated(),
        resumed,
      );
      // Escalated while the gate waited: the gate opens again, computed under the emergency rules.
      if (decision === undefined && escalated() && this.extensionsRequested === extensionsBefore) {
        resumed = false;
        continue;
      }
      if (decision !== 'APPROVED') this.revertedBecause = undefined;
      return decision === 'APPROVED';
    }
  }

  /**
   * The emergency revoke rule `alert`: the verified leak alert approves the revoke gate itself, on
   * record, when the canary and the hold's last post-flip check passed and the gate's evidence is
   * positive. Otherwise (or under break_glass) a person decides at the gate.
   */
  private approvedByAlert(gate: GateEvidence): boolean {
    const policy = this.policy;
    if (policy.mode !== 'emergency' || policy.emergencyRevoke !== 'alert') return false;
    const alert = authorisingAlert(this.input, this.s.escalations);
    const stoppedShort = [this.revertedBecause, this.holdStopped].filter(Boolean).join('; ');
    const blockers = alertRevokeBlockers({
      input: policy,
      alert,
      canary: this.s.canary,
      lastHoldVerdict: this.s.checks.filter((c) => c.name === 'new-key traffic').at(-1)?.verdict,
      stoppedShort: stoppedShort || undefined,
      gate,
    });
    if (blockers.length > 0 || !alert) {
      this.log('alert-approval-withheld', `a person approves the revoke: ${blockers.join('; ')}`);
      return false;
    }
    const principal = alertPrincipal(alert);
    const proof = alertProof(alert);
    this.enter(
      'AWAITING_REVOKE_APPROVAL',
      'gate-opened',
      `revoke approved by the verified alert ${principal}`,
    );
    this.openGate('revoke', this.input.revokeRoles);
    const comment =
      'emergency: the verified leak alert authorises the revoke (canary and post-flip check passed)';
    this.s.approvals.push({
      gate: 'revoke',
      decision: 'APPROVED',
      principal,
      at: iso(Date.now()),
      comment,
      proof,
    });
    this.log('revoke-approved', comment, principal, proof);
    this.closeGate();
    return true;
  }

  /** The input as the rotation runs it now: an escalated rotation runs as an emergency policy would. */
  private get policy(): RotationInput {
    return this.s.mode === 'emergency' ? emergencyInput(this.input) : this.input;
  }

  /**
   * REVOKING then VERIFYING_REVOCATION, reversible until proven: probe the new key on every route
   * (else roll back, old key untouched), disable the old key, negative test. A failed test re-enables
   * the old key and returns false (the revoke gate opens again); a new key that fails rolls back.
   * True once the old key is proven refused and the new key accepted.
   */
  private async revokeAndVerify(resumed = false): Promise<boolean> {
    if (resumed) await this.awaitRevocationConfirmation(true);
    else if (!(await this.revoke())) return false;
    return this.verifyRevocation();
  }

  /** REVOKING: the pre-revoke probe, then disable (or delete, or a human's confirmation). */
  private async revoke(): Promise<boolean> {
    this.enter('REVOKING', 'revoking', this.s.gatewayKeys.old ?? 'manual revocation');
    const credential = this.credential!;
    const manual = credential.adminAdapter === 'manual';
    const probe = await canaryActs.runCanary({
      credential,
      version: this.s.versions.current!,
      routes: this.input.allowedRoutes,
    });
    const failed = probeFailure(probe);
    const method = manual
      ? 'manual'
      : this.preflight!.gatewayCanDisable
        ? 'disable-then-delete'
        : 'delete-only';
    this.s.revocation = { method, preRevokeProbe: probe.requests };
    this.check(
      'pre-revoke probe',
      !failed,
      failed ?? probe.requests.map((r) => `${r.route}:${r.status}`).join(' '),
      {
        verdict: failed ? 'fail' : 'pass',
      },
    );
    if (failed)
      throw new Interrupted('rollback', `${failed} just before revoke; the old key was not touched`);
    this.revertedBecause = undefined;
    // Rotations recorded before the grace check (0.1.0–0.3.0 histories) replay without it.
    if (patched('old-key-grace-check')) await this.checkOldKeyGrace();

    if (manual) {
      await this.awaitRevocationConfirmation(false);
    } else if (method === 'disable-then-delete') {
      const oldKeyId = this.s.gatewayKeys.old!;
      try {
        const r = await gatewayAdmin.disableGatewayKey({ credential, keyId: oldKeyId });
        this.s.revocation.disabledAt = r.at;
        this.log(
          'old-key-disabled',
          `${oldKeyId} ${r.result} at ${r.at} (reversible until the negative test passes)`,
        );
      } catch (err) {
        return this.undoRevocation(`disabling the old key failed: ${this.describe(err)}`, true);
      }
    } else {
      const r = await gatewayAdmin.deleteGatewayKey({ credential, keyId: this.s.gatewayKeys.old! });
      this.s.revocation.deletedAt = r.at;
      this.log(
        'old-key-deleted',
        `${this.s.gatewayKeys.old} ${r.result}: the gateway cannot disable keys, so there is no way back`,
      );
    }
    return true;
  }

  /**
   * Just before revoke, the old key must still answer 2xx on every replica. A gateway that cut it early
   * (LiteLLM #27193) does not stop the revoke (the key is dead already), but apps still on it lost
   * service before rekey revoked anything: the check fails, the timeline and an alert say so.
   */
  private async checkOldKeyGrace(): Promise<void> {
    let grace;
    try {
      grace = await negative.checkOldKeyGrace({ credential: this.credential!, old: this.s.versions.old! });
    } catch (err) {
      this.check('old-key grace', false, `not verified: ${this.describe(err)}`, { verdict: 'inconclusive' });
      return;
    }
    this.s.revocation = { ...this.s.revocation!, oldKeyGrace: grace };
    const cut = grace.replicas.filter((r) => !r.ok);
    const detail = grace.replicas.map((r) => `${r.replica}:${r.status}`).join(' ');
    const why = `the gateway refused the old key before rekey revoked it (${cut.map((r) => `${r.replica} ${r.status}`).join(', ')}): consumers still on it lost service early`;
    // A breach, so the post-change review ("no hidden impact") lists it beside the hold's.
    const breaches = cut.length
      ? [{ check: 'old-key-grace' as const, observed: cut.length, limit: 0, detail: why }]
      : [];
    this.check('old-key grace', grace.passed, detail, {
      verdict: grace.passed ? 'pass' : 'fail',
      ...(breaches.length ? { breaches } : {}),
    });
    if (cut.length === 0) return;
    this.log('old-key-cut-early', why);
    this.notify('alert', why);
  }

  /** Manual gateways: a human revokes the old key at the gateway and confirms it. */
  private async awaitRevocationConfirmation(resumed: boolean): Promise<void> {
    if (!resumed) {
      this.openGate('revocation-confirmation', CONFIRM_ROLES);
      this.revocationConfirmed = undefined;
    }
    await this.waitWithReminders(() => this.revocationConfirmed !== undefined, 'revocation confirmation', {
      resumeAt: 'revocation-confirmation',
    });
    this.closeGate();
    this.log(
      'revocation-confirmed',
      this.revocationConfirmed!.comment,
      this.revocationConfirmed!.principal,
      this.revocationConfirmedProof,
    );
  }

  /** VERIFYING_REVOCATION: the negative test; a failure undoes the revocation. */
  private async verifyRevocation(): Promise<boolean> {
    const credential = this.credential!;
    this.enter('VERIFYING_REVOCATION', 'negative-test');
    const result = await negative.negativeTest({
      credential,
      old: this.s.versions.old!,
      current: this.s.versions.current!,
      attempts: NEGATIVE_TEST_ATTEMPTS,
      intervalMs: NEGATIVE_TEST_INTERVAL_MS,
    });
    this.s.negativeTest = result;
    const detail = `old key ${result.oldKeyStatus} after ${result.attempts} attempt(s), new key ${result.newKeyStatus}`;
    const passed = result.oldKeyRejected && result.newKeyAccepted;
    this.check('negative test', passed, detail, { verdict: passed ? 'pass' : 'fail' });
    if (passed) return true;
    const why = result.newKeyAccepted
      ? `negative test failed: old key still accepted after revocation (${detail})`
      : `new key refused after the old key was revoked (${detail})`;
    return this.undoRevocation(why, result.newKeyAccepted);
  }

  /**
   * The way back after a revocation that did not prove out: the old key enabled again, an alert, and
   * the revoke gate again (old key still accepted) or a rollback (the new key fails). Where nothing
   * can be undone (deleted, manual), the rotation fails with what is live.
   */
  private async undoRevocation(why: string, newKeyWorks: boolean): Promise<false> {
    const credential = this.credential!;
    const method = this.s.revocation?.method;
    const current = this.s.versions.current?.version;
    const live = (oldKey: KeyState, detail: string) => ({
      oldKey,
      newKey: (newKeyWorks ? 'enabled' : 'unknown') as KeyState,
      ...(current ? { currentVersion: current } : {}),
      detail,
    });
    if (method === 'delete-only') {
      throw new Unrecoverable(
        why,
        live(
          'deleted',
          'the old key is deleted (the gateway cannot disable keys): nothing to undo; fix the new key at the gateway',
        ),
      );
    }
    if (method === 'manual') {
      if (!newKeyWorks) {
        throw new Unrecoverable(
          why,
          live(
            'unknown',
            're-enable or recreate the old key at the gateway by hand, then roll the secret back',
          ),
        );
      }
      this.log('manual-action', `${why}: revoke the old key at the gateway again, then confirm`);
    } else {
      try {
        const r = await gatewayAdmin.enableGatewayKey({ credential, keyId: this.s.gatewayKeys.old! });
        this.s.revocation = { ...this.s.revocation!, reEnabledAt: r.at };
        this.log('old-key-re-enabled', `${this.s.gatewayKeys.old} ${r.result}: ${why}`);
      } catch (err) {
        throw new Unrecoverable(
          `${why}; re-enabling the old key failed: ${this.describe(err)}`,
          live(
            'disabled',
            'the old key is disabled and could not be re-enabled; enable it at the gateway, then roll back',
          ),
        );
      }
    }
    this.notify('alert', `${why}; the old key works again`);
    if (!newKeyWorks) throw new Interrupted('rollback', `${why}; the old key was re-enabled`);
    this.revertedBecause = `revocation undone: ${why}`;
    return false;
  }

  /** VERIFYING_REVOCATION, after the negative test passed: delete the old key, retire its version. */
  private async finishRevocation(): Promise<void> {
    const credential = this.credential!;
    if (this.s.revocation?.method === 'disable-then-delete') {
      const r = await gatewayAdmin.deleteGatewayKey({ credential, keyId: this.s.gatewayKeys.old! });
      this.s.revocation.deletedAt = r.at;
      this.log('old-key-deleted', `${this.s.gatewayKeys.old} ${r.result} at ${r.at}`);
    }
    const retired = await vault.retirePrevious({ rotationId: this.input.rotationId, credential });
    if (retired) this.s.versions.retired = retired;
    this.log(
      'previous-version-retired',
      retired ? `${retired.name}@${retired.version}` : 'nothing to retire',
    );
  }

  // ── endings ───────────────────────────────────────────────────────────────────────────────────

  /** Routes a failure of the forward path: rollback saga, abort, or FAILED when nothing was changed. */
  private async unwind(err: unknown): Promise<RotationStatus> {
    const cause = err instanceof Interrupted ? err : (this.interrupt ?? undefined);
    if (cause?.kind === 'abort') return this.rollBack(cause.reason, 'ABORTED', 'aborted');
    if (cause) return this.rollBack(cause.reason, 'ROLLED_BACK', 'rolled_back');
    const reason = this.describe(err);
    if (this.compensations.length === 0) return this.fail(reason);
    return this.rollBack(reason, 'ROLLED_BACK', 'rolled_back');
  }

  /** ROLLING_BACK: compensations in reverse; the old key becomes the newest version again. */
  private async rollBack(
    cause: string,
    end: 'ROLLED_BACK' | 'ABORTED',
    outcome: Outcome,
  ): Promise<RotationStatus> {
    this.s.rollbackCause = cause;
    this.closeGate();
    this.enter('ROLLING_BACK', 'rolling-back', cause);
    const failures: string[] = [];
    for (const step of [...this.compensations].reverse()) {
      try {
        const note = await this.runCompensation(step);
        // A step that chose not to act says so; only a step that acted is "compensated".
        if (note) this.log('compensation-skipped', `${step}: ${note}`);
        else this.log('compensated', step);
      } catch (err) {
        // Stop here: a later step (revoking the new key) must not run while an earlier one (the
        // old value back as the newest version) did not, or consumers would be left with no key.
        failures.push(`${step}: ${this.describe(err)}`);
        break;
      }
    }
    if (this.credential?.adminAdapter === 'manual' && this.s.fingerprints.new) {
      this.s.keptReplacementKey ??= { fingerprint: this.s.fingerprints.new, since: iso(Date.now()) };
      this.log(
        'manual-action',
        `revoke the handed-over key ${this.s.fingerprints.new} at the gateway by hand`,
      );
    }
    if (failures.length > 0) return this.fail(`rollback incomplete: ${failures.join('; ')}`);
    if (this.s.keptReplacementKey?.keyId && this.input.revokeNewKeyOnRollback) {
      if (this.cancelled) {
        this.notify(
          'alert',
          `replacement key ${this.s.keptReplacementKey.keyId} is still live: revoke it once its traffic has drained`,
        );
      } else await this.awaitKeptKeyRevocation({ outcome, end });
    }
    return this.finish(outcome, end);
  }

  /**
   * After a rollback past the flip, the replacement key stays live for consumers that reloaded. The
   * rollback is not over until it is revoked: the ticket is reminded, and a human asks for the
   * revocation once its traffic has drained, which rekey checks before revoking.
   */
  private async awaitKeptKeyRevocation(
    ending: NonNullable<RotationCarry['ending']>,
    resumed = false,
  ): Promise<void> {
    const credential = this.credential!;
    const kept = this.s.keptReplacementKey!;
    if (!resumed) this.openGate('replacement-key-revocation', HOLD_ROLES);
    for (;;) {
      this.replacementRevocation = undefined;
      // Already rolling back: a rollback request cannot cut this wait short.
      await this.waitWithReminders(
        () => this.replacementRevocation !== undefined,
        `revocation of the kept replacement key ${kept.keyId}`,
        {
          interruptible: false,
          note: 'the replacement key is still live',
          resumeAt: 'kept-key-revocation',
          carry: { ending },
        },
      );
      const asked = this.replacementRevocation!;
      const windowMs = Math.max(this.input.drainWindowMs, this.input.checkIntervalMs);
      const now = Date.now();
      const seen = await telemetry.observeHoldWindow({
        credential,
        newKey: this.keyRef('new'),
        fromMs: now - windowMs,
        toMs: now,
      });
      const users = (seen.newKeyByConsumer ?? []).filter((c) => c.requests > 0);
      if (!seen.newKeyByConsumer || users.length > 0) {
        const why = seen.newKeyByConsumer
          ? `still used in the last ${Math.round(windowMs / 1000)} s by ${users.map((c) => `${c.consumer} (${c.requests} req)`).join(', ')}`
          : `its traffic could not be read (${seen.errors.join('; ')})`;
        this.log('replacement-key-revocation-refused', `${kept.keyId} ${why}`, asked.principal);
        this.notify('alert', `kept replacement key ${kept.keyId} not revoked: ${why}`);
        continue;
      }
      const r = await gatewayAdmin.revokeIssuedKey({ rotationId: this.input.rotationId, credential });
      kept.revokedAt = r.at;
      kept.revokedBy = asked.principal;
      this.closeGate();
      this.log(
        'replacement-key-revoked',
        `${r.keyId ?? kept.keyId} ${r.method}: ${asked.reason}`,
        asked.principal,
      );
      return;
    }
  }

  /** FAILED: only where a human must act; alerts the ticket with what is live. */
  private async fail(reason: string, live?: RotationStatus['live']): Promise<RotationStatus> {
    this.s.failure = { phase: this.s.phase, reason };
    if (live) this.s.live = live;
    this.closeGate();
    this.notify(
      'alert',
      `rotation failed in ${this.s.phase}: ${reason}${live ? ` — live: ${live.detail}` : ''}`,
    );
    return this.finish('failed', 'FAILED');
  }

  /**
   * Terminal phase: outcome search attribute, evidence bundle, ticket notified. A rotation that did
   * not complete ends the workflow with a typed failure carrying its status, so the Temporal UI, the
   * CLI's workflow list and Temporal's own metrics show it apart from a completed one.
   */
  private async finish(outcome: Outcome, end: Phase): Promise<RotationStatus> {
    await this.releasePairHolds();
    delete this.s.pairWait;
    this.s.outcome = outcome;
    if (end === 'COMPLETED') this.enter('ARCHIVING', 'archiving');
    upsertSearchAttributes([{ key: RotationOutcomeKey, value: outcome }]);
    // The last timeline entry is written before the bundle, so the evidence holds the whole story.
    this.enter(end, 'finished', outcome);
    try {
      // The activity builds the bundle from the status, the ticket's input, the registry and the vault.
      this.s.evidence = await evidence.writeEvidence({
        rotationId: this.input.rotationId,
        bundle: this.s,
        input: this.input,
      });
    } catch (err) {
      // The rotation's effect stands either way; the missing bundle is an alert, not a reason to undo.
      this.notify('alert', `evidence bundle not written: ${this.describe(err)}`);
    }
    this.notify('finished', `rotation ${outcome}`);
    // Close cleanly: no notification left running, and an update that arrived in the last
    // activation answers before the run closes.
    await Promise.allSettled(this.notifications);
    await condition(allHandlersFinished);
    if (outcome === 'completed') return this.s;
    // A cancelled rotation ends cancelled (its status stays queryable); the rest end failed, typed.
    if (this.cancelled) throw new CancelledFailure(`rotation cancelled and ${outcome}`);
    throw ApplicationFailure.create({
      type: OUTCOME_FAILURE_TYPES[outcome],
      message: `rotation ${outcome}: ${this.s.rollbackCause ?? this.s.failure?.reason ?? end}`,
      nonRetryable: true,
      details: [this.s],
    });
  }

  // ── gates and waiting ─────────────────────────────────────────────────────────────────────────

  /**
   * An approval gate: APPROVED returns; REJECTED rolls back; a timeout reminds and keeps waiting.
   * `blockers`: the gate lacks positive evidence, and only an approval accepting the risk opens it.
   */
  private async awaitApproval(
    gate: Gate,
    roles: Role[],
    blockers?: string[],
    leaveEarly?: () => boolean,
    resumed = false,
  ) {
    if (!resumed) {
      this.decisions.delete(gate);
      const phase: Phase = gate === 'flip' ? 'AWAITING_FLIP_APPROVAL' : 'AWAITING_REVOKE_APPROVAL';
      this.enter(
        phase,
        'gate-opened',
        blockers?.length
          ? `insufficient evidence: ${blockers.join('; ')}`
          : `${gate} approval by ${roles.join(' or ')}`,
      );
      this.openGate(gate, roles, blockers);
    }
    await this.waitWithReminders(
      () => this.decisions.has(gate) || (leaveEarly?.() ?? false),
      `${gate} approval`,
      { resumeAt: gate === 'flip' ? 'flip-gate' : 'revoke-gate' },
    );
    this.closeGate();
    const decision = this.decisions.get(gate);
    if (decision === 'REJECTED') throw new Interrupted('rollback', `${gate} approval rejected`);
    return decision;
  }

  /**
   * Waits for a condition; each reminder interval without it notifies the ticket and waits again. A
   * history grown long meanwhile (reminders, refused messages) continues as new at `resumeAt`.
   */
  private async waitWithReminders(
    done: () => boolean,
    what: string,
    {
      interruptible = true,
      note = 'the old key keeps working',
      resumeAt,
      carry = {},
    }: {
      interruptible?: boolean;
      note?: string;
      resumeAt: ResumePoint;
      carry?: Partial<RotationCarry>;
    },
  ): Promise<void> {
    const answered = () => done() || (interruptible && this.interrupt !== undefined);
    for (;;) {
      // The server's own suggestion (a flood of messages) cuts the wait short; our bound is looked at
      // after each reminder, when no timer is pending.
      const met = await condition(
        () => answered() || workflowInfo().continueAsNewSuggested,
        this.input.approvalReminderMs,
      );
      if (interruptible) this.checkpoint();
      if (answered()) return;
      if (met) {
        await this.continueAsNewUnless(answered, resumeAt, carry);
        continue;
      }
      if (this.s.pendingGate) this.s.pendingGate.reminders += 1;
      this.log('approval-timeout', `still waiting for ${what}; ${note}`);
      this.notify(
        'approval-timeout',
        `still waiting for ${what} since ${this.s.pendingGate?.openedAt ?? '?'}`,
      );
      // A long history hands over here, unless an answer arrives while the run drains.
      if (this.continueAsNewDue()) {
        await this.continueAsNewUnless(answered, resumeAt, carry);
        if (interruptible) this.checkpoint();
        if (answered()) return;
      }
    }
  }

  private continueAsNewDue(): boolean {
    return continueAsNewDue(workflowInfo(), this.input.continueAsNewAfterEvents);
  }

  /** At the top of a soak or hold window: hands over to a new run when the history is long. */
  private async continueAsNewIfDue(at: ResumePoint, carry: Partial<RotationCarry>): Promise<void> {
    if (!this.continueAsNewDue()) return;
    await this.continueAsNewUnless(() => this.interrupt !== undefined, at, carry);
    this.checkpoint();
  }

  /**
   * Continues as new at `at`, unless `answered` turns true while the run drains (notifications sent,
   * message handlers finished): then the caller goes on in this run. Everything the workflow knows
   * goes to the successor; the search attributes and memo ride along.
   */
  private async continueAsNewUnless(
    answered: () => boolean,
    at: ResumePoint,
    extra: Partial<RotationCarry>,
  ): Promise<void> {
    await Promise.allSettled(this.notifications);
    this.notifications.length = 0;
    await condition(allHandlersFinished);
    if (answered()) return;
    const carry: RotationCarry = {
      at,
      run: (this.s.run ?? 1) + 1,
      status: this.s,
      credential: this.credential!,
      preflight: this.preflight!,
      compensations: [...this.compensations],
      flipped: this.flipped,
      ...(this.staged ? { staged: this.staged } : {}),
      ...(this.revocationConfirmed ? { revocationConfirmed: this.revocationConfirmed } : {}),
      extensionMs: this.extensionMs,
      extensionsRequested: this.extensionsRequested,
      ...(this.holdStart !== undefined ? { holdStart: this.holdStart } : {}),
      ...(this.zeroSince !== undefined ? { zeroSince: this.zeroSince } : {}),
      ...(this.lastProbe ? { lastProbe: this.lastProbe } : {}),
      probeRequests: this.probeRequests,
      holdTotals: this.holdTotals,
      ...(this.holdStopped ? { holdStopped: this.holdStopped } : {}),
      ...(this.revertedBecause ? { revertedBecause: this.revertedBecause } : {}),
      cancelled: this.cancelled,
      phaseSince: this.phaseSince,
      ...(this.usedProofs.size > 0 ? { usedProofs: [...this.usedProofs] } : {}),
      ...(this.pairHolds.length > 0 ? { pairHolds: [...this.pairHolds] } : {}),
      ...extra,
    };
    const info = workflowInfo();
    log.info('continuing as new', {
      at,
      run: carry.run,
      events: info.historyLength,
      bytes: info.historySize,
    });
    await makeContinueAsNewFunc<typeof rotation>({
      typedSearchAttributes: info.typedSearchAttributes,
      ...(info.memo ? { memo: info.memo } : {}),
    })(this.input, carry);
  }

  /** A durable timer that an interrupt (rollback, abort) cuts short. */
  private async sleepUnlessInterrupted(ms: number, what: string, wake?: () => boolean): Promise<void> {
    await condition(() => this.interrupt !== undefined || (wake?.() ?? false), ms, { summary: what });
    this.checkpoint();
  }

  private checkpoint(): void {
    if (this.interrupt) throw this.interrupt;
  }

  // ── messages ──────────────────────────────────────────────────────────────────────────────────

  private registerHandlers(): void {
    setHandler(statusQuery, () => this.s);
    this.both(
      approveUpdate,
      approveSignal,
      (a) => this.refuseApprove(a),
      (a, proof) => this.applyDecision(a, 'APPROVED', proof),
    );
    this.both(
      rejectUpdate,
      rejectSignal,
      (a) => this.refuseReject(a),
      (a, proof) => this.applyDecision(a, 'REJECTED', proof),
    );
    this.both(
      rollbackUpdate,
      rollbackSignal,
      (a) => this.refuseRollback(a),
      (a, proof) => this.applyInterrupt('rollback', a, proof),
    );
    this.both(
      abortUpdate,
      abortSignal,
      (a) => this.refuseAbort(a),
      (a, proof) => this.applyInterrupt('abort', a, proof),
    );
    this.both(
      extendHoldUpdate,
      extendHoldSignal,
      (a) => this.refuseExtend(a),
      (a, proof) => this.applyExtend(a, proof),
    );
    this.both(
      replacementKeyStagedUpdate,
      replacementKeyStagedSignal,
      (a) => this.refuseStaged(a),
      (a) => {
        this.staged = a;
      },
    );
    this.both(
      revocationConfirmedUpdate,
      revocationConfirmedSignal,
      (a) => this.refuseConfirmation(a),
      (a, proof) => {
        this.revocationConfirmed = a;
        this.revocationConfirmedProof = proof;
      },
    );
    this.both(
      revokeReplacementKeyUpdate,
      revokeReplacementKeySignal,
      (a) => this.refuseReplacementRevocation(a),
      (a, proof) => {
        this.replacementRevocation = a;
        this.log('replacement-key-revocation-requested', a.reason, a.principal, proof);
      },
    );
    this.both(
      escalateUpdate,
      escalateSignal,
      (a) => this.refuseEscalate(a),
      (a, proof) => this.applyEscalate(a, proof),
    );
  }

  /**
   * One handler behind an update and its same-named signal; a refused signal is logged, not applied.
   * Every message is judged in the same order: its shape, whether the rotation still takes messages,
   * the proof of who sent it, then what it asks for (roles, phase, four-eyes).
   */
  private both<A extends Actor>(
    update: UpdateDefinition<MessageAck, [A]>,
    signal: SignalDefinition<[A]>,
    refuse: (args: A) => Refusal | undefined,
    apply: (args: A, proof: ProofRecord | undefined) => void,
  ): void {
    const name = signal.name;
    setHandler(
      update,
      (args: A): MessageAck => {
        // The validator passed (it is not run again on replay): the same verdict, now taken.
        apply(args, this.takeProof(this.proofVerdict(name, args)));
        return { accepted: true, phase: this.s.phase };
      },
      {
        validator: (args: A) => {
          const refusal = this.refuseMalformed(args) ?? this.refuseUnproven(name, args) ?? refuse(args);
          if (refusal) {
            throw ApplicationFailure.create({
              type: refusalFailureType(refusal.kind),
              message: refusal.message,
              nonRetryable: true,
            });
          }
        },
      },
    );
    setHandler(signal, (args: A) => {
      // A signal cannot be rejected; a handler that threw would fail the workflow task on every
      // replay, so anything unexpected is recorded as a refusal instead.
      let refusal: string | undefined;
      let unproven = false;
      try {
        refusal = this.refuseMalformed(args)?.message;
        if (!refusal) {
          const verdict = this.proofVerdict(name, args);
          if (verdict && !verdict.ok) {
            refusal = verdict.refusal;
            unproven = true;
          } else {
            refusal = refuse(args)?.message;
            if (!refusal) apply(args, this.takeProof(verdict));
          }
        }
      } catch (err) {
        refusal = `malformed ${name}: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (refusal) {
        // An unproven message's principal is only a claim: the refusal names it, `by` does not.
        const by = !unproven && typeof args?.principal === 'string' ? args.principal : undefined;
        this.log(`${name}-refused`, refusal, by);
      }
    });
  }

  /**
   * Whether a message's proof holds, or undefined for a rotation started without message trust (before
   * rekey signed messages): those take messages as they always did, so their histories replay alike.
   */
  private proofVerdict(message: string, args: Actor): ProofVerdict | undefined {
    const trust = this.input.messageTrust;
    if (!trust) return undefined;
    return verifyProof({
      trust,
      rotationId: this.input.rotationId,
      message,
      args: args,
      nowMs: Date.now(),
      nonceUsed: (nonce) => this.usedProofs.has(nonce),
    });
  }

  private refuseUnproven(message: string, args: Actor): Refusal | undefined {
    const verdict = this.proofVerdict(message, args);
    return verdict && !verdict.ok ? notAllowed(verdict.refusal) : undefined;
  }

  /** Spends an accepted proof's nonce (forgetting expired ones) and returns how the message was proven. */
  private takeProof(verdict: ProofVerdict | undefined): ProofRecord | undefined {
    if (!verdict?.ok) return undefined;
    const now = Date.now();
    for (const [nonce, expiresAtMs] of this.usedProofs) {
      if (expiresAtMs < now) this.usedProofs.delete(nonce);
    }
    if (verdict.nonce) this.usedProofs.set(verdict.nonce, verdict.expiresAtMs ?? now);
    return verdict.record;
  }

  private refuseMalformed(args: unknown): Refusal | undefined {
    // Messages come as untrusted JSON (Temporal CLI, UI): the domain's shape checks, in the order and
    // with the texts this validator has always used, then whether the rotation still takes messages.
    const malformed = malformedMessage(args, Date.now(), refuseKeyLike);
    if (malformed) return invalid(malformed);
    const keptKeyWait = this.s.pendingGate?.gate === 'replacement-key-revocation';
    if (TERMINAL_PHASES.includes(this.s.phase) || (this.s.phase === 'ROLLING_BACK' && !keptKeyWait)) {
      return notOpen(`the rotation is ${this.s.phase}`);
    }
    return undefined;
  }

  private gateOpen(gate: Gate): boolean {
    return this.s.pendingGate?.gate === gate && !this.decisions.has(gate);
  }

  private refuseApprove(a: ApproveArgs): Refusal | undefined {
    const gateFault = unknownGate(a.gate);
    if (gateFault) return invalid(gateFault);
    if (!this.gateOpen(a.gate)) return notOpen(`the ${a.gate} gate is not open (phase ${this.s.phase})`);
    const refusal = approvalRefusal(
      a,
      this.s.pendingGate!.requiredRoles,
      this.input.requestedBy,
      this.s.mode,
    );
    if (refusal) return refusal;
    if (this.s.pendingGate!.evidence === 'insufficient' && !a.riskReason?.trim()) {
      return invalid(
        `the ${a.gate} gate lacks positive evidence (${(this.s.pendingGate!.blockers ?? []).join('; ')}): approve with a riskReason (rekey approve --accept-risk "<reason>") to accept the risk on record, extend the hold, or roll back`,
      );
    }
    return undefined;
  }

  private refuseReject(a: RejectArgs): Refusal | undefined {
    const gateFault = unknownGate(a.gate);
    if (gateFault) return invalid(gateFault);
    if (!this.gateOpen(a.gate)) return notOpen(`the ${a.gate} gate is not open (phase ${this.s.phase})`);
    if (!a.reason?.trim()) return invalid('a rejection needs a reason');
    if (!a.roles.some((r) => this.s.pendingGate!.requiredRoles.includes(r))) {
      return notAllowed(
        `${a.principal} lacks a required role (${this.s.pendingGate!.requiredRoles.join(' or ')})`,
      );
    }
    return undefined;
  }

  private refuseRollback(a: RollbackArgs): Refusal | undefined {
    if (!a.roles.some((r) => r === 'operator' || r === 'approver'))
      return notAllowed(`${a.principal} lacks the operator or approver role`);
    if (!a.reason?.trim()) return invalid('a rollback needs a reason');
    if (this.s.phase === 'ROLLING_BACK') return notOpen('a rollback is already under way');
    if (POINT_OF_NO_RETURN.includes(this.s.phase)) {
      return notOpen(
        `too late to roll back: the old key is being or has been revoked (phase ${this.s.phase})`,
      );
    }
    if (this.interrupt) return notOpen(`a ${this.interrupt.kind} is already under way`);
    return undefined;
  }

  private refuseAbort(a: AbortArgs): Refusal | undefined {
    if (!a.roles.some((r) => r === 'operator' || r === 'requester'))
      return notAllowed(`${a.principal} lacks the operator or requester role`);
    if (!a.reason?.trim()) return invalid('an abort needs a reason');
    const beforeFlip: Phase[] = [
      'PREPARING',
      'AWAITING_REPLACEMENT_KEY',
      'ISSUING',
      'CANARY',
      'AWAITING_FLIP_APPROVAL',
    ];
    if (!beforeFlip.includes(this.s.phase))
      return notOpen(`abort is only possible before the flip; use rollback (phase ${this.s.phase})`);
    if (this.interrupt) return notOpen(`a ${this.interrupt.kind} is already under way`);
    return undefined;
  }

  private refuseExtend(a: ExtendHoldArgs): Refusal | undefined {
    if (!a.roles.some((r) => HOLD_ROLES.includes(r)))
      return notAllowed(`${a.principal} lacks the operator or approver role`);
    if (!Number.isFinite(a.minutes) || a.minutes < 1 || a.minutes > 24 * 60)
      return invalid('minutes must be between 1 and 1440');
    if (!a.reason?.trim()) return invalid('an extension needs a reason');
    if (this.s.phase !== 'HOLDING' && !this.gateOpen('revoke')) {
      return notOpen(
        `the hold can only be extended while HOLDING or at the revoke gate (phase ${this.s.phase})`,
      );
    }
    if (this.extensionMs + a.minutes * 60_000 > MAX_TOTAL_EXTENSION_MS)
      return invalid('extensions may add up to 7 days at most');
    return undefined;
  }

  private refuseReplacementRevocation(a: RevokeReplacementKeyArgs): Refusal | undefined {
    if (!a.roles.some((r) => HOLD_ROLES.includes(r)))
      return notAllowed(`${a.principal} lacks the operator or approver role`);
    if (this.s.pendingGate?.gate !== 'replacement-key-revocation')
      return notOpen(`no kept replacement key awaits revocation (phase ${this.s.phase})`);
    if (!a.reason?.trim()) return invalid('a revocation request needs a reason');
    if (this.replacementRevocation) return notOpen('a revocation of the kept key is already being checked');
    return undefined;
  }

  private refuseEscalate(a: EscalateArgs): Refusal | undefined {
    const exposureFault = malformedExposure(a.exposure, refuseKeyLike);
    if (exposureFault) return invalid(exposureFault);
    return escalateRefusal(a, {
      phase: this.s.phase,
      ...(this.interrupt ? { interrupting: this.interrupt.kind } : {}),
    });
  }

  /**
   * Emergency mode from now on, the reason and the alert on record. A pending flip approval is waived
   * here; the soak, the hold and the revoke gate read the mode themselves. The same alert twice: once.
   */
  private applyEscalate(a: EscalateArgs, proof: ProofRecord | undefined): void {
    if (repeatsAlert(a, { exposure: this.s.exposure, escalations: this.s.escalations })) {
      this.log('escalation-repeated', `alert ${a.exposure!.source}:${a.exposure!.alertId} already on record`);
      return;
    }
    const flipGate = this.gateOpen('flip');
    const effect = escalationEffect(this.s.phase, flipGate);
    this.s.escalations = [
      ...(this.s.escalations ?? []),
      {
        at: iso(Date.now()),
        principal: a.principal,
        reason: a.reason,
        phase: this.s.phase,
        ...(a.exposure ? { exposure: a.exposure } : {}),
        effect,
        ...(proof ? { proof } : {}),
      },
    ];
    if (a.exposure && !this.s.exposure) this.s.exposure = a.exposure;
    this.s.mode = 'emergency';
    this.s.acceptedRisk ??= EMERGENCY_ACCEPTED_RISK;
    this.log(
      'escalated',
      `${a.reason}${a.exposure ? ` (alert ${a.exposure.source}:${a.exposure.alertId})` : ''}; ${effect}`,
      a.principal,
      proof,
    );
    if (flipGate) this.decisions.set('flip', 'APPROVED');
    this.details(`escalated to emergency: ${effect}`);
  }

  private refuseStaged(a: ReplacementKeyStagedArgs): Refusal | undefined {
    if (!a.roles.some((r) => HANDOFF_ROLES.includes(r)))
      return notAllowed(`${a.principal} lacks the requester or operator role`);
    if (this.s.phase !== 'AWAITING_REPLACEMENT_KEY')
      return notOpen(`no replacement key is awaited (phase ${this.s.phase})`);
    if (this.staged) return notOpen(`a replacement key was already handed over (${this.staged.fingerprint})`);
    const handOffFault = malformedHandOff(a);
    if (handOffFault) return invalid(handOffFault);
    if (a.fingerprint === this.s.fingerprints.old) {
      return invalid('this is the key being replaced, not a new one: hand over a newly created key');
    }
    return undefined;
  }

  private refuseConfirmation(a: RevocationConfirmedArgs): Refusal | undefined {
    if (!a.roles.some((r) => CONFIRM_ROLES.includes(r)))
      return notAllowed(`${a.principal} lacks the approver or operator role`);
    if (this.s.pendingGate?.gate !== 'revocation-confirmation') {
      return notOpen(`no revocation confirmation is awaited (phase ${this.s.phase})`);
    }
    return undefined;
  }

  private applyDecision(
    a: ApproveArgs | RejectArgs,
    decision: 'APPROVED' | 'REJECTED',
    proof: ProofRecord | undefined,
  ): void {
    this.decisions.set(a.gate, decision);
    const comment = 'comment' in a ? a.comment : 'reason' in a ? a.reason : undefined;
    this.s.approvals.push({
      gate: a.gate,
      decision,
      principal: a.principal,
      at: iso(Date.now()),
      ...(comment ? { comment } : {}),
      ...('breakGlassReason' in a && a.breakGlassReason ? { breakGlassReason: a.breakGlassReason } : {}),
      ...(proof ? { proof } : {}),
    });
    this.log(`${a.gate}-${decision.toLowerCase()}`, comment, a.principal, proof);
    if (decision !== 'APPROVED' || !('gate' in a)) return;
    const approve = a as ApproveArgs;
    if (approve.exceptions) this.recordExceptions(approve.exceptions, a.principal);
    if (approve.riskReason && this.s.pendingGate?.evidence === 'insufficient') {
      const missing = this.s.pendingGate.blockers ?? [];
      this.s.riskAcceptances.push({
        gate: a.gate,
        principal: a.principal,
        reason: approve.riskReason,
        missing,
        at: iso(Date.now()),
      });
      this.log('risk-accepted', `${approve.riskReason} (missing: ${missing.join('; ')})`, a.principal);
    }
  }

  /** Exceptions replace earlier ones for the same consumer; its old-key requests so far ride along. */
  private recordExceptions(list: ExceptionInput[], by: string): void {
    for (const e of list) {
      const seen = this.s.coverage.find((c) => c.consumer === e.consumer);
      this.s.exceptions = [
        ...this.s.exceptions.filter((x) => x.consumer !== e.consumer),
        {
          consumer: e.consumer,
          requests: seen?.oldKeyRequests ?? 0,
          owner: e.owner,
          expiresAt: e.expiresAt,
          compensatingControl: e.compensatingControl,
          recordedBy: by,
          recordedAt: iso(Date.now()),
        },
      ];
      this.log(
        'exception-recorded',
        `${e.consumer}: ${e.owner} until ${e.expiresAt} (${e.compensatingControl})`,
        by,
      );
    }
  }

  private applyInterrupt(
    kind: 'rollback' | 'abort',
    a: RollbackArgs | AbortArgs,
    proof: ProofRecord | undefined,
  ): void {
    this.interrupt = new Interrupted(kind, `${kind} requested by ${a.principal}: ${a.reason}`);
    this.log(`${kind}-requested`, a.reason, a.principal, proof);
  }

  private applyExtend(a: ExtendHoldArgs, proof: ProofRecord | undefined): void {
    this.extensionMs += a.minutes * 60_000;
    this.extensionsRequested += 1;
    this.log('hold-extended', `${a.minutes} min: ${a.reason}`, a.principal, proof);
    if (a.exceptions) this.recordExceptions(a.exceptions, a.principal);
  }

  // ── status bookkeeping ────────────────────────────────────────────────────────────────────────

  private enter(phase: Phase, event: string, detail?: string): void {
    const left = { phase: this.s.phase, seconds: (Date.now() - this.phaseSince) / 1000 };
    this.phaseSince = Date.now();
    this.s.phase = phase;
    this.log(event, detail);
    upsertSearchAttributes([{ key: RotationPhaseKey, value: phase }]);
    this.details(detail);
    if (phase !== 'PREPARING') {
      this.notify('phase-changed', `${phase}${detail ? `: ${detail}` : ''}`, left);
    }
  }

  private openGate(gate: PendingGate['gate'], roles: Role[], blockers?: string[]): void {
    const evidence =
      gate === 'flip' || gate === 'revoke'
        ? ({ evidence: blockers?.length ? 'insufficient' : 'positive' } as const)
        : {};
    this.s.pendingGate = {
      gate,
      openedAt: iso(Date.now()),
      requiredRoles: roles,
      reminders: 0,
      ...evidence,
      ...(blockers?.length ? { blockers } : {}),
    };
    this.details(this.gateHint(this.s.pendingGate));
    this.notify(
      'gate-opened',
      `${gate} gate open for ${roles.join(' or ')}${blockers?.length ? `; insufficient evidence: ${blockers.join('; ')}` : ''}`,
    );
  }

  /** The gate itself is already a line of the details; say how to answer it, and what it lacks. */
  private gateHint({ gate, blockers }: PendingGate): string {
    const hint = GATE_HINTS[gate].replaceAll('<id>', this.input.rotationId);
    const rows = gate === 'revoke' ? this.s.gateEvidence.revoke?.rows : undefined;
    const table = rows
      ? rows
          .map(
            (r) =>
              `${r.state === 'green' ? '✓' : r.state === 'red' ? '✗' : '?'} ${r.signal}: ${r.evidence.join('; ')}`,
          )
          .join('\n')
      : undefined;
    return [blockers?.length ? `${INSUFFICIENT_HINT}\n\nblockers: ${blockers.join('; ')}` : hint, table]
      .filter(Boolean)
      .join('\n\n');
  }

  private closeGate(): void {
    delete this.s.pendingGate;
  }

  /** The Temporal UI's current details: phase, what it waits for, the latest figures. */
  private details(what?: string): void {
    const lines = [
      `**${this.s.phase}** · ${this.input.credential} (${this.input.environment}) · ticket ${this.input.changeTicket.id}`,
    ];
    if (this.s.pendingGate)
      lines.push(
        `waiting for: ${this.s.pendingGate.gate} (${this.s.pendingGate.requiredRoles.join(' or ')})`,
      );
    if (what) lines.push(what);
    const last = this.s.checks.at(-1);
    if (last)
      lines.push(
        `last check: ${last.name} ${last.verdict ?? (last.passed ? 'pass' : 'fail')} — ${last.detail}`,
      );
    setCurrentDetails(lines.join('\n\n'));
  }

  private log(event: string, detail?: string, by?: string, proof?: ProofRecord): void {
    const entry = {
      at: iso(Date.now()),
      phase: this.s.phase,
      event,
      ...(detail ? { detail } : {}),
      ...(by ? { by } : {}),
      ...(proof ? { proof: describeProof(proof) } : {}),
    };
    // Bounded however long the rotation waits: reminders and refused messages are dropped first.
    const omitted = this.s.timelineOmitted ?? {};
    appendBounded(this.s.timeline, entry, omitted);
    if (Object.keys(omitted).length > 0) this.s.timelineOmitted = omitted;
  }

  private check(
    name: string,
    passed: boolean,
    detail: string,
    extra: Partial<RotationStatus['checks'][number]> = {},
  ): void {
    this.s.checks.push({ at: iso(Date.now()), name, passed, detail, ...extra });
    // Hold checks repeat every interval: keep the latest of each kind (totals live in s.hold) so the
    // status, the result and the evidence stay small however long the hold.
    const same = this.s.checks.filter((c) => c.name === name);
    if (same.length > RECENT_HOLD_CHECKS && HOLD_CHECKS.includes(name)) {
      this.s.checks.splice(this.s.checks.indexOf(same[0]!), 1);
    }
  }

  /** The old or new key as telemetry knows it: fingerprint, and the gateway's id when there is one. */
  private keyRef(which: 'old' | 'new'): TelemetryKey {
    const gatewayKeyId = this.s.gatewayKeys[which];
    return { fingerprint: this.s.fingerprints[which]!, ...(gatewayKeyId ? { gatewayKeyId } : {}) };
  }

  private compensate(name: CompensationName): void {
    this.compensations.push(name);
  }

  /** Runs one compensation; one that chose not to act says why, `undefined` means done as named. */
  private async runCompensation(name: CompensationName): Promise<string | void> {
    const credential = this.credential!;
    const rotationId = this.input.rotationId;
    switch (name) {
      case 'discard pending secret':
        return vault.discardPending({ rotationId, credential });
      case 'revoke replacement gateway key': {
        if (this.flipped) {
          // Consumers that reloaded after the flip still hold the new key: revoking it now would cut
          // them off until they reload again, so it stays enabled, tracked, until its traffic drains.
          this.s.keptReplacementKey = {
            ...(this.s.gatewayKeys.new ? { keyId: this.s.gatewayKeys.new } : {}),
            ...(this.s.fingerprints.new ? { fingerprint: this.s.fingerprints.new } : {}),
            since: iso(Date.now()),
          };
          return `kept enabled: replacement key ${this.s.gatewayKeys.new ?? '?'} may still be in use; revoke it once its traffic has drained`;
        }
        if (!this.input.revokeNewKeyOnRollback)
          return 'kept: the policy keeps the replacement key (rollback.revoke_new_key: false)';
        const r = await gatewayAdmin.revokeIssuedKey({ rotationId, credential });
        this.log('replacement-key-revoked', `${r.keyId ?? 'no key was issued'} ${r.method}`);
        return;
      }
      case 'restore old secret version': {
        const r = await vault.restoreOldSecret({ rotationId, credential });
        if (r.restored) this.s.versions.restored = r.restored;
        if (this.input.rolloutHookUrl && r.restored) {
          const status = await rollout.callRolloutHook({
            rotationId,
            url: this.input.rolloutHookUrl,
            version: r.restored.version,
          });
          this.log('rollout-hook', `rollback rollout answered ${status}`);
        }
        return;
      }
    }
  }

  /**
   * Best effort: a webhook failure never blocks or fails the rotation. The figures for the worker's
   * metrics ride along on the same call (an input change replays; an added activity call would not).
   */
  private notify(
    event: 'phase-changed' | 'gate-opened' | 'approval-timeout' | 'alert' | 'finished',
    message: string,
    left?: { phase: Phase; seconds: number },
  ): void {
    const sent = notifier
      .notify({
        rotationId: this.input.rotationId,
        event,
        phase: this.s.phase,
        message,
        ...(this.input.changeTicket.webhookUrl ? { webhookUrl: this.input.changeTicket.webhookUrl } : {}),
        metrics: {
          credential: this.input.credential,
          environment: this.input.environment,
          ...(event === 'finished' && this.s.outcome ? { outcome: this.s.outcome } : {}),
          ...(left ? { left } : {}),
        },
      })
      .catch((err: unknown) => log.warn('notification failed', { event, error: this.describe(err) }));
    this.notifications.push(sent);
  }

  private describe(err: unknown): string {
    // An activity that failed for good carries its last attempt's message, which may promise a retry.
    if (err instanceof ActivityFailure && err.cause)
      return `${err.activityType}: ${finalFailureMessage(err.cause.message)}`;
    if (isCancellation(err)) return 'cancelled';
    return err instanceof Error ? err.message : String(err);
  }
}
