// Shapes that cross the activity boundary. Every one carries references and fingerprints, never key
// material: these values are what Temporal records in workflow history.
import type { CredentialRef } from './credentials';
import type {
  CanaryRequest,
  ConsumerUsage,
  PreCheckResult,
  TelemetrySource,
  WindowMetrics,
} from './observations';
import type { SecretVersionRef } from './secrets';
import type { KeyScope, KeyScopeCheck } from './key-scope';

export type { AdminAdapterKind, Consumer, CredentialRef } from './credentials';
export { SIGNALS } from './vocabulary';
export type { Signal } from './rotation';
export type {
  AttributionReport,
  CanaryRequest,
  ConsumerUsage,
  EvidenceRecord,
  NegativeTestResult,
  OldKeyGrace,
  PreCheckResult,
  ReplicaNegativeTest,
  SignalCapabilities,
  TelemetrySource,
  WindowMetrics,
} from './observations';
export type {
  Fingerprint,
  SecretBackendKind,
  SecretLocation,
  SecretStage,
  SecretVersionRecord,
  SecretVersionRef,
} from './secrets';

/** What a gateway key may do; compared old vs new so a rotation never broadens access. */
/** Every field that limits or attributes a gateway key: domain/key-scope.ts. */
export type { KeyScope } from './key-scope';

/**
 * One hold or soak window as the telemetry saw it. A part that could not be read is absent and its
 * error is listed: the workflow judges such a window `error`/`inconclusive`, never `pass`.
 */
export interface HoldObservation {
  fromMs: number;
  toMs: number;
  source: TelemetrySource;
  newKey?: WindowMetrics;
  /** New-key requests per consumer (the canary identity excluded). */
  newKeyByConsumer?: ConsumerUsage[];
  /** Old-key requests per consumer; absent during the soak (not asked) or when it failed. */
  oldKeyByConsumer?: ConsumerUsage[];
  errors: string[];
}

export interface PreflightResult {
  credential: CredentialRef;
  current: SecretVersionRef;
  oldGatewayKeyId?: string;
  oldKeyStatus: number;
  oldScope?: KeyScope;
  baseline: WindowMetrics;
  /** Old-key requests per consumer over the baseline window; absent when the source could not say. */
  baselineByConsumer?: ConsumerUsage[];
  telemetry: TelemetrySource;
  /** Whether the gateway admin adapter can disable a key (reversibly) before deleting it. */
  gatewayCanDisable: boolean;
  preChecks: PreCheckResult[];
}

export interface IssuedKey {
  gatewayKeyId: string;
  pending: SecretVersionRef;
  scope: KeyScope;
  reused: boolean;
  /** Old scope, issued scope and their diff; absent from workers older than the scope check. */
  scopeCheck?: KeyScopeCheck;
}

export interface CanaryReport {
  passed: boolean;
  requests: CanaryRequest[];
}

export interface PromoteResult {
  current: SecretVersionRef;
  previous: SecretVersionRef;
}

export interface OldKeyUsage {
  fromMs: number;
  toMs: number;
  total: number;
  perConsumer: ConsumerUsage[];
}

export interface RevokeResult {
  method: 'disabled-and-deleted' | 'already-gone';
  at: string;
}

/** One reversible or irreversible step on a gateway key, and when it was taken. */
export interface KeyActionResult {
  result: 'disabled' | 'enabled' | 'deleted' | 'already-gone' | 'unsupported';
  at: string;
}

export interface RollbackResult {
  restored?: SecretVersionRef;
  disabled?: SecretVersionRef;
}

/** Kinds of event the ticket's webhook is told about. */
export type NotifyEvent =
  | 'phase-changed'
  | 'gate-opened'
  | 'approval-timeout'
  | 'alert'
  | 'finished'
  /** Issue 16: a scheduled rotation starts notice_hours from now; an expiring key could not be rotated. */
  | 'schedule-notice'
  | 'expiry-reminder';
