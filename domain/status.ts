// The `status` query's answer, in zod: everything an operator, the API, the CLI and the evidence builder
// read about a rotation. The workflow keeps it (so these are its types, via z.infer); the evidence bundle
// is built from it. References, fingerprints and figures only, never key material.
import { z } from 'zod';
import { keyScopeCheckSchema } from './key-scope';
import {
  attributionReportSchema,
  canaryRequestSchema,
  oldKeyGraceSchema,
  consumerUsageSchema,
  evidenceRecordSchema,
  negativeTestResultSchema,
  preCheckResultSchema,
  telemetrySourceSchema,
  windowMetricsSchema,
} from './observations';
import {
  VERSION_ROLES,
  analysisStageSchema,
  breachCheckSchema,
  gateDecisionSchema,
  gateEvidenceLevelSchema,
  gateRowKeySchema,
  gateRowStateSchema,
  gateSchema,
  keyStateSchema,
  modeSchema,
  outcomeSchema,
  pendingGateKindSchema,
  phaseSchema,
  revocationMethodSchema,
  roleSchema,
  signalSchema,
  verdictSchema,
} from './rotation';
import { fingerprintSchema, secretVersionRefSchema } from './secrets';
import { PROOF_CHANNELS } from './message-proof';
import { EXPOSURE_SOURCES } from './vocabulary';
import { exposureRefSchema } from './exposures';

const timestamp = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

/** One step of the rotation as it happened: what, in which phase, when, by whom. */
export const timelineEntrySchema = z.object({
  at: timestamp,
  phase: phaseSchema,
  event: z.string().describe('kebab-case event name, e.g. gate-opened'),
  detail: z.string().optional(),
  by: z.string().optional().describe('the principal behind it, for human actions'),
  proof: z
    .string()
    .optional()
    .describe('how the message behind it was proven: the API signature and how the principal logged in'),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

/** One threshold the new key's traffic broke, with the figures that broke it. */
export const breachSchema = z.object({
  check: breachCheckSchema,
  observed: z.number(),
  limit: z.number(),
  detail: z.string(),
});
export type Breach = z.infer<typeof breachSchema>;

/** One check the rotation ran (canary, soak window, hold window, drain, attribution …). */
export const checkRecordSchema = z.object({
  at: timestamp,
  name: z.string(),
  passed: z.boolean().describe('same as `verdict === pass` where a verdict is given'),
  verdict: verdictSchema.optional(),
  detail: z.string(),
  reasons: z
    .array(z.string())
    .optional()
    .describe('why the verdict is not pass: breaches, too little traffic, unobservable signals, errors'),
  figures: windowMetricsSchema.optional(),
  breaches: z.array(breachSchema).optional(),
});
export type CheckRecord = z.infer<typeof checkRecordSchema>;

/** Running tally of an analysis (the canary soak, or the hold since it was last entered). */
export const analysisTallySchema = z.object({
  stage: analysisStageSchema,
  measurements: count,
  passed: count,
  failed: count,
  inconclusive: count,
  consecutiveErrors: count.describe('errors in a row (reset by any measurement that is not an error)'),
  limits: z.object({ failure: count, inconclusive: count, consecutiveError: count }),
});
export type AnalysisTally = z.infer<typeof analysisTallySchema>;

/** One row of the seed's "Rollback Checks Before You Revoke The Old Key", judged at the gate. */
export const gateRowSchema = z.object({
  signal: gateRowKeySchema,
  state: gateRowStateSchema,
  blocking: z
    .boolean()
    .describe('false: the row does not hold the gate shut (support readiness is what the approval confirms)'),
  evidence: z.array(z.string()),
});
export type GateRow = z.infer<typeof gateRowSchema>;

/** What a gate was shown when it opened: positive evidence, or the blockers a human must weigh. */
export const gateEvidenceSchema = z.object({
  gate: gateSchema,
  computedAt: timestamp,
  evidence: gateEvidenceLevelSchema,
  blockers: z.array(z.string()),
  rows: z.array(gateRowSchema),
});
export type GateEvidence = z.infer<typeof gateEvidenceSchema>;

/** What rekey knows about one consumer of the key during the rotation. */
export const consumerCoverageSchema = z.object({
  consumer: z.string(),
  inventory: z
    .boolean()
    .describe('registered (or named in the ticket’s scope.apps) rather than first seen in telemetry'),
  canary: z.boolean().optional(),
  owner: z.string().optional(),
  reload: z.string().optional(),
  baselineRequests: z
    .number()
    .optional()
    .describe('old-key requests in the baseline window; absent when the source could not say'),
  newKeyRequests: z.number(),
  oldKeyRequests: z.number(),
  firstNewKeyAt: timestamp.optional(),
  lastNewKeyAt: timestamp.optional(),
  lastOldKeyAt: timestamp.optional(),
});
export type ConsumerCoverage = z.infer<typeof consumerCoverageSchema>;

/** A consumer accepted as an exception: still on the old key, with who remediates it by when. */
export const exceptionRecordSchema = consumerUsageSchema.extend({
  owner: z.string().optional(),
  expiresAt: z.string().optional().describe('as the person recording it typed it (a date or date-time)'),
  compensatingControl: z.string().optional(),
  recordedBy: z.string().optional(),
  recordedAt: timestamp.optional(),
});
export type ExceptionRecord = z.infer<typeof exceptionRecordSchema>;

/** A human accepting, on record, a gate that lacked positive evidence. */
export const riskAcceptanceSchema = z.object({
  gate: gateSchema,
  principal: z.string(),
  reason: z.string(),
  missing: z.array(z.string()).describe('the blockers the gate showed: what evidence was missing'),
  at: timestamp,
});
export type RiskAcceptance = z.infer<typeof riskAcceptanceSchema>;

const authnSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('static-token'), tokenId: z.string() }),
  z.object({ method: z.literal('oidc'), issuer: z.string(), subject: z.string() }),
  z.object({ method: z.literal('exposure-alert'), source: z.enum(EXPOSURE_SOURCES), alertId: z.string() }),
]);

/** How a message was proven (domain/message-proof.ts ProofRecord). */
export const proofRecordSchema = z.discriminatedUnion('method', [
  z.object({
    method: z.literal('signature'),
    keyId: z.string().describe('the rekey API signing key that signed it'),
    via: z.enum(PROOF_CHANNELS).describe('sent by the API (api) or printed for a Temporal signal (signal)'),
    authn: authnSchema.describe('how the API authenticated the principal'),
    issuedAt: timestamp,
    nonce: z.string(),
  }),
  z.object({ method: z.literal('unsigned-allowed'), note: z.string() }),
  z.object({
    method: z.literal('verified-alert'),
    source: z.enum(EXPOSURE_SOURCES),
    alertId: z.string(),
    url: z.string().optional(),
    receivedAt: timestamp,
  }),
]);

/** A switch of a running rotation to emergency mode: who, when, why, in which phase, the alert. */
export const escalationRecordSchema = z.object({
  at: timestamp,
  principal: z.string().describe('who escalated: a person, or exposure:<source>:<alertId>'),
  reason: z.string(),
  phase: phaseSchema.describe('the phase the rotation was in'),
  exposure: exposureRefSchema.optional().describe('the leak alert: source, alert id, url, fingerprint'),
  effect: z.string().describe('what the escalation changed (or that it was too late to speed anything up)'),
  proof: proofRecordSchema.optional(),
});
export type EscalationRecord = z.infer<typeof escalationRecordSchema>;

/** A gate decision. */
export const approvalRecordSchema = z.object({
  gate: gateSchema,
  decision: gateDecisionSchema,
  principal: z.string(),
  at: timestamp,
  comment: z.string().optional(),
  breakGlassReason: z.string().optional(),
  proof: proofRecordSchema
    .optional()
    .describe('how the decision was proven; absent in rotations started before rekey signed messages'),
});
export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

/** What the rotation waits on a human for, since when, and who may answer. */
export const pendingGateSchema = z.object({
  gate: pendingGateKindSchema,
  openedAt: timestamp,
  requiredRoles: z.array(roleSchema),
  reminders: count,
  evidence: gateEvidenceLevelSchema
    .optional()
    .describe('flip and revoke gates: whether the evidence is positive'),
  blockers: z.array(z.string()).optional().describe('what blocks the gate when its evidence is insufficient'),
});
export type PendingGate = z.infer<typeof pendingGateSchema>;

/** The secret versions a rotation touched, by what they are to it. */
const versionsSchema = z.object(
  Object.fromEntries(VERSION_ROLES.map((role) => [role, secretVersionRefSchema.optional()])) as Record<
    (typeof VERSION_ROLES)[number],
    z.ZodOptional<typeof secretVersionRefSchema>
  >,
);

/** The hold: when it started, when observation and the hold itself end, and its running sums. */
export const holdSchema = z.object({
  startedAt: timestamp,
  observationEndsAt: timestamp,
  maxHoldEndsAt: timestamp,
  oldKeyZeroSince: timestamp.optional(),
  waitingFor: z
    .array(z.string())
    .optional()
    .describe(
      "past the observation window: the revoke gate's blockers as of the latest check, what keeps the hold going",
    ),
  totals: z
    .object({
      checks: count,
      newKeyRequests: z.number(),
      authErrors: z.number(),
      rateLimited: z.number(),
      serverErrors: z.number(),
      oldKeyRequests: z.number(),
    })
    .describe('sums over every hold check (the checks list keeps only the latest ones)'),
});

/** How the old key was revoked: reversible disable first where the gateway can, and the probes. */
export const revocationSchema = z.object({
  method: revocationMethodSchema,
  preRevokeProbe: z.array(canaryRequestSchema).optional(),
  disabledAt: timestamp.optional(),
  reEnabledAt: timestamp.optional(),
  deletedAt: timestamp.optional(),
  /** The old key's answers on every replica just before revoke; not 2xx anywhere means it was cut early. */
  oldKeyGrace: oldKeyGraceSchema.optional(),
});

/** After a rollback past the flip: the replacement key left enabled for consumers that reloaded. */
export const keptReplacementKeySchema = z.object({
  keyId: z.string().optional(),
  fingerprint: fingerprintSchema.optional(),
  since: timestamp,
  revokedAt: timestamp.optional(),
  revokedBy: z.string().optional(),
});

/** What is live at the end of a failed rotation, spelled out. */
export const liveStateSchema = z.object({
  oldKey: keyStateSchema,
  newKey: keyStateSchema,
  currentVersion: z.string().optional(),
  detail: z.string(),
});

/** The `status` query: everything an operator or the API shows about a rotation. */
/** What the production rotation found, or ran, of its staging twin: in its status and its evidence. */
export const stagingTwinRecordSchema = z.object({
  credential: z.string().describe('the twin credential'),
  environment: z.string().describe('the twin’s environment, e.g. staging'),
  mode: z.enum(['require', 'run']).describe('require: one had to exist; run: rekey ran one first'),
  withinDays: z.number().describe('how recent the twin’s completed rotation had to be'),
  policyFingerprint: z
    .string()
    .optional()
    .describe('sha256 of the policy fields (domain/staging-twin.ts) both rotations share'),
  state: z
    .enum(['checking', 'running', 'passed', 'skipped', 'failed'])
    .describe(
      'checking: looking for a twin rotation; running: the twin rotation runs (mode run); passed: a twin rotation with the same policy completed; skipped: an emergency does not wait; failed: none did',
    ),
  rotationId: z.string().optional().describe('the twin’s rotation this one relies on'),
  workflowId: z.string().optional(),
  runId: z.string().optional(),
  completedAt: timestamp.optional().describe('when the twin’s rotation completed'),
  detail: z.string().optional(),
});
export type StagingTwinRecord = z.infer<typeof stagingTwinRecordSchema>;

export const rotationStatusSchema = z.object({
  rotationId: z.string(),
  credential: z.string(),
  environment: z.string(),
  mode: modeSchema,
  changeTicket: z.string(),
  requestedBy: z.string(),
  phase: phaseSchema,
  outcome: outcomeSchema.optional(),
  pendingGate: pendingGateSchema.optional(),
  timeline: z.array(timelineEntrySchema),
  checks: z.array(checkRecordSchema),
  approvals: z.array(approvalRecordSchema),
  versions: versionsSchema,
  fingerprints: z.object({ old: fingerprintSchema.optional(), new: fingerprintSchema.optional() }),
  gatewayKeys: z.object({ old: z.string().optional(), new: z.string().optional() }),
  keyScope: keyScopeCheckSchema
    .optional()
    .describe('the old key’s scope, the replacement’s as the gateway reported it, and their diff'),
  preChecks: z.array(preCheckResultSchema),
  canary: z.array(canaryRequestSchema),
  attribution: attributionReportSchema.optional(),
  baseline: windowMetricsSchema.optional(),
  hold: holdSchema.optional(),
  pairWait: z
    .object({
      pairedWith: z
        .array(z.string())
        .describe('the paired credentials whose flip or hold this one waits out'),
      since: timestamp,
    })
    .optional()
    .describe('present while the flip waits for a paired credential (shared consumers) to leave HOLDING'),
  stagingTwin: stagingTwinRecordSchema
    .optional()
    .describe('the staging twin this production rotation relied on, or ran first; absent when none'),
  exceptions: z.array(exceptionRecordSchema),
  analysis: analysisTallySchema.optional().describe('the analysis in progress or last run (soak or hold)'),
  coverage: z
    .array(consumerCoverageSchema)
    .describe('per consumer: baseline, new-key and old-key traffic seen'),
  telemetry: telemetrySourceSchema
    .extend({ unobservable: z.array(signalSchema) })
    .optional()
    .describe('the telemetry source and the signals it cannot see for this credential'),
  gateEvidence: z
    .object({ flip: gateEvidenceSchema.optional(), revoke: gateEvidenceSchema.optional() })
    .describe(
      'what each gate showed when it last opened (the revoke gate’s rows are the seed’s rollback checks)',
    ),
  riskAcceptances: z.array(riskAcceptanceSchema),
  revocation: revocationSchema.optional(),
  keptReplacementKey: keptReplacementKeySchema.optional(),
  live: liveStateSchema.optional(),
  negativeTest: negativeTestResultSchema.optional(),
  evidence: evidenceRecordSchema.optional(),
  failure: z.object({ phase: phaseSchema, reason: z.string() }).optional(),
  rollbackCause: z.string().optional(),
  acceptedRisk: z.string().optional(),
  exposure: exposureRefSchema
    .optional()
    .describe('the leak alert that started or escalated this rotation (the first one)'),
  escalations: z
    .array(escalationRecordSchema)
    .optional()
    .describe('switches to emergency mode while running, in order'),
  run: count
    .optional()
    .describe('the run of the workflow this status comes from (each continue-as-new starts one)'),
  timelineOmitted: z
    .record(z.string(), count)
    .optional()
    .describe('timeline entries dropped to keep the timeline bounded, counted by event'),
});
export type RotationStatus = z.infer<typeof rotationStatusSchema>;
