// Every message a rotation accepts, defined once. Each update (synchronous accept/reject for the API)
// has a signal of the same name for operators using the Temporal CLI or UI; one handler serves both.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AttributionReport,
  CanaryRequest,
  Fingerprint,
  NegativeTestResult,
  PreCheckResult,
  SecretVersionRef,
  Signal,
  TelemetrySource,
  WindowMetrics,
  ConsumerUsage,
  EvidenceRecord,
} from '../activities/types';
import type { Mode, Role } from '../common/policy';
import type { Breach } from './rules';

export const PHASES = [
  'PREPARING',
  'AWAITING_REPLACEMENT_KEY',
  'ISSUING',
  'CANARY',
  'AWAITING_FLIP_APPROVAL',
  'FLIPPING',
  'HOLDING',
  'AWAITING_REVOKE_APPROVAL',
  'REVOKING',
  'VERIFYING_REVOCATION',
  'ARCHIVING',
  'COMPLETED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'ABORTED',
  'FAILED',
] as const;
export type Phase = (typeof PHASES)[number];

export type Outcome = 'completed' | 'rolled_back' | 'aborted' | 'failed';
export type Gate = 'flip' | 'revoke';
/** How a gate ended; a timeout only reminds, so it never ends a gate. */
export type GateDecision = 'APPROVED' | 'REJECTED';

/** Phases after which the old key may be gone: rollback is refused from here on. */
export const POINT_OF_NO_RETURN: readonly Phase[] = [
  'REVOKING',
  'VERIFYING_REVOCATION',
  'ARCHIVING',
  'COMPLETED',
  'FAILED',
];
export const TERMINAL_PHASES: readonly Phase[] = ['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED'];

/** The authenticated principal behind a message; the API fills it from the bearer token, never the body. */
export interface Actor {
  principal: string;
  roles: Role[];
}

/** A consumer that cannot move to the new key yet (the seed's exception list). */
export interface ExceptionInput {
  consumer: string;
  /** Who remediates it. */
  owner: string;
  /** ISO date (or date-time) by which it will have moved. */
  expiresAt: string;
  /** What limits the risk meanwhile, e.g. "egress restricted to the batch subnet". */
  compensatingControl: string;
}

export interface ApproveArgs extends Actor {
  gate: Gate;
  comment?: string;
  /** Emergency mode only: lets the requester approve their own rotation. */
  breakGlassReason?: string;
  /**
   * Accepts, on record, the risk of a gate that lacks positive evidence (its blockers). Required to
   * approve such a gate; recorded with the principal and the missing evidence.
   */
  riskReason?: string;
  /** Consumers still on the old key that the approval accepts as exceptions. */
  exceptions?: ExceptionInput[];
}
export interface RejectArgs extends Actor {
  gate: Gate;
  reason: string;
}
export interface RollbackArgs extends Actor {
  reason: string;
}
export interface AbortArgs extends Actor {
  reason: string;
}
export interface ExtendHoldArgs extends Actor {
  minutes: number;
  reason: string;
  /** Consumers that cannot move yet, recorded with owner, expiry and compensating control. */
  exceptions?: ExceptionInput[];
}
/** After a rollback that kept the replacement key enabled: revoke it once its traffic has drained. */
export interface RevokeReplacementKeyArgs extends Actor {
  reason: string;
}
export interface ReplacementKeyStagedArgs extends Actor {
  version: string;
  fingerprint: Fingerprint;
}
export interface RevocationConfirmedArgs extends Actor {
  comment?: string;
}

/** Why a message was refused: the API answers NotAllowed with 403, NotOpen with 409, Invalid with 400. */
export type RefusalKind = 'NotAllowed' | 'NotOpen' | 'Invalid';
export interface Refusal {
  kind: RefusalKind;
  message: string;
}
/** The ApplicationFailure type a refused update carries, so callers can branch without parsing text. */
export const refusalFailureType = (kind: RefusalKind) => `MessageRefused.${kind}`;
export const notAllowed = (message: string): Refusal => ({ kind: 'NotAllowed', message });
export const notOpen = (message: string): Refusal => ({ kind: 'NotOpen', message });
export const invalid = (message: string): Refusal => ({ kind: 'Invalid', message });

/** What an accepted update reports back. */
export interface MessageAck {
  accepted: true;
  phase: Phase;
}

export const approveUpdate = defineUpdate<MessageAck, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<MessageAck, [RejectArgs]>('reject');
export const rollbackUpdate = defineUpdate<MessageAck, [RollbackArgs]>('rollback');
export const abortUpdate = defineUpdate<MessageAck, [AbortArgs]>('abort');
export const extendHoldUpdate = defineUpdate<MessageAck, [ExtendHoldArgs]>('extendHold');
export const replacementKeyStagedUpdate = defineUpdate<MessageAck, [ReplacementKeyStagedArgs]>(
  'replacementKeyStaged',
);
export const revocationConfirmedUpdate = defineUpdate<MessageAck, [RevocationConfirmedArgs]>(
  'revocationConfirmed',
);
export const revokeReplacementKeyUpdate = defineUpdate<MessageAck, [RevokeReplacementKeyArgs]>(
  'revokeReplacementKey',
);

export const approveSignal = defineSignal<[ApproveArgs]>('approve');
export const rejectSignal = defineSignal<[RejectArgs]>('reject');
export const rollbackSignal = defineSignal<[RollbackArgs]>('rollback');
export const abortSignal = defineSignal<[AbortArgs]>('abort');
export const extendHoldSignal = defineSignal<[ExtendHoldArgs]>('extendHold');
export const replacementKeyStagedSignal = defineSignal<[ReplacementKeyStagedArgs]>('replacementKeyStaged');
export const revocationConfirmedSignal = defineSignal<[RevocationConfirmedArgs]>('revocationConfirmed');
export const revokeReplacementKeySignal = defineSignal<[RevokeReplacementKeyArgs]>('revokeReplacementKey');

export interface TimelineEntry {
  at: string;
  phase: Phase;
  event: string;
  detail?: string;
  by?: string;
}

/** How one analysis measurement came out (Argo Rollouts' vocabulary); only `pass` is evidence. */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'error';

export interface CheckRecord {
  at: string;
  name: string;
  /** Same as `verdict === 'pass'` where a verdict is given. */
  passed: boolean;
  verdict?: Verdict;
  detail: string;
  /** Why the verdict is not `pass`: breaches, too little traffic, unobservable signals, errors. */
  reasons?: string[];
  figures?: WindowMetrics;
  breaches?: Breach[];
}

/** Running tally of an analysis (the canary soak, or the hold since it was last entered). */
export interface AnalysisTally {
  stage: 'soak' | 'hold';
  measurements: number;
  passed: number;
  failed: number;
  inconclusive: number;
  /** Errors in a row (reset by any measurement that is not an error). */
  consecutiveErrors: number;
  limits: { failure: number; inconclusive: number; consecutiveError: number };
}

/** One row of the seed's "Rollback Checks Before You Revoke The Old Key", judged at the gate. */
export type GateRowKey =
  | 'authentication'
  | 'routing'
  | 'usageAttribution'
  | 'quotaAndBudget'
  | 'runtimeCoverage'
  | 'supportReadiness';
export interface GateRow {
  signal: GateRowKey;
  /** green: positive evidence; red: do not revoke; unknown: not enough evidence either way. */
  state: 'green' | 'red' | 'unknown';
  /** A row that does not hold the gate shut (support readiness is what the approval itself confirms). */
  blocking: boolean;
  evidence: string[];
}

/** What a gate was shown when it opened: positive evidence, or the blockers a human must weigh. */
export interface GateEvidence {
  gate: Gate;
  computedAt: string;
  evidence: 'positive' | 'insufficient';
  blockers: string[];
  rows: GateRow[];
}

/** What rekey knows about one consumer of the key during the rotation. */
export interface ConsumerCoverage {
  consumer: string;
  /** Registered (or named in the ticket's scope.apps) rather than first seen in telemetry. */
  inventory: boolean;
  canary?: boolean;
  owner?: string;
  reload?: string;
  /** Old-key requests in the baseline window; absent when the source could not say. */
  baselineRequests?: number;
  newKeyRequests: number;
  oldKeyRequests: number;
  firstNewKeyAt?: string;
  lastNewKeyAt?: string;
  lastOldKeyAt?: string;
}

/** A consumer accepted as an exception: still on the old key, with who remediates it by when. */
export interface ExceptionRecord extends ConsumerUsage {
  owner?: string;
  expiresAt?: string;
  compensatingControl?: string;
  recordedBy?: string;
  recordedAt?: string;
}

/** A human accepting, on record, a gate that lacked positive evidence. */
export interface RiskAcceptance {
  gate: Gate;
  principal: string;
  reason: string;
  /** The blockers the gate showed: what evidence was missing. */
  missing: string[];
  at: string;
}

/** State of a gateway key as rekey last left or saw it. */
export type KeyState = 'enabled' | 'disabled' | 'deleted' | 'unknown';

export interface ApprovalRecord {
  gate: Gate;
  decision: GateDecision;
  principal: string;
  at: string;
  comment?: string;
  breakGlassReason?: string;
}

export interface PendingGate {
  gate: Gate | 'replacement-key' | 'revocation-confirmation' | 'replacement-key-revocation';
  openedAt: string;
  requiredRoles: Role[];
  reminders: number;
  /** Flip and revoke gates: whether the evidence is positive, and what blocks it when it is not. */
  evidence?: 'positive' | 'insufficient';
  blockers?: string[];
}

/** The `status` query: everything an operator or the API shows about a rotation. */
export interface RotationStatus {
  rotationId: string;
  credential: string;
  environment: string;
  mode: Mode;
  changeTicket: string;
  requestedBy: string;
  phase: Phase;
  outcome?: Outcome;
  pendingGate?: PendingGate;
  timeline: TimelineEntry[];
  checks: CheckRecord[];
  approvals: ApprovalRecord[];
  versions: {
    old?: SecretVersionRef;
    pending?: SecretVersionRef;
    current?: SecretVersionRef;
    restored?: SecretVersionRef;
    retired?: SecretVersionRef;
  };
  fingerprints: { old?: Fingerprint; new?: Fingerprint };
  gatewayKeys: { old?: string; new?: string };
  preChecks: PreCheckResult[];
  canary: CanaryRequest[];
  attribution?: AttributionReport;
  baseline?: WindowMetrics;
  hold?: {
    startedAt: string;
    observationEndsAt: string;
    maxHoldEndsAt: string;
    oldKeyZeroSince?: string;
    /** Sums over every hold check (the checks list keeps only the latest ones). */
    totals: {
      checks: number;
      newKeyRequests: number;
      authErrors: number;
      rateLimited: number;
      serverErrors: number;
      oldKeyRequests: number;
    };
  };
  exceptions: ExceptionRecord[];
  /** The analysis in progress or last run (soak or hold). */
  analysis?: AnalysisTally;
  /** Per consumer: baseline, new-key and old-key traffic seen. */
  coverage: ConsumerCoverage[];
  /** The telemetry source and the signals it cannot see for this credential. */
  telemetry?: TelemetrySource & { unobservable: Signal[] };
  /** What each gate showed when it last opened (the revoke gate's rows are the seed's rollback checks). */
  gateEvidence: { flip?: GateEvidence; revoke?: GateEvidence };
  riskAcceptances: RiskAcceptance[];
  /** How the old key was revoked: reversible disable first where the gateway can, and the probes. */
  revocation?: {
    method: 'disable-then-delete' | 'delete-only' | 'manual';
    preRevokeProbe?: CanaryRequest[];
    disabledAt?: string;
    reEnabledAt?: string;
    deletedAt?: string;
  };
  /** After a rollback past the flip: the replacement key left enabled for consumers that reloaded. */
  keptReplacementKey?: {
    keyId?: string;
    fingerprint?: Fingerprint;
    since: string;
    revokedAt?: string;
    revokedBy?: string;
  };
  /** What is live at the end of a failed rotation, spelled out. */
  live?: { oldKey: KeyState; newKey: KeyState; currentVersion?: string; detail: string };
  negativeTest?: NegativeTestResult;
  evidence?: EvidenceRecord;
  failure?: { phase: Phase; reason: string };
  rollbackCause?: string;
  acceptedRisk?: string;
  /** The run of the workflow this status comes from: each continue-as-new starts the next one. */
  run?: number;
  /** Timeline entries dropped to keep the timeline bounded, counted by event. */
  timelineOmitted?: Record<string, number>;
}

/** The failure type a rotation that did not complete ends with, so the UI and metrics tell it apart. */
export const OUTCOME_FAILURE_TYPES = {
  rolled_back: 'RotationRolledBack',
  aborted: 'RotationAborted',
  failed: 'RotationFailed',
} as const satisfies Record<Exclude<Outcome, 'completed'>, string>;

export const statusQuery = defineQuery<RotationStatus>('status');
