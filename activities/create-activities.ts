// The activities the rotation workflow calls. Each resolves key values itself, through the ports, and
// returns only references, fingerprints and figures. Failures retrying cannot fix are non-retryable
// ApplicationFailures whose `type` (FailureTypes) the workflow branches on.
import { ApplicationFailure } from '@temporalio/common';
import type { Route } from '../common/policy';
import { revokeKey } from './gateway/admin-registry';
import type { GatewayAdmin } from './ports';
import { KEY_LIKE } from '../common/key-shape';
import { issueReplacementKey } from './gateway/issue-key';
import { runNegativeTest } from './gateway/negative-test';
import type { ActivityDeps, TelemetryKey } from './ports';
import { FailureTypes } from '../common/failures';
import { currentActivity } from './activity-context';
import { sha256Hex } from './fingerprint';
import { EvidenceBundleInvalid, buildEvidenceBundle, type EvidenceInput } from './evidence/build-bundle';
import type { RekeyMetrics } from '../common/metrics';
import type { Outcome, Phase, RotationStatus } from '../workflows/messages';
import type {
  AttributionReport,
  CanaryReport,
  CredentialRef,
  EvidenceRecord,
  Fingerprint,
  HoldObservation,
  IssuedKey,
  KeyActionResult,
  NegativeTestResult,
  NotifyEvent,
  PreCheckResult,
  PreflightResult,
  PromoteResult,
  RevokeResult,
  RollbackResult,
  SecretVersionRecord,
  SecretVersionRef,
} from './types';

const BASELINE_WINDOW_MS = 60 * 60_000;
/** Attempts of writeEvidence that insist on the vault's version history before archiving without it. */
const EVIDENCE_HISTORY_ATTEMPTS = 5;

/** An error's message, bounded and with anything key-shaped removed: it is written to history. */
function safeMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(new RegExp(KEY_LIKE.source, 'g'), '[redacted]').slice(0, 300);
}

/**
 * Every pre-check the ticket states, with what rekey found: verified, failed, or unverified where no
 * source can say (a claimed canary request id the gateway cannot look up stays `unverified`).
 */
async function verifyPreChecks(
  input: { gatewayBaseUrl: string; preChecks: Record<string, boolean | string | undefined> },
  credential: CredentialRef,
  current: SecretVersionRef,
  pendingBefore: SecretVersionRef | undefined,
  admin: GatewayAdmin | undefined,
): Promise<PreCheckResult[]> {
  const result = (
    name: string,
    claimed: PreCheckResult['claimed'],
    r: PreCheckResult['result'],
    detail: string,
  ) => ({ name, claimed, result: r, verified: r === 'verified', detail }) satisfies PreCheckResult;
  const checks: PreCheckResult[] = [
    result(
      'inventory_confirmed',
      input.preChecks.inventory_confirmed,
      credential.consumers.length > 0 ? 'verified' : 'failed',
      `${credential.consumers.length} consumer(s) registered`,
    ),
    result(
      'rollback_secret_version_available',
      input.preChecks.rollback_secret_version_available,
      current.enabled ? 'verified' : 'failed',
      `current version ${current.version} is ${current.enabled ? 'enabled' : 'disabled'}`,
    ),
    result(
      'new_secret_version_created',
      input.preChecks.new_secret_version_created,
      pendingBefore ? 'verified' : 'unverified',
      pendingBefore ? `pending version ${pendingBefore.version}` : 'no pending version yet; rekey stages it',
    ),
    result(
      'gateway_base_url',
      input.gatewayBaseUrl,
      input.gatewayBaseUrl.replace(/\/+$/, '') === credential.gatewayBaseUrl.replace(/\/+$/, '')
        ? 'verified'
        : 'failed',
      `registry says ${credential.gatewayBaseUrl}`,
    ),
  ];
  const requestId = input.preChecks.canary_request_id;
  if (typeof requestId === 'string') {
    if (!admin?.findRequest) {
      checks.push(
        result(
          'canary_request_id',
          requestId,
          'unverified',
          `the ${credential.adminAdapter} adapter cannot look requests up; rekey runs its own canary`,
        ),
      );
    } else {
      const found = await admin.findRequest(requestId).catch(() => undefined);
      checks.push(
        result(
          'canary_request_id',
          requestId,
          found === undefined ? 'unverified' : found ? 'verified' : 'failed',
          found === undefined
            ? 'the gateway could not be asked; rekey runs its own canary'
            : found
              ? 'the gateway logged this request'
              : 'the gateway has no request with this id',
        ),
      );
    }
  }
  return checks;
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Builds the activity functions over injected ports (no client is created here). */
export function createActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;

  function adminFor(credential: CredentialRef) {
    const admin = deps.gatewayAdminFor(credential);
    if (!admin) throw nonRetryable(FailureTypes.UnknownCredential, `${credential.name} has no admin adapter`);
    return admin;
  }

  return {
    /** PREPARING: registry entry, current version and fingerprint, old key works, its scope, a baseline. */
    async preflight(input: {
      rotationId: string;
      credential: string;
      environment: string;
      gatewayBaseUrl: string;
      preChecks: Record<string, boolean | string | undefined>;
    }): Promise<PreflightResult> {
      const credential = deps.registry.lookup(input.credential, input.environment);
      if (!credential) {
        throw nonRetryable(
          FailureTypes.UnknownCredential,
          `credential ${input.credential} (${input.environment}) is not registered; registered: ${deps.registry.names().join(', ')}`,
        );
      }
      const store = deps.secretStoreFor(credential);
      const current = await store.readCurrent();
      const oldKey = await store.resolve(current);
      const oldKeyStatus = await deps.probeFor(credential).status(credential.gatewayBaseUrl, oldKey);
      if (oldKeyStatus < 200 || oldKeyStatus >= 300) {
        throw nonRetryable(
          FailureTypes.OldKeyRejected,
          `the current key ${current.fingerprint} is answered ${oldKeyStatus} by ${credential.gatewayBaseUrl}; nothing to rotate safely`,
        );
      }
      const admin = deps.gatewayAdminFor(credential);
      const described = admin ? await admin.describeKey(oldKey) : undefined;
      const t = now();
      const baseline = await deps.telemetry.window(
        credential,
        { fingerprint: current.fingerprint, ...(described ? { gatewayKeyId: described.keyId } : {}) },
        t - BASELINE_WINDOW_MS,
        t,
      );
      const baselineByConsumer = await deps.telemetry
        .usageByConsumer(
          credential,
          { fingerprint: current.fingerprint, ...(described ? { gatewayKeyId: described.keyId } : {}) },
          t - BASELINE_WINDOW_MS,
          t,
        )
        // Without a per-consumer baseline the volume rows at the revoke gate are unknown, not green.
        .catch(() => undefined);
      const pendingBefore = await store.readPending(input.rotationId);
      const preChecks = await verifyPreChecks(input, credential, current, pendingBefore, admin);
      return {
        credential,
        current,
        oldKeyStatus,
        baseline,
        ...(baselineByConsumer ? { baselineByConsumer } : {}),
        telemetry: deps.telemetry.source(credential),
        gatewayCanDisable: admin?.canDisable ?? false,
        preChecks,
        ...(described ? { oldGatewayKeyId: described.keyId, oldScope: described.scope } : {}),
      };
    },

    /** Automated gateways: issue a key with the old key's scope and stage it as the pending secret. */
    async issueReplacementKey(input: {
      rotationId: string;
      credential: CredentialRef;
      oldScope: NonNullable<PreflightResult['oldScope']>;
      oldGatewayKeyId?: string;
    }): Promise<IssuedKey> {
      const admin = adminFor(input.credential);
      const store = deps.secretStoreFor(input.credential);
      const result = await issueReplacementKey(
        admin,
        input.rotationId,
        input.oldScope,
        await store.readPending(input.rotationId),
        (value, keyId) => store.stagePending(input.rotationId, value, keyId),
        input.oldGatewayKeyId,
      );
      return {
        gatewayKeyId: result.keyId,
        pending: result.pending,
        scope: result.scope,
        reused: result.reused,
      };
    },

    /** Manual gateways: the API staged the key; confirm the pending version and fingerprint match. */
    async confirmStagedKey(input: {
      rotationId: string;
      credential: CredentialRef;
      version: string;
      fingerprint: string;
    }): Promise<SecretVersionRef> {
      const pending = await deps.secretStoreFor(input.credential).readPending(input.rotationId);
      if (!pending || pending.version !== input.version || pending.fingerprint !== input.fingerprint) {
        throw nonRetryable(
          FailureTypes.StagedKeyMismatch,
          `pending secret of ${input.rotationId} is ${pending ? `${pending.version} ${pending.fingerprint}` : 'missing'}, not ${input.version} ${input.fingerprint}`,
        );
      }
      return pending;
    },

    /**
     * Every allowed route with one key version, through the gateway's OpenAI API: the canary of the
     * pending key, the active probe of every hold check, and the probe just before revoke.
     */
    async runCanary(input: {
      credential: CredentialRef;
      version: SecretVersionRef;
      routes: Route[];
    }): Promise<CanaryReport> {
      const key = await deps.secretStoreFor(input.credential).resolve(input.version);
      const report = await deps
        .probeFor(input.credential)
        .canary(input.credential.gatewayBaseUrl, key, input.routes);
      // Every attempt's requests are counted: a retried canary really sent them again.
      for (const r of report.requests) {
        deps.metrics?.canaryRequests.inc({ route: r.route, result: r.ok ? 'ok' : (r.reason ?? 'failed') });
      }
      return report;
    },

    /** CANARY: the new key's usage rolls up to the expected owner, without cost or quota anomaly. */
    async checkAttribution(input: {
      credential: CredentialRef;
      key: TelemetryKey;
      expectedOwner: string;
    }): Promise<AttributionReport> {
      return deps.telemetry.attribution(input.credential, input.key, input.expectedOwner);
    },

    /** FLIPPING: the pending value becomes the newest version of the stable path. */
    async promote(input: {
      rotationId: string;
      credential: CredentialRef;
      /** The pending version the canary proved; promote refuses any other. */
      expected: { version: string; fingerprint: Fingerprint };
    }): Promise<PromoteResult> {
      return deps.secretStoreFor(input.credential).promote(input.rotationId, input.expected);
    },

    /** FLIPPING: tells the deploy system to roll the new secret version out (optional). */
    async callRolloutHook(input: { rotationId: string; url: string; version: string }): Promise<number> {
      const res = await fetch(input.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${input.rotationId}:rollout` },
        body: JSON.stringify({ rotationId: input.rotationId, secretVersion: input.version }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status >= 500 || res.status === 429) throw new Error(`rollout hook answered ${res.status}`);
      if (res.status >= 400) throw nonRetryable('RolloutHookRejected', `rollout hook answered ${res.status}`);
      return res.status;
    },

    /**
     * HOLDING and the canary soak: one window of new-key traffic (totals and per consumer) and, in the
     * hold, old-key traffic per consumer. A source that fails is reported, not thrown: the workflow
     * counts it as a measurement error (consecutive_error_limit), never as a pass.
     */
    async observeHoldWindow(input: {
      credential: CredentialRef;
      newKey: TelemetryKey;
      oldKey?: TelemetryKey;
      fromMs: number;
      toMs: number;
    }): Promise<HoldObservation> {
      const { credential, fromMs, toMs } = input;
      const errors: string[] = [];
      const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await read();
        } catch (err) {
          errors.push(`${what}: ${safeMessage(err)}`);
          return undefined;
        }
      };
      const [newKey, newKeyByConsumer, oldKeyByConsumer] = await Promise.all([
        attempt('new-key window', () => deps.telemetry.window(credential, input.newKey, fromMs, toMs)),
        attempt('new-key consumers', () =>
          deps.telemetry.usageByConsumer(credential, input.newKey, fromMs, toMs),
        ),
        input.oldKey
          ? attempt('old-key consumers', () =>
              deps.telemetry.usageByConsumer(credential, input.oldKey!, fromMs, toMs),
            )
          : Promise.resolve(undefined),
      ]);
      return {
        fromMs,
        toMs,
        source: deps.telemetry.source(credential),
        ...(newKey ? { newKey } : {}),
        ...(newKeyByConsumer ? { newKeyByConsumer } : {}),
        ...(oldKeyByConsumer ? { oldKeyByConsumer } : {}),
        errors,
      };
    },

    /** REVOKING: the reversible step; `unsupported` where the gateway cannot disable a key. */
    async disableGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const admin = adminFor(input.credential);
      const at = new Date(now()).toISOString();
      if (!admin.canDisable) return { result: 'unsupported', at };
      return { result: await admin.disableKey(input.keyId), at };
    },

    /** VERIFYING_REVOCATION failed: the old key works again, so the way back stays open. */
    async enableGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const result = await adminFor(input.credential).enableKey(input.keyId);
      return { result, at: new Date(now()).toISOString() };
    },

    /** VERIFYING_REVOCATION passed: the irreversible step; an unknown key counts as deleted. */
    async deleteGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<KeyActionResult> {
      const result = await adminFor(input.credential).deleteKey(input.keyId);
      return { result, at: new Date(now()).toISOString() };
    },

    /** ROLLING_BACK: revokes the key this rotation issued, found by its tag; none issued is fine. */
    async revokeIssuedKey(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<RevokeResult & { keyId?: string }> {
      const admin = adminFor(input.credential);
      const issued = await admin.findIssued(input.rotationId);
      const at = new Date(now()).toISOString();
      if (!issued) return { method: 'already-gone', at };
      const outcome = await revokeKey(admin, issued.keyId);
      return {
        keyId: issued.keyId,
        method: outcome === 'revoked' ? 'disabled-and-deleted' : 'already-gone',
        at,
      };
    },

    /** VERIFYING_REVOCATION: old key must be refused, new key accepted; retried while the gateway propagates. */
    async negativeTest(input: {
      credential: CredentialRef;
      old: SecretVersionRef;
      current: SecretVersionRef;
      attempts: number;
      intervalMs: number;
    }): Promise<NegativeTestResult> {
      const store = deps.secretStoreFor(input.credential);
      const [oldKey, newKey] = [await store.resolve(input.old), await store.resolve(input.current)];
      const result = await runNegativeTest(
        deps.probeFor(input.credential),
        input.credential.gatewayBaseUrl,
        oldKey,
        newKey,
        {
          attempts: input.attempts,
          intervalMs: input.intervalMs,
          now,
        },
      );
      // The same verdict the workflow draws: passed only when the old key is refused and the new accepted.
      const passed = result.oldKeyRejected && result.newKeyAccepted;
      deps.metrics?.negativeTests.inc({ result: passed ? 'passed' : 'failed' });
      return result;
    },

    /** VERIFYING_REVOCATION: disables the previous secret version after the negative test. */
    async retirePrevious(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<SecretVersionRef | undefined> {
      return deps.secretStoreFor(input.credential).retirePrevious(input.rotationId);
    },

    /** ROLLING_BACK after the flip: the old value becomes the newest version again; the new one is disabled. */
    async restoreOldSecret(input: {
      rotationId: string;
      credential: CredentialRef;
    }): Promise<RollbackResult> {
      return deps.secretStoreFor(input.credential).rollback(input.rotationId);
    },

    /** ROLLING_BACK before the flip: removes the pending secret. */
    async discardPending(input: { rotationId: string; credential: CredentialRef }): Promise<void> {
      await deps.secretStoreFor(input.credential).discardPending(input.rotationId);
    },

    /**
     * ARCHIVING (and every terminal outcome): builds the evidence bundle from the final status, the
     * ticket's policy, the registry entry and the vault's version history, and writes it.
     */
    async writeEvidence(input: {
      rotationId: string;
      /** The rotation's final status (the field keeps its historical name). */
      bundle: RotationStatus;
      /** The rotation's input; runs scheduled before it was passed have none. */
      input?: EvidenceInput;
    }): Promise<EvidenceRecord> {
      const status = input.bundle;
      const credential = deps.registry.lookup(status.credential, status.environment);
      let versions: SecretVersionRecord[] | undefined;
      let versionsNote: string | undefined;
      if (!credential) {
        versionsNote = `credential ${status.credential} (${status.environment}) is not registered`;
      } else {
        try {
          versions = await deps.secretStoreFor(credential).history();
        } catch (err) {
          // The vault answered moments ago: retry a few times, then archive what the rotation recorded
          // rather than no evidence at all (the bundle says which source it used and why).
          const permanent = err instanceof ApplicationFailure && err.nonRetryable;
          if (
            !permanent &&
            (currentActivity()?.info?.attempt ?? EVIDENCE_HISTORY_ATTEMPTS) < EVIDENCE_HISTORY_ATTEMPTS
          )
            throw err;
          versionsNote = `vault history unavailable: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
      let bundle;
      try {
        bundle = buildEvidenceBundle(
          status,
          { ...(input.input ? { input: input.input } : {}), ...(credential ? { credential } : {}) },
          versions,
          { generatedAt: new Date(now()).toISOString(), ...(versionsNote ? { versionsNote } : {}) },
        );
      } catch (err) {
        // The same status builds the same bundle on every retry.
        if (err instanceof EvidenceBundleInvalid) throw nonRetryable(err.name, err.message);
        throw err;
      }
      return deps.evidence.write(input.rotationId, bundle);
    },

    /** Tells the ticket's webhook; the workflow never lets a failure here block the rotation. */
    async notify(input: {
      rotationId: string;
      event: NotifyEvent;
      phase: string;
      message: string;
      webhookUrl?: string;
      /** What the worker's metrics count for this event; never sent to the webhook. */
      metrics?: NotifyMetrics;
    }): Promise<void> {
      const { metrics: figures, ...event } = input;
      // Stable across retries of this activity, distinct for every event: receivers dedupe on it.
      const info = currentActivity()?.info;
      const run = info?.workflowExecution;
      const deliveryId =
        info && run ? sha256Hex(`${run.workflowId}/${run.runId}/${info.activityId}`) : undefined;
      // Counted before the webhook (a dead webhook must not hide a finished rotation) and on the first
      // attempt only: a retry is the same event delivered again.
      if (deps.metrics && figures && (info?.attempt ?? 1) === 1) {
        countEvent(deps.metrics, deps.registry, input.event, figures);
      }
      await deps.notifier.notify({ ...event, ...(deliveryId ? { deliveryId } : {}) });
    },
  };
}

/** The activity surface the workflow proxies. */
export type RotationActivities = ReturnType<typeof createActivities>;

/**
 * Figures the workflow sends along with a notification for the worker's metrics. The workflow knows
 * them deterministically (workflow time, its own outcome), so no activity call is added for metrics.
 */
export interface NotifyMetrics {
  credential: string;
  environment: string;
  /** On `finished`: how the rotation ended. */
  outcome?: Outcome;
  /** On `phase-changed`: the phase just left and the workflow-time seconds spent in it. */
  left?: { phase: Phase; seconds: number };
}

/** rekey_phase_duration_seconds on a phase change, rekey_rotations_finished_total on the end. */
function countEvent(
  metrics: RekeyMetrics,
  registry: ActivityDeps['registry'],
  event: NotifyEvent,
  figures: NotifyMetrics,
): void {
  if (event === 'phase-changed' && figures.left) {
    metrics.phaseDuration.observe({ phase: figures.left.phase }, Math.max(0, figures.left.seconds));
  }
  if (event === 'finished' && figures.outcome) {
    // A rotation of an unregistered credential ends in preflight with whatever environment the request
    // named: only environments of the registry become label values.
    const environment = registry.lookup(figures.credential, figures.environment)
      ? figures.environment
      : 'unregistered';
    metrics.rotationsFinished.inc({ environment, outcome: figures.outcome });
  }
}
