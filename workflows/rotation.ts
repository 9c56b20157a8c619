// The rotation runbook as a durable workflow: prepare, stage the replacement, canary, flip, hold and
// watch, drain, revoke after approval, prove the old key dead, archive. Before revoke every step pushes
// its compensation; a rollback runs them in reverse. Only references and fingerprints pass through here.
import {
  ApplicationFailure,
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
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { RotationActivities } from '../activities';
import type { TelemetryKey } from '../activities/ports';
import type { CredentialRef, PreflightResult, SecretVersionRef } from '../activities/types';
import type { RotationInput, Role } from '../common/policy';
import { KEY_LIKE } from '../common/key-shape';
import { EMERGENCY_ACCEPTED_RISK } from '../common/risk';
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
  POINT_OF_NO_RETURN,
  TERMINAL_PHASES,
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  extendHoldSignal,
  extendHoldUpdate,
  rejectSignal,
  rejectUpdate,
  replacementKeyStagedSignal,
  replacementKeyStagedUpdate,
  revocationConfirmedSignal,
  revocationConfirmedUpdate,
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
  type ExtendHoldArgs,
  type Gate,
  type MessageAck,
  type Outcome,
  type PendingGate,
  type Phase,
  type RejectArgs,
  type ReplacementKeyStagedArgs,
  type RevocationConfirmedArgs,
  type RollbackArgs,
  type RotationStatus,
} from './messages';
import {
  approvalRefusal,
  drainSatisfied,
  evaluateThresholds,
  nextZeroSince,
  undrainedConsumers,
} from './rules';
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

/** Longest total extension of a hold, so a forgotten rotation cannot be extended forever. */
const MAX_TOTAL_EXTENSION_MS = 7 * 24 * 3600_000;
/** Negative test: old-key probes while revocation propagates (backoff doubles from the interval). */
const NEGATIVE_TEST_ATTEMPTS = 6;
const NEGATIVE_TEST_INTERVAL_MS = 2_000;

/** A human (or a gate) stopped the forward path; `kind` says how it ends. */
class Interrupted extends Error {
  constructor(
    readonly kind: 'rollback' | 'abort',
    readonly reason: string,
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
};

/** Roles allowed to hand over a manual replacement key, and to confirm a manual revocation. */
const HANDOFF_ROLES: Role[] = ['requester', 'operator'];
const CONFIRM_ROLES: Role[] = ['approver', 'operator'];

const iso = (ms: number) => new Date(ms).toISOString();
/** Text fields a message may carry. */
const TEXT_FIELDS = ['gate', 'comment', 'reason', 'breakGlassReason', 'version', 'fingerprint'];
const HOLD_CHECKS = ['new-key traffic', 'old-key drain'];
const RECENT_HOLD_CHECKS = 24;

/** Runs one rotation from PREPARING to a terminal phase and returns its final status. */
export async function rotation(input: RotationInput): Promise<RotationStatus> {
  return new Rotation(input).run();
}

class Rotation {
  private readonly s: RotationStatus;
  private credential?: CredentialRef;
  private preflight?: PreflightResult;
  private interrupt?: Interrupted;
  private decisions = new Map<Gate, 'APPROVED' | 'REJECTED'>();
  private staged?: ReplacementKeyStagedArgs;
  private revocationConfirmed?: RevocationConfirmedArgs;
  private extensionMs = 0;
  private extensionsRequested = 0;
  private readonly compensations: { name: string; run: () => Promise<unknown> }[] = [];
  private readonly notifications: Promise<void>[] = [];
  /** Set once promote was asked for: from then on, consumers may hold the new key. */
  private flipped = false;
  /** The hold's start and per-consumer old-key traffic survive extensions (hold is re-entered). */
  private holdStart?: number;
  private readonly oldKeySeen = new Map<string, { requests: number; lastSeenMs: number }>();
  /** When the current phase was entered (workflow time), for the worker's phase-duration metric. */
  private phaseSince = Date.now();

  constructor(private readonly input: RotationInput) {
    this.s = {
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
      ...(input.mode === 'emergency' ? { acceptedRisk: EMERGENCY_ACCEPTED_RISK } : {}),
    };
    this.registerHandlers();
  }

  async run(): Promise<RotationStatus> {
    upsertSearchAttributes([
      { key: RotationCredentialKey, value: this.input.credential },
      { key: RotationEnvironmentKey, value: this.input.environment },
      { key: ChangeTicketKey, value: this.input.changeTicket.id },
      { key: RotationRequestedByKey, value: this.input.requestedBy },
    ]);
    this.enter('PREPARING', 'started', this.input.reason);
    try {
      await this.prepare();
      const pending =
        this.credential?.adminAdapter === 'manual' ? await this.awaitReplacementKey() : await this.issue();
      await this.canary(pending);
      if (this.input.flipApprovalRequired) await this.awaitApproval('flip', this.input.flipRoles);
      await this.flip();
      for (;;) {
        await this.hold();
        if (await this.awaitRevokeApproval()) break;
      }
    } catch (err) {
      // Even a cancelled workflow rolls back and leaves evidence.
      return CancellationScope.nonCancellable(() => this.unwind(err));
    }
    // Past this point the old key may be gone: failures end in FAILED with an alert, never a rollback.
    try {
      await this.revoke();
      await this.verifyRevocation();
    } catch (err) {
      return CancellationScope.nonCancellable(() => this.fail(this.describe(err)));
    }
    return CancellationScope.nonCancellable(() => this.finish('completed', 'COMPLETED'));
  }

  // ── phases ────────────────────────────────────────────────────────────────────────────────────

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
    if (p.oldGatewayKeyId) this.s.gatewayKeys.old = p.oldGatewayKeyId;
    this.check(
      'preflight',
      true,
      `current ${p.current.name}@${p.current.version} (${p.current.fingerprint}) answered ${p.oldKeyStatus}`,
    );
    for (const c of p.preChecks) this.check(`pre-check ${c.name}`, c.verified, c.detail);
    if (p.credential.adminAdapter !== 'manual' && (!p.oldGatewayKeyId || !p.oldScope)) {
      throw ApplicationFailure.nonRetryable(
        `${p.credential.adminAdapter} gateway does not know the current key ${p.current.fingerprint}`,
        'OldKeyUnknownToGateway',
      );
    }
    this.checkpoint();
  }

  /** AWAITING_REPLACEMENT_KEY (manual gateways): a human hands the key to the API, which stages it. */
  private async awaitReplacementKey(): Promise<SecretVersionRef> {
    this.enter(
      'AWAITING_REPLACEMENT_KEY',
      'gate-opened',
      'hand the replacement key to PUT /v1/rotations/:id/replacement-key',
    );
    const credential = this.credential!;
    // The API stages the key before it signals: a rollback while waiting must still discard it.
    this.compensate('discard pending secret', () =>
      vault.discardPending({ rotationId: this.input.rotationId, credential }),
    );
    this.openGate('replacement-key', HANDOFF_ROLES);
    await this.waitWithReminders(() => this.staged !== undefined, 'replacement key hand-off');
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
    this.compensate('discard pending secret', () =>
      vault.discardPending({ rotationId: this.input.rotationId, credential }),
    );
    if (this.input.revokeNewKeyOnRollback) {
      this.compensate('revoke replacement gateway key', async () => {
        if (this.flipped) {
          // Consumers that reloaded after the flip still hold the new key: revoking it now would cut
          // them off until they reload again, so it stays enabled for a human to revoke once drained.
          this.log(
            'manual-action',
            `replacement key ${this.s.gatewayKeys.new ?? '?'} stays enabled: revoke it once its traffic has drained`,
          );
          return;
        }
        const r = await gatewayAdmin.revokeIssuedKey({ rotationId: this.input.rotationId, credential });
        this.log('replacement-key-revoked', `${r.keyId ?? 'no key was issued'} ${r.method}`);
      });
    }
    const issued = await gatewayAdmin.issueReplacementKey({
      rotationId: this.input.rotationId,
      credential,
      oldScope: this.preflight!.oldScope!,
      ...(this.s.gatewayKeys.old ? { oldGatewayKeyId: this.s.gatewayKeys.old } : {}),
    });
    this.s.gatewayKeys.new = issued.gatewayKeyId;
    this.s.versions.pending = issued.pending;
    this.s.fingerprints.new = issued.pending.fingerprint;
    this.log(
      'replacement-key-issued',
      `${issued.gatewayKeyId}${issued.reused ? ' (found by rotation id)' : ''}, pending ${issued.pending.version}`,
    );
    this.checkpoint();
    return issued.pending;
  }

  /** CANARY: every allowed route with the new key, usage attribution, and an optional soak. */
  private async canary(pending: SecretVersionRef): Promise<void> {
    this.enter('CANARY', 'canary', this.input.allowedRoutes.join(', '));
    const credential = this.credential!;
    const report = await canaryActs.runCanary({ credential, pending, routes: this.input.allowedRoutes });
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
    this.checkpoint();
    if (
      this.input.evidence.usage_owner_check === 'required' ||
      this.input.evidence.cost_anomaly_check === 'required'
    ) {
      const attribution = await telemetry.checkAttribution({
        credential,
        key: this.keyRef('new'),
        expectedOwner: this.input.expectedOwner,
      });
      this.s.attribution = attribution;
      const detail = `owner ${attribution.owner ?? 'unknown'} (expected ${attribution.expectedOwner})${attribution.anomalies.length ? `; ${attribution.anomalies.join('; ')}` : ''}`;
      this.check('usage attribution', attribution.passed, detail);
      if (!attribution.passed) throw new Interrupted('rollback', `usage attribution failed: ${detail}`);
      this.checkpoint();
    }
    if (this.input.canarySoakMs > 0) {
      this.details(`canary soak until ${iso(Date.now() + this.input.canarySoakMs)}`);
      await this.sleepUnlessInterrupted(this.input.canarySoakMs, 'canary soak');
    }
  }

  /** FLIPPING: the new key becomes the newest version of the stable path; optional rollout hook. */
  private async flip(): Promise<void> {
    this.enter('FLIPPING', 'flipping', `promote pending to ${this.credential!.secretName}`);
    const credential = this.credential!;
    // Compensation first: promote is idempotent, and a promote whose answer was lost still needs undoing.
    this.compensate('restore old secret version', async () => {
      const r = await vault.restoreOldSecret({ rotationId: this.input.rotationId, credential });
      if (r.restored) this.s.versions.restored = r.restored;
      if (this.input.rolloutHookUrl && r.restored) {
        const status = await rollout.callRolloutHook({
          rotationId: this.input.rotationId,
          url: this.input.rolloutHookUrl,
          version: r.restored.version,
        });
        this.log('rollout-hook', `rollback rollout answered ${status}`);
      }
    });
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

  /** HOLDING: checks every interval against the baseline; the old key must drain to zero. */
  private async hold(): Promise<void> {
    // The hold's clock starts once: an extension adds time to the same hold, it does not start a new one.
    const start = (this.holdStart ??= Date.now());
    const observationEnd = start + this.input.observationWindowMs;
    const maxHoldEnd = () => start + this.input.maxHoldMs + this.extensionMs;
    const emergency = this.input.mode === 'emergency';
    this.s.exceptions = [];
    this.s.hold = {
      startedAt: iso(start),
      observationEndsAt: iso(observationEnd),
      maxHoldEndsAt: iso(maxHoldEnd()),
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
    this.enter(
      'HOLDING',
      'holding',
      emergency ? 'one post-flip check (emergency)' : `observe until ${iso(observationEnd)}`,
    );
    const credential = this.credential!;
    let zeroSince: number | undefined;
    let lastCheck = Date.now();
    for (;;) {
      this.details(`next check at ${iso(Date.now() + this.input.checkIntervalMs)}`);
      await this.sleepUnlessInterrupted(this.input.checkIntervalMs, 'hold check interval');
      const now = Date.now();
      const window = await telemetry.observeWindow({
        credential,
        key: this.keyRef('new'),
        fromMs: lastCheck,
        toMs: now,
      });
      const totals = this.s.hold.totals;
      totals.checks += 1;
      totals.newKeyRequests += window.requests;
      totals.authErrors += window.authErrors;
      totals.rateLimited += window.rateLimited;
      totals.serverErrors += window.serverErrors;
      const breaches = evaluateThresholds(this.s.baseline!, window, this.input.thresholds);
      const figures = `${window.requests} req, ${window.authErrors} 401/403, ${window.rateLimited} 429, ${window.serverErrors} 5xx, p95 ${window.p95LatencyMs} ms`;
      this.check('new-key traffic', breaches.length === 0, figures, { figures: window, breaches });
      if (breaches.length > 0) {
        throw new Interrupted(
          'rollback',
          `new-key traffic breached thresholds: ${breaches.map((b) => b.detail).join('; ')}`,
        );
      }
      this.checkpoint();
      const usage = await telemetry.oldKeyUsage({
        credential,
        key: this.keyRef('old'),
        fromMs: lastCheck,
        toMs: now,
      });
      totals.oldKeyRequests += usage.total;
      for (const c of usage.perConsumer) {
        if (c.requests === 0) continue;
        const seen = this.oldKeySeen.get(c.consumer) ?? { requests: 0, lastSeenMs: now };
        this.oldKeySeen.set(c.consumer, { requests: seen.requests + c.requests, lastSeenMs: now });
      }
      zeroSince = nextZeroSince(zeroSince, usage);
      if (zeroSince !== undefined) this.s.hold.oldKeyZeroSince = iso(zeroSince);
      else delete this.s.hold.oldKeyZeroSince;
      const perConsumer = usage.perConsumer.map((c) => `${c.consumer}=${c.requests}`).join(' ');
      this.check(
        'old-key drain',
        usage.total === 0,
        `${usage.total} old-key req${perConsumer ? ` (${perConsumer})` : ''}`,
      );
      this.checkpoint();
      lastCheck = now;
      this.s.hold.maxHoldEndsAt = iso(maxHoldEnd());
      this.details(`${figures}; old key ${usage.total} req`);
      if (emergency) return;
      const drained =
        !this.input.requireOldKeyDrain || drainSatisfied(zeroSince, now, this.input.drainWindowMs);
      if (now >= observationEnd && drained) return;
      if (now >= maxHoldEnd() && !drained) {
        // Never a silent revoke: the consumers that used the old key within the drain window become
        // the exception list, and the revoke gate waits for a human to accept them, extend, or roll back.
        const recent = now - Math.max(this.input.drainWindowMs, this.input.checkIntervalMs);
        this.s.exceptions = undrainedConsumers(
          [...this.oldKeySeen]
            .filter(([, seen]) => seen.lastSeenMs >= recent)
            .map(([consumer, seen]) => ({ consumer, requests: seen.requests })),
        );
        this.log(
          'max-hold-reached',
          `old key still used by ${this.s.exceptions.map((c) => c.consumer).join(', ') || 'unknown consumers'}`,
        );
        return;
      }
    }
  }

  /** AWAITING_REVOKE_APPROVAL: true once approved; false when the hold was extended (hold again). */
  private async awaitRevokeApproval(): Promise<boolean> {
    const extensionsBefore = this.extensionsRequested;
    const decision = await this.awaitApproval(
      'revoke',
      this.input.revokeRoles,
      () => this.extensionsRequested !== extensionsBefore,
    );
    return decision === 'APPROVED';
  }

  /** REVOKING: the adapter disables then deletes the old key; manual gateways wait for a confirmation. */
  private async revoke(): Promise<void> {
    this.enter('REVOKING', 'revoking', this.s.gatewayKeys.old ?? 'manual revocation');
    const credential = this.credential!;
    if (credential.adminAdapter === 'manual') {
      this.openGate('revocation-confirmation', CONFIRM_ROLES);
      await this.waitWithReminders(() => this.revocationConfirmed !== undefined, 'revocation confirmation');
      this.closeGate();
      this.log(
        'revocation-confirmed',
        this.revocationConfirmed!.comment,
        this.revocationConfirmed!.principal,
      );
      return;
    }
    const result = await gatewayAdmin.revokeGatewayKey({ credential, keyId: this.s.gatewayKeys.old! });
    this.log('old-key-revoked', `${this.s.gatewayKeys.old} ${result.method} at ${result.at}`);
  }

  /** VERIFYING_REVOCATION: old key refused, new key accepted, then the previous version is disabled. */
  private async verifyRevocation(): Promise<void> {
    this.enter('VERIFYING_REVOCATION', 'negative-test');
    const credential = this.credential!;
    const result = await negative.negativeTest({
      credential,
      old: this.s.versions.old!,
      current: this.s.versions.current!,
      attempts: NEGATIVE_TEST_ATTEMPTS,
      intervalMs: NEGATIVE_TEST_INTERVAL_MS,
    });
    this.s.negativeTest = result;
    const detail = `old key ${result.oldKeyStatus} after ${result.attempts} attempt(s), new key ${result.newKeyStatus}`;
    this.check('negative test', result.oldKeyRejected && result.newKeyAccepted, detail);
    if (!result.oldKeyRejected) throw new Error(`old key still accepted after revocation: ${detail}`);
    if (!result.newKeyAccepted) throw new Error(`new key refused after revocation: ${detail}`);
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
        await step.run();
        this.log('compensated', step.name);
      } catch (err) {
        // Stop here: a later step (revoking the new key) must not run while an earlier one (the
        // old value back as the newest version) did not, or consumers would be left with no key.
        failures.push(`${step.name}: ${this.describe(err)}`);
        break;
      }
    }
    if (this.credential?.adminAdapter === 'manual' && this.s.fingerprints.new) {
      this.log(
        'manual-action',
        `revoke the handed-over key ${this.s.fingerprints.new} at the gateway by hand`,
      );
    }
    if (failures.length > 0) return this.fail(`rollback incomplete: ${failures.join('; ')}`);
    return this.finish(outcome, end);
  }

  /** FAILED: only where a human must act; alerts the ticket. */
  private async fail(reason: string): Promise<RotationStatus> {
    this.s.failure = { phase: this.s.phase, reason };
    this.closeGate();
    this.notify('alert', `rotation failed in ${this.s.phase}: ${reason}`);
    return this.finish('failed', 'FAILED');
  }

  /** Terminal phase: outcome search attribute, evidence bundle, ticket notified. */
  private async finish(outcome: Outcome, end: Phase): Promise<RotationStatus> {
    this.s.outcome = outcome;
    if (end === 'COMPLETED') this.enter('ARCHIVING', 'archiving');
    upsertSearchAttributes([{ key: RotationOutcomeKey, value: outcome }]);
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
    this.enter(end, 'finished', outcome);
    this.notify('finished', `rotation ${outcome}`);
    // Close cleanly: no notification left running, and an update that arrived in the last
    // activation answers before the run closes.
    await Promise.allSettled(this.notifications);
    await condition(allHandlersFinished);
    return this.s;
  }

  // ── gates and waiting ─────────────────────────────────────────────────────────────────────────

  /** An approval gate: APPROVED returns; REJECTED rolls back; a timeout reminds and keeps waiting. */
  private async awaitApproval(gate: Gate, roles: Role[], leaveEarly?: () => boolean) {
    this.decisions.delete(gate);
    const phase: Phase = gate === 'flip' ? 'AWAITING_FLIP_APPROVAL' : 'AWAITING_REVOKE_APPROVAL';
    const exceptions = this.s.exceptions.map((c) => `${c.consumer} (${c.requests} req)`).join(', ');
    this.enter(
      phase,
      'gate-opened',
      exceptions ? `exceptions: ${exceptions}` : `${gate} approval by ${roles.join(' or ')}`,
    );
    this.openGate(gate, roles);
    await this.waitWithReminders(
      () => this.decisions.has(gate) || (leaveEarly?.() ?? false),
      `${gate} approval`,
    );
    this.closeGate();
    const decision = this.decisions.get(gate);
    if (decision === 'REJECTED') throw new Interrupted('rollback', `${gate} approval rejected`);
    return decision;
  }

  /** Waits for a condition; each reminder interval without it notifies the ticket and waits again. */
  private async waitWithReminders(done: () => boolean, what: string): Promise<void> {
    for (;;) {
      const met = await condition(
        () => done() || this.interrupt !== undefined,
        this.input.approvalReminderMs,
      );
      this.checkpoint();
      if (met) return;
      if (this.s.pendingGate) this.s.pendingGate.reminders += 1;
      this.log('approval-timeout', `still waiting for ${what}; the old key keeps working`);
      this.notify(
        'approval-timeout',
        `still waiting for ${what} since ${this.s.pendingGate?.openedAt ?? '?'}`,
      );
    }
  }

  /** A durable timer that an interrupt (rollback, abort) cuts short. */
  private async sleepUnlessInterrupted(ms: number, what: string): Promise<void> {
    await condition(() => this.interrupt !== undefined, ms, { summary: what });
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
      (a) => this.applyDecision(a, 'APPROVED'),
    );
    this.both(
      rejectUpdate,
      rejectSignal,
      (a) => this.refuseReject(a),
      (a) => this.applyDecision(a, 'REJECTED'),
    );
    this.both(
      rollbackUpdate,
      rollbackSignal,
      (a) => this.refuseRollback(a),
      (a) => this.applyInterrupt('rollback', a),
    );
    this.both(
      abortUpdate,
      abortSignal,
      (a) => this.refuseAbort(a),
      (a) => this.applyInterrupt('abort', a),
    );
    this.both(
      extendHoldUpdate,
      extendHoldSignal,
      (a) => this.refuseExtend(a),
      (a) => this.applyExtend(a),
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
      (a) => {
        this.revocationConfirmed = a;
      },
    );
  }

  /** One handler behind an update and its same-named signal; a refused signal is logged, not applied. */
  private both<A extends Actor>(
    update: UpdateDefinition<MessageAck, [A]>,
    signal: SignalDefinition<[A]>,
    refuse: (args: A) => Refusal | undefined,
    apply: (args: A) => void,
  ): void {
    setHandler(
      update,
      (args: A): MessageAck => {
        apply(args);
        return { accepted: true, phase: this.s.phase };
      },
      {
        validator: (args: A) => {
          const refusal = this.refuseMalformed(args) ?? refuse(args);
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
      try {
        refusal = (this.refuseMalformed(args) ?? refuse(args))?.message;
        if (!refusal) apply(args);
      } catch (err) {
        refusal = `malformed ${signal.name}: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (refusal) {
        const by = typeof args?.principal === 'string' ? args.principal : undefined;
        this.log(`${signal.name}-refused`, refusal, by);
      }
    });
  }

  private refuseMalformed(args: Actor | undefined): Refusal | undefined {
    if (!args || typeof args !== 'object')
      return invalid('arguments must be an object with principal and roles');
    if (typeof args.principal !== 'string' || !args.principal.trim()) return invalid('principal is required');
    if (!Array.isArray(args.roles) || !args.roles.every((r) => typeof r === 'string')) {
      return invalid('roles must be a list of role names');
    }
    // Messages come as untrusted JSON (Temporal CLI, UI): every text field must be text, and none may
    // look like an API key, since whatever a message carries is written to history.
    for (const field of TEXT_FIELDS) {
      const value = (args as unknown as Record<string, unknown>)[field];
      if (value === undefined) continue;
      if (typeof value !== 'string') return invalid(`${field} must be text`);
      if (KEY_LIKE.test(value))
        return invalid(`${field} looks like it contains an API key: never paste keys into messages`);
    }
    const minutes = (args as unknown as Record<string, unknown>).minutes;
    if (minutes !== undefined && typeof minutes !== 'number') return invalid('minutes must be a number');
    if (TERMINAL_PHASES.includes(this.s.phase) || this.s.phase === 'ROLLING_BACK') {
      return notOpen(`the rotation is ${this.s.phase}`);
    }
    return undefined;
  }

  private gateOpen(gate: Gate): boolean {
    return this.s.pendingGate?.gate === gate && !this.decisions.has(gate);
  }

  private refuseApprove(a: ApproveArgs): Refusal | undefined {
    if (a.gate !== 'flip' && a.gate !== 'revoke')
      return invalid(`unknown gate ${String(a.gate)} (flip or revoke)`);
    if (!this.gateOpen(a.gate)) return notOpen(`the ${a.gate} gate is not open (phase ${this.s.phase})`);
    return approvalRefusal(a, this.s.pendingGate!.requiredRoles, this.input.requestedBy, this.input.mode);
  }

  private refuseReject(a: RejectArgs): Refusal | undefined {
    if (a.gate !== 'flip' && a.gate !== 'revoke')
      return invalid(`unknown gate ${String(a.gate)} (flip or revoke)`);
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
    if (!a.roles.some((r) => r === 'operator' || r === 'approver'))
      return notAllowed(`${a.principal} lacks the operator or approver role`);
    if (!Number.isFinite(a.minutes) || a.minutes < 1 || a.minutes > 24 * 60)
      return invalid('minutes must be between 1 and 1440');
    if (!a.reason?.trim()) return invalid('an extension needs a reason');
    if (
      this.s.phase !== 'HOLDING' &&
      !(this.s.phase === 'AWAITING_REVOKE_APPROVAL' && this.s.exceptions.length > 0)
    ) {
      return notOpen(
        `the hold can only be extended while HOLDING or when it ran out with exceptions (phase ${this.s.phase})`,
      );
    }
    if (this.extensionMs + a.minutes * 60_000 > MAX_TOTAL_EXTENSION_MS)
      return invalid('extensions may add up to 7 days at most');
    return undefined;
  }

  private refuseStaged(a: ReplacementKeyStagedArgs): Refusal | undefined {
    if (!a.roles.some((r) => HANDOFF_ROLES.includes(r)))
      return notAllowed(`${a.principal} lacks the requester or operator role`);
    if (this.s.phase !== 'AWAITING_REPLACEMENT_KEY')
      return notOpen(`no replacement key is awaited (phase ${this.s.phase})`);
    if (this.staged) return notOpen(`a replacement key was already handed over (${this.staged.fingerprint})`);
    if (typeof a.version !== 'string' || !a.version) return invalid('version is required');
    if (typeof a.fingerprint !== 'string' || !/^sha256:[0-9a-f]{12}$/.test(a.fingerprint)) {
      return invalid('fingerprint must be sha256: followed by 12 hex characters');
    }
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

  private applyDecision(a: ApproveArgs | RejectArgs, decision: 'APPROVED' | 'REJECTED'): void {
    this.decisions.set(a.gate, decision);
    const comment = 'comment' in a ? a.comment : 'reason' in a ? a.reason : undefined;
    this.s.approvals.push({
      gate: a.gate,
      decision,
      principal: a.principal,
      at: iso(Date.now()),
      ...(comment ? { comment } : {}),
      ...('breakGlassReason' in a && a.breakGlassReason ? { breakGlassReason: a.breakGlassReason } : {}),
    });
    this.log(`${a.gate}-${decision.toLowerCase()}`, comment, a.principal);
  }

  private applyInterrupt(kind: 'rollback' | 'abort', a: RollbackArgs | AbortArgs): void {
    this.interrupt = new Interrupted(kind, `${kind} requested by ${a.principal}: ${a.reason}`);
    this.log(`${kind}-requested`, a.reason, a.principal);
  }

  private applyExtend(a: ExtendHoldArgs): void {
    this.extensionMs += a.minutes * 60_000;
    this.extensionsRequested += 1;
    this.log('hold-extended', `${a.minutes} min: ${a.reason}`, a.principal);
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

  private openGate(gate: PendingGate['gate'], roles: Role[]): void {
    this.s.pendingGate = { gate, openedAt: iso(Date.now()), requiredRoles: roles, reminders: 0 };
    // The gate itself is already a line of the details; say how to answer it.
    this.details(GATE_HINTS[gate].replaceAll('<id>', this.input.rotationId));
    this.notify('gate-opened', `${gate} gate open for ${roles.join(' or ')}`);
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
    if (last) lines.push(`last check: ${last.name} ${last.passed ? 'passed' : 'FAILED'} — ${last.detail}`);
    setCurrentDetails(lines.join('\n\n'));
  }

  private log(event: string, detail?: string, by?: string): void {
    this.s.timeline.push({
      at: iso(Date.now()),
      phase: this.s.phase,
      event,
      ...(detail ? { detail } : {}),
      ...(by ? { by } : {}),
    });
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

  private compensate(name: string, run: () => Promise<unknown>): void {
    this.compensations.push({ name, run });
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
    if (err instanceof ActivityFailure && err.cause) return `${err.activityType}: ${err.cause.message}`;
    if (isCancellation(err)) return 'cancelled';
    return err instanceof Error ? err.message : String(err);
  }
}
