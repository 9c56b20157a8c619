// Shapes that cross the activity boundary. Every one carries references and fingerprints, never key
// material: these values are what Temporal records in workflow history.
import type { Route } from '../common/policy';

/** `sha256:` + the first 12 hex characters of the key's SHA-256. */
export type Fingerprint = `sha256:${string}`;

/** Which admin API the gateway has; `manual` means a human issues and revokes keys. */
export type AdminAdapterKind = 'manual' | 'litellm' | 'openrouter';

/** One version of a secret in the vault, by reference. */
export interface SecretVersionRef {
  vaultUrl: string;
  name: string;
  version: string;
  fingerprint: Fingerprint;
  enabled: boolean;
  createdAt?: string;
  /** The gateway's id of the key this version holds, when rekey issued it (tag `rekey-gateway-key`). */
  gatewayKeyId?: string;
}

/** Where a secret version stands in a rotation (tag `rekey-stage`). */
export type SecretStage = 'pending' | 'current' | 'previous' | 'rolled-back' | 'retired';

/** One version of a credential's stable or pending secret for the evidence: tags and times, never a value. */
export interface SecretVersionRecord {
  vaultUrl: string;
  name: string;
  version: string;
  enabled: boolean;
  createdAt?: string;
  updatedAt?: string;
  /** From the `rekey-fingerprint` tag; versions rekey never touched have none. */
  fingerprint?: Fingerprint;
  stage?: SecretStage;
  rotationId?: string;
  gatewayKeyId?: string;
  /** Every tag of the version (rekey's and anyone else's). */
  tags: Record<string, string>;
}

/** A consumer of the credential as registered by the platform team. */
export interface Consumer {
  app: string;
  environment: string;
  reload: string;
  /** Who remediates the app when it cannot rotate in time (the evidence's exception list). */
  owner?: string;
  /** A canary consumer reads the pending secret during the canary soak (the real-traffic cohort). */
  canary?: boolean;
}

/** The registry entry of a credential, without its admin key (only where that key lives). */
export interface CredentialRef {
  name: string;
  environment: string;
  vaultUrl: string;
  secretName: string;
  pendingSecretName: string;
  gatewayBaseUrl: string;
  adminAdapter: AdminAdapterKind;
  consumers: Consumer[];
}

/** What a gateway key may do; compared old vs new so a rotation never broadens access. */
export interface KeyScope {
  models: string[];
  maxBudget?: number | null;
  rpmLimit?: number | null;
  tpmLimit?: number | null;
  team?: string | null;
  owner?: string | null;
  metadata?: Record<string, string>;
}

/** A pre-check the ticket claimed, and what rekey found. */
export interface PreCheckResult {
  name: string;
  claimed: boolean | string | undefined;
  /** `verified`: rekey found it true; `failed`: rekey found otherwise; `unverified`: rekey cannot look. */
  result: 'verified' | 'failed' | 'unverified';
  /** Same as `result === 'verified'`. */
  verified: boolean;
  detail: string;
}

/** Per-key signals a telemetry source may or may not be able to observe. */
export const SIGNALS = [
  'requests',
  'authErrors',
  'rateLimited',
  'serverErrors',
  'latency',
  'tokens',
  'spend',
  'perConsumer',
] as const;
export type Signal = (typeof SIGNALS)[number];
export type SignalCapabilities = Record<Signal, boolean>;

/** The telemetry source a credential's checks read, and what it can see per key. */
export interface TelemetrySource {
  name: string;
  capabilities: SignalCapabilities;
}

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

/** Traffic figures of one key over a window. Rates are derived by the rules, not stored. */
export interface WindowMetrics {
  fromMs: number;
  toMs: number;
  requests: number;
  authErrors: number;
  rateLimited: number;
  serverErrors: number;
  p95LatencyMs: number;
  tokens: number;
  spend: number;
  /**
   * False when the source has not caught up with the window's end yet (rows or scrapes still to land):
   * such a window is inconclusive. Absent means caught up.
   */
  complete?: boolean;
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
}

export interface CanaryRequest {
  route: Route;
  requestId?: string;
  model?: string;
  status: number;
  latencyMs: number;
  tokens?: number;
  ok: boolean;
  reason?:
    | 'auth'
    | 'route-denied'
    | 'rate-limited'
    | 'server-error'
    | 'malformed-stream'
    | 'schema-mismatch'
    | 'timeout';
}

export interface CanaryReport {
  passed: boolean;
  requests: CanaryRequest[];
}

export interface AttributionReport {
  /** `inconclusive`: no usage recorded yet for the key, so nothing could be attributed. */
  verdict: 'pass' | 'fail' | 'inconclusive';
  passed: boolean;
  owner?: string;
  team?: string;
  expectedOwner: string;
  anomalies: string[];
}

export interface PromoteResult {
  current: SecretVersionRef;
  previous: SecretVersionRef;
}

export interface ConsumerUsage {
  consumer: string;
  requests: number;
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

export interface NegativeTestResult {
  oldKeyStatus: number;
  oldKeyRejected: boolean;
  newKeyStatus: number;
  newKeyAccepted: boolean;
  attempts: number;
  at: string;
}

export interface RollbackResult {
  restored?: SecretVersionRef;
  disabled?: SecretVersionRef;
}

export interface EvidenceRecord {
  location: string;
  sha256: string;
  previousSha256: string | null;
}

/** Kinds of event the ticket's webhook is told about. */
export type NotifyEvent = 'phase-changed' | 'gate-opened' | 'approval-timeout' | 'alert' | 'finished';
