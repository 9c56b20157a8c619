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

export interface ApproveArgs extends Actor {
  gate: Gate;
  comment?: string;
  /** Emergency mode only: lets the requester approve their own rotation. */
  breakGlassReason?: string;
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

export const approveSignal = defineSignal<[ApproveArgs]>('approve');
export const rejectSignal = defineSignal<[RejectArgs]>('reject');
export const rollbackSignal = defineSignal<[RollbackArgs]>('rollback');
export const abortSignal = defineSignal<[AbortArgs]>('abort');
export const extendHoldSignal = defineSignal<[ExtendHoldArgs]>('extendHold');
export const replacementKeyStagedSignal = defineSignal<[ReplacementKeyStagedArgs]>('replacementKeyStaged');
export const revocationConfirmedSignal = defineSignal<[RevocationConfirmedArgs]>('revocationConfirmed');

export interface TimelineEntry {
  at: string;
  phase: Phase;
  event: string;
  detail?: string;
  by?: string;
}

export interface CheckRecord {
  at: string;
  name: string;
  passed: boolean;
  detail: string;
  figures?: WindowMetrics;
  breaches?: Breach[];
}

export interface ApprovalRecord {
  gate: Gate;
  decision: GateDecision;
  principal: string;
  at: string;
  comment?: string;
  breakGlassReason?: string;
}

export interface PendingGate {
  gate: Gate | 'replacement-key' | 'revocation-confirmation';
  openedAt: string;
  requiredRoles: Role[];
  reminders: number;
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
  exceptions: ConsumerUsage[];
  negativeTest?: NegativeTestResult;
  evidence?: EvidenceRecord;
  failure?: { phase: Phase; reason: string };
  rollbackCause?: string;
  acceptedRisk?: string;
}

export const statusQuery = defineQuery<RotationStatus>('status');
