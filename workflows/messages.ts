// Every message a rotation accepts, defined once. Each update (synchronous accept/reject for the API)
// has a signal of the same name for operators using the Temporal CLI or UI; one handler serves both.
// The shapes are the domain's (domain/messages.ts, domain/status.ts), imported as types only: at run
// time this file reaches nothing but zod-free lists (domain/vocabulary.ts), so zod stays out of the
// workflow bundle (bench/workflow-bundle.ts measures it).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AbortArgs,
  ApproveArgs,
  EscalateArgs,
  ExtendHoldArgs,
  MessageAck,
  Refusal,
  RejectArgs,
  ReplacementKeyStagedArgs,
  RevocationConfirmedArgs,
  RevokeReplacementKeyArgs,
  RollbackArgs,
} from '../domain/messages';
import type { Phase } from '../domain/rotation';
import type { RotationStatus } from '../domain/status';
import {
  POINT_OF_NO_RETURN as POINT_OF_NO_RETURN_PHASES,
  TERMINAL_PHASES as TERMINAL_PHASE_LIST,
} from '../domain/vocabulary';

export { PHASES } from '../domain/vocabulary';
export { OUTCOME_FAILURE_TYPES, refusalFailureType } from '../domain/failure-types';
export type {
  Gate,
  GateDecision,
  GateRowKey,
  KeyState,
  Outcome,
  Phase,
  RefusalKind,
  Verdict,
} from '../domain/rotation';
export type {
  AbortArgs,
  Actor,
  ApproveArgs,
  EscalateArgs,
  ExceptionInput,
  ExtendHoldArgs,
  MessageAck,
  Refusal,
  RejectArgs,
  ReplacementKeyStagedArgs,
  RevocationConfirmedArgs,
  RevokeReplacementKeyArgs,
  RollbackArgs,
} from '../domain/messages';
export type {
  AnalysisTally,
  ApprovalRecord,
  CheckRecord,
  ConsumerCoverage,
  EscalationRecord,
  ExceptionRecord,
  GateEvidence,
  GateRow,
  PendingGate,
  RiskAcceptance,
  RotationStatus,
  TimelineEntry,
} from '../domain/status';

/** Phases after which the old key may be gone: rollback is refused from here on. */
export const POINT_OF_NO_RETURN: readonly Phase[] = POINT_OF_NO_RETURN_PHASES;
/** The phases a rotation ends in. Both lists are widened to Phase[] so that `.includes(phase)` reads. */
export const TERMINAL_PHASES: readonly Phase[] = TERMINAL_PHASE_LIST;

export const notAllowed = (message: string): Refusal => ({ kind: 'NotAllowed', message });
export const notOpen = (message: string): Refusal => ({ kind: 'NotOpen', message });
export const invalid = (message: string): Refusal => ({ kind: 'Invalid', message });

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
export const escalateUpdate = defineUpdate<MessageAck, [EscalateArgs]>('escalate');

export const approveSignal = defineSignal<[ApproveArgs]>('approve');
export const rejectSignal = defineSignal<[RejectArgs]>('reject');
export const rollbackSignal = defineSignal<[RollbackArgs]>('rollback');
export const abortSignal = defineSignal<[AbortArgs]>('abort');
export const extendHoldSignal = defineSignal<[ExtendHoldArgs]>('extendHold');
export const replacementKeyStagedSignal = defineSignal<[ReplacementKeyStagedArgs]>('replacementKeyStaged');
export const revocationConfirmedSignal = defineSignal<[RevocationConfirmedArgs]>('revocationConfirmed');
export const revokeReplacementKeySignal = defineSignal<[RevokeReplacementKeyArgs]>('revokeReplacementKey');
export const escalateSignal = defineSignal<[EscalateArgs]>('escalate');

export const statusQuery = defineQuery<RotationStatus>('status');
