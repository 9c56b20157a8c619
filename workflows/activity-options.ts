// One named option set per kind of external call: timeouts, retries, and the failure types retrying
// cannot fix. Workflow code only; activities are imported as types.
import type { ActivityOptions } from '@temporalio/workflow';
import { FailureTypes } from '../domain/failure-types';

const configurationErrors = [
  FailureTypes.UnknownCredential,
  FailureTypes.SecretNotFound,
  FailureTypes.SecretDisabled,
  FailureTypes.VaultForbidden,
  FailureTypes.GatewayAdminForbidden,
];

/** Registry, vault and gateway reads before anything changes. */
export const preflightOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2s',
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...configurationErrors, FailureTypes.OldKeyRejected],
  },
};

/**
 * Key Vault writes and reads (stage, promote, roll back, retire): idempotent, retried through outages.
 * No heartbeatTimeout: these activities do not heartbeat. Instead every store operation aborts all its
 * requests at its own 40 s deadline, well inside the 1-minute start-to-close, so a timed-out attempt has
 * stopped before its retry starts; the worker's own cancel at start-to-close (+5 s local buffer) aborts
 * the same signal too (activities/secrets/azure-key-vault/operation-budget.ts has the arithmetic).
 */
export const vaultOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1s',
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...configurationErrors, FailureTypes.StagedKeyMismatch],
  },
};

/** Gateway admin API (issue, revoke): idempotent by rotation id and key id. */
export const gatewayAdminOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    maximumInterval: '1 minute',
    maximumAttempts: 8,
    nonRetryableErrorTypes: [
      ...configurationErrors,
      FailureTypes.ScopeBroadened,
      FailureTypes.ScopeNotCopied,
    ],
  },
};

/** Canary calls: a failing route is a result, not an error, so few retries. */
export const canaryOptions: ActivityOptions = {
  // Every route may take its whole call timeout (30 s by default) before failing with `timeout`.
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5s', maximumAttempts: 3, nonRetryableErrorTypes: [FailureTypes.NewKeyRejected] },
};

/** Telemetry queries during the hold: a monitoring blip must not roll a healthy rotation back. */
export const telemetryOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2s',
    maximumInterval: '1 minute',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [FailureTypes.TelemetryUnsupported, FailureTypes.AttributionUnsupported],
  },
};

/** The negative test retries inside the activity while revocation propagates. */
export const negativeTestOptions: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '10s', maximumAttempts: 3 },
};

/** Deploy-system rollout hook. */
export const rolloutHookOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '5s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [FailureTypes.RolloutHookRejected],
  },
};

/** Evidence store writes: must land, so retried long. */
export const evidenceOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2s', maximumInterval: '1 minute', maximumAttempts: 20 },
};

/** Ticket webhooks: best effort, never blocking the rotation. */
export const notifyOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
};
