// The activities the rotation workflow calls. Each resolves key values itself, through the ports, and
// returns only references, fingerprints and figures. Failures retrying cannot fix are non-retryable
// ApplicationFailures whose `type` (FailureTypes) the workflow branches on.
import { ApplicationFailure } from '@temporalio/common';
import type { Route } from '../common/policy';
import { revokeKey } from './gateway/admin-registry';
import { issueReplacementKey } from './gateway/issue-key';
import { runNegativeTest } from './gateway/negative-test';
import type { ActivityDeps, TelemetryKey } from './ports';
import { Context } from '@temporalio/activity';
import { FailureTypes } from '../common/failures';
import { sha256Hex } from './fingerprint';
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
  SecretVersionRef,
  WindowMetrics,
} from './types';

const BASELINE_WINDOW_MS = 60 * 60_000;

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
      return deps.probeFor(input.credential).canary(input.credential.gatewayBaseUrl, key, input.routes);
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
      return runNegativeTest(
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

    /** ARCHIVING (and every terminal outcome): writes the evidence bundle. */
    async writeEvidence(input: { rotationId: string; bundle: unknown }): Promise<EvidenceRecord> {
      return deps.evidence.write(input.rotationId, input.bundle);
    },

    /** Tells the ticket's webhook; the workflow never lets a failure here block the rotation. */
    async notify(input: {
      rotationId: string;
      event: NotifyEvent;
      phase: string;
      message: string;
      webhookUrl?: string;
    }): Promise<void> {
      // Stable across retries of this activity, distinct for every event: receivers dedupe on it.
      const info = activityInfo();
      const run = info?.workflowExecution;
      const deliveryId =
        info && run ? sha256Hex(`${run.workflowId}/${run.runId}/${info.activityId}`) : undefined;
      await deps.notifier.notify({ ...input, ...(deliveryId ? { deliveryId } : {}) });
    },
  };
}

/** The activity surface the workflow proxies. */
export type RotationActivities = ReturnType<typeof createActivities>;

/** The running activity's info, or undefined when called outside an activity (tests, scripts). */
function activityInfo() {
  try {
    return Context.current().info;
  } catch {
    return undefined;
  }
}
