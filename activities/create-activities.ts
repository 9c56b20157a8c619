// The activities the rotation workflow calls. Each resolves key values itself, through the ports, and
// returns only references, fingerprints and figures. Failures retrying cannot fix are non-retryable
// ApplicationFailures whose `type` (FailureTypes) the workflow branches on.
import { ApplicationFailure } from '@temporalio/common';
import type { Route } from '../common/policy';
import { revokeKey } from './gateway/admin-registry';
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
  IssuedKey,
  NegativeTestResult,
  NotifyEvent,
  OldKeyUsage,
  PreCheckResult,
  PreflightResult,
  PromoteResult,
  RevokeResult,
  RollbackResult,
  SecretVersionRecord,
  SecretVersionRef,
  WindowMetrics,
} from './types';

const BASELINE_WINDOW_MS = 60 * 60_000;
/** Attempts of writeEvidence that insist on the vault's version history before archiving without it. */
const EVIDENCE_HISTORY_ATTEMPTS = 5;

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
      const pendingBefore = await store.readPending(input.rotationId);
      const preChecks: PreCheckResult[] = [
        {
          name: 'inventory_confirmed',
          claimed: input.preChecks.inventory_confirmed,
          verified: credential.consumers.length > 0,
          detail: `${credential.consumers.length} consumer(s) registered`,
        },
        {
          name: 'rollback_secret_version_available',
          claimed: input.preChecks.rollback_secret_version_available,
          verified: current.enabled,
          detail: `current version ${current.version} is ${current.enabled ? 'enabled' : 'disabled'}`,
        },
        {
          name: 'new_secret_version_created',
          claimed: input.preChecks.new_secret_version_created,
          verified: pendingBefore !== undefined,
          detail: pendingBefore
            ? `pending version ${pendingBefore.version}`
            : 'no pending version yet; rekey stages it',
        },
        {
          name: 'gateway_base_url',
          claimed: input.gatewayBaseUrl,
          verified:
            input.gatewayBaseUrl.replace(/\/+$/, '') === credential.gatewayBaseUrl.replace(/\/+$/, ''),
          detail: `registry says ${credential.gatewayBaseUrl}`,
        },
      ];
      return {
        credential,
        current,
        oldKeyStatus,
        baseline,
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

    /** CANARY: every allowed route with the pending key, through the gateway's OpenAI API. */
    async runCanary(input: {
      credential: CredentialRef;
      pending: SecretVersionRef;
      routes: Route[];
    }): Promise<CanaryReport> {
      const key = await deps.secretStoreFor(input.credential).resolve(input.pending);
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

    /** HOLDING: traffic figures of a key over a window. */
    async observeWindow(input: {
      credential: CredentialRef;
      key: TelemetryKey;
      fromMs: number;
      toMs: number;
    }): Promise<WindowMetrics> {
      return deps.telemetry.window(input.credential, input.key, input.fromMs, input.toMs);
    },

    /** HOLDING: old-key requests per consumer over a window, for the drain. */
    async oldKeyUsage(input: {
      credential: CredentialRef;
      key: TelemetryKey;
      fromMs: number;
      toMs: number;
    }): Promise<OldKeyUsage> {
      const perConsumer = await deps.telemetry.usageByConsumer(
        input.credential,
        input.key,
        input.fromMs,
        input.toMs,
      );
      const total = perConsumer.reduce((sum, c) => sum + c.requests, 0);
      return { fromMs: input.fromMs, toMs: input.toMs, total, perConsumer };
    },

    /** REVOKING (and rollback): disable, then delete a gateway key; already gone counts as done. */
    async revokeGatewayKey(input: { credential: CredentialRef; keyId: string }): Promise<RevokeResult> {
      const outcome = await revokeKey(adminFor(input.credential), input.keyId);
      return {
        method: outcome === 'revoked' ? 'disabled-and-deleted' : 'already-gone',
        at: new Date(now()).toISOString(),
      };
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
