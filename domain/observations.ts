// What the activities observe and report, as the rotation status carries it: traffic windows, telemetry
// capabilities, canary requests, pre-checks, usage attribution, the negative test, the evidence record.
// Figures and references only, never key material: these values are written to workflow history.
import { z } from 'zod';
import {
  attributionVerdictSchema,
  canaryFailureSchema,
  preCheckResultKindSchema,
  routeSchema,
  signalSchema,
} from './rotation';

/** Traffic figures of one key over a window. Rates are derived by the rules, not stored. */
export const windowMetricsSchema = z.object({
  fromMs: z.number(),
  toMs: z.number(),
  requests: z.number(),
  authErrors: z.number().describe('401/403'),
  rateLimited: z.number().describe('429'),
  serverErrors: z.number().describe('5xx'),
  p95LatencyMs: z.number(),
  tokens: z.number(),
  spend: z.number(),
  latencyResolutionMs: z
    .number()
    .optional()
    .describe(
      'width of the latency histogram bucket holding the p95: a rise smaller than this is not a regression; absent when the source measures latency directly',
    ),
  complete: z
    .boolean()
    .optional()
    .describe(
      'false when the source has not caught up with the window’s end yet (an inconclusive window); absent means caught up',
    ),
  unattributed: z
    .object({
      authErrors: z
        .number()
        .optional()
        .describe('gateway-wide 401s without a key hash (LiteLLM labels them "None")'),
      serverErrors: z.number().optional().describe('gateway-wide failed spend-log rows without an api_key'),
    })
    .optional()
    .describe(
      'errors the source could not tie to any key: an upper bound on what the key’s own figure misses; absent when the source attributes every error',
    ),
});
export type WindowMetrics = z.infer<typeof windowMetricsSchema>;

/** Requests of one consumer (as telemetry names it) over a window. */
export const consumerUsageSchema = z.object({
  consumer: z.string(),
  requests: z.number(),
});
export type ConsumerUsage = z.infer<typeof consumerUsageSchema>;

/** Which per-key signals a telemetry source can see. */
export const signalCapabilitiesSchema = z.record(signalSchema, z.boolean());
export type SignalCapabilities = z.infer<typeof signalCapabilitiesSchema>;

/** The telemetry source a credential's checks read, and what it can see per key. */
export const telemetrySourceSchema = z.object({
  name: z.string(),
  capabilities: signalCapabilitiesSchema,
  seesProbes: z
    .boolean()
    .optional()
    .describe(
      "false when rekey's own probes are not in the source's counts (app-reported); absent means they are",
    ),
});
export type TelemetrySource = z.infer<typeof telemetrySourceSchema>;

/** One canary request with the new key: which route, what the gateway answered. */
export const canaryRequestSchema = z.object({
  route: routeSchema,
  requestId: z.string().optional(),
  model: z.string().optional(),
  status: z.number().describe('HTTP status'),
  latencyMs: z.number(),
  tokens: z.number().optional(),
  ok: z.boolean(),
  reason: canaryFailureSchema.optional().describe('why the request failed'),
  attempted: z
    .boolean()
    .optional()
    .describe('false when the canary stopped at an earlier failing route and never sent this one'),
  replica: z.string().optional().describe('the replica base URL, where the gateway lists replicas'),
});
export type CanaryRequest = z.infer<typeof canaryRequestSchema>;

/** A pre-check the ticket claimed, and what rekey found. */
export const preCheckResultSchema = z.object({
  name: z.string(),
  // A key that is always present, possibly undefined: the ticket may leave a pre-check out.
  claimed: z.union([z.boolean(), z.string(), z.undefined()]).describe('what the ticket claimed'),
  result: preCheckResultKindSchema,
  /** Same as `result === 'verified'`. */
  verified: z.boolean(),
  detail: z.string(),
});
export type PreCheckResult = z.infer<typeof preCheckResultSchema>;

/** Who the gateway attributes the new key's usage to, against who the ticket says owns it. */
export const attributionReportSchema = z.object({
  verdict: attributionVerdictSchema.describe('inconclusive: no usage recorded yet for the key'),
  passed: z.boolean(),
  owner: z.string().optional(),
  team: z.string().optional(),
  expectedOwner: z.string(),
  anomalies: z.array(z.string()),
});
export type AttributionReport = z.infer<typeof attributionReportSchema>;

/** The negative test on one replica of a gateway that lists replicas. */
export const replicaNegativeTestSchema = z.object({
  replica: z.string().describe('the replica base URL'),
  oldKeyStatus: z.number(),
  oldKeyRejected: z.boolean(),
  newKeyStatus: z.number(),
  newKeyAccepted: z.boolean(),
  attempts: z.number(),
});
export type ReplicaNegativeTest = z.infer<typeof replicaNegativeTestSchema>;

/** The old key refused, the new one accepted, after revocation; on every replica where there are several. */
export const negativeTestResultSchema = z.object({
  oldKeyStatus: z.number(),
  oldKeyRejected: z.boolean(),
  newKeyStatus: z.number(),
  newKeyAccepted: z.boolean(),
  attempts: z.number().describe('old-key probes while revocation propagated'),
  at: z.iso.datetime({ offset: true }),
  replicas: z
    .array(replicaNegativeTestSchema)
    .optional()
    .describe('per replica; absent for a single base URL'),
});

/**
 * Just before revoke, the old key must still answer 2xx everywhere: a gateway that cut it early (LiteLLM
 * #27193) already cost apps still on it their service. A finding, not a blocker: the key is dead anyway.
 */
export const oldKeyGraceSchema = z.object({
  passed: z.boolean().describe('the old key answered 2xx on every replica'),
  at: z.iso.datetime({ offset: true }),
  replicas: z.array(z.object({ replica: z.string(), status: z.number(), ok: z.boolean() })),
});
export type OldKeyGrace = z.infer<typeof oldKeyGraceSchema>;
export type NegativeTestResult = z.infer<typeof negativeTestResultSchema>;

/** Where the evidence bundle was stored, and its link in the hash chain. */
export const evidenceRecordSchema = z.object({
  location: z.string(),
  sha256: z.string(),
  previousSha256: z.string().nullable(),
});
export type EvidenceRecord = z.infer<typeof evidenceRecordSchema>;
