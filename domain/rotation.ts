// The rotation's vocabulary as zod enums, and its types (z.infer): phases, outcomes, gates, verdicts, key
// states, gate rows, roles, routes, signals, failure types. The lists themselves are in vocabulary.ts
// (zod-free, for workflow code); every other shape (status, messages, evidence, API bodies, registry)
// builds on these enums instead of restating them.
import { z } from 'zod';
import { FAILURE_TYPES } from './failure-types';
import {
  ANALYSIS_STAGES,
  ATTRIBUTION_VERDICTS,
  BREACH_CHECKS,
  CANARY_FAILURES,
  GATE_DECISIONS,
  GATE_EVIDENCE_LEVELS,
  GATE_ROW_KEYS,
  GATE_ROW_STATES,
  GATES,
  KEY_STATES,
  MESSAGE_NAMES,
  MODES,
  OUTCOMES,
  PENDING_GATES,
  PHASES,
  POINT_OF_NO_RETURN,
  PRE_CHECK_RESULTS,
  REFUSAL_KINDS,
  REVOCATION_METHODS,
  ROLES,
  ROUTES,
  SIGNALS,
  TERMINAL_PHASES,
  VERDICTS,
  VERSION_ROLES,
} from './vocabulary';

export * from './vocabulary';

export const phaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof phaseSchema>;
export const terminalPhaseSchema = z.enum(TERMINAL_PHASES);
export type TerminalPhase = z.infer<typeof terminalPhaseSchema>;
export const pointOfNoReturnSchema = z.enum(POINT_OF_NO_RETURN);
export const outcomeSchema = z.enum(OUTCOMES);
export type Outcome = z.infer<typeof outcomeSchema>;

export const gateSchema = z.enum(GATES);
export type Gate = z.infer<typeof gateSchema>;
export const gateDecisionSchema = z.enum(GATE_DECISIONS);
export type GateDecision = z.infer<typeof gateDecisionSchema>;
export const pendingGateKindSchema = z.enum(PENDING_GATES);
export type PendingGateKind = z.infer<typeof pendingGateKindSchema>;
export const gateEvidenceLevelSchema = z.enum(GATE_EVIDENCE_LEVELS);
export type GateEvidenceLevel = z.infer<typeof gateEvidenceLevelSchema>;
export const gateRowKeySchema = z.enum(GATE_ROW_KEYS);
export type GateRowKey = z.infer<typeof gateRowKeySchema>;
export const gateRowStateSchema = z.enum(GATE_ROW_STATES);
export type GateRowState = z.infer<typeof gateRowStateSchema>;

export const verdictSchema = z.enum(VERDICTS);
export type Verdict = z.infer<typeof verdictSchema>;
export const attributionVerdictSchema = z.enum(ATTRIBUTION_VERDICTS);
export const analysisStageSchema = z.enum(ANALYSIS_STAGES);
export type AnalysisStage = z.infer<typeof analysisStageSchema>;
export const breachCheckSchema = z.enum(BREACH_CHECKS);
export type BreachCheck = z.infer<typeof breachCheckSchema>;

export const keyStateSchema = z.enum(KEY_STATES);
export type KeyState = z.infer<typeof keyStateSchema>;
export const revocationMethodSchema = z.enum(REVOCATION_METHODS);
export type RevocationMethod = z.infer<typeof revocationMethodSchema>;
export const versionRoleSchema = z.enum(VERSION_ROLES);
export type VersionRole = z.infer<typeof versionRoleSchema>;

export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;
export const modeSchema = z.enum(MODES);
export type Mode = z.infer<typeof modeSchema>;
export const routeSchema = z.enum(ROUTES);
export type Route = z.infer<typeof routeSchema>;
export const signalSchema = z.enum(SIGNALS);
export type Signal = z.infer<typeof signalSchema>;
export const canaryFailureSchema = z.enum(CANARY_FAILURES);
export const preCheckResultKindSchema = z.enum(PRE_CHECK_RESULTS);

export const messageNameSchema = z.enum(MESSAGE_NAMES);
export type MessageName = z.infer<typeof messageNameSchema>;
export const refusalKindSchema = z.enum(REFUSAL_KINDS);
export type RefusalKind = z.infer<typeof refusalKindSchema>;
export const failureTypeSchema = z.enum(FAILURE_TYPES);

export type { FailureType } from './failure-types';
