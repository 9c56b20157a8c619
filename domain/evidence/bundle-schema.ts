// The evidence bundle a finished rotation archives: one section per row of the seed's "Audit Evidence
// Security Reviewers Expect" table, the seed's "Rollback Checks Before You Revoke The Old Key", the
// timeline and the outcome. Versioned: a reader that meets a schemaVersion it does not know says so
// instead of guessing. References, fingerprints and figures only: the schema refuses any text shaped
// like an API key, wherever it sits.
import { KEY_LIKE } from '../key-shape';
import { z } from 'zod';
import { SCOPE_FIELDS } from '../key-scope';
import { adminAdapterKindSchema } from '../credentials';
import {
  EXPOSURE_SOURCES,
  GATE_DECISIONS,
  GATE_ROW_KEYS,
  GATES,
  analysisStageSchema,
  attributionVerdictSchema,
  gateEvidenceLevelSchema,
  gateSchema,
  keyStateSchema,
  modeSchema,
  outcomeSchema as rotationOutcomeSchema,
  preCheckResultKindSchema,
  revocationMethodSchema,
  routeSchema,
  signalSchema,
  terminalPhaseSchema,
  verdictSchema,
  versionRoleSchema,
} from '../rotation';
import { SECRET_BACKENDS, SECRET_STAGES } from '../secrets';

/**
 * The version of the bundle shape this code writes and reads. 2: rollback checks as the revoke gate
 * showed them, risk acceptances, pre-check results, exception owner/expiry/control, telemetry
 * source, analysis verdicts, revocation method, kept replacement key and what is live after a failure.
 */
export const EVIDENCE_SCHEMA_VERSION = 2;
/** Every bundle version this code can read. */
export const KNOWN_EVIDENCE_SCHEMA_VERSIONS: readonly number[] = [EVIDENCE_SCHEMA_VERSION];

const timestamp = z.iso.datetime({ offset: true });
// Not domain/secrets.ts fingerprintSchema: a reader accepts any longer sha256 prefix too (a bundle is
// read for years), and the schema must stay representable as JSON Schema (no transform).
const fingerprint = z
  .string()
  .regex(/^sha256:[0-9a-f]{12,64}$/, 'sha256: followed by hex')
  .describe('`sha256:` + the first 12 hex characters of the key’s SHA-256; never the key');
const count = z.number().int().min(0);

/** A strict object with the same schema under each key, keys in the order of the list. */
function sameUnder<K extends string, S extends z.ZodType>(keys: readonly K[], schema: S) {
  return z.strictObject(Object.fromEntries(keys.map((k) => [k, schema])) as Record<K, S>);
}

const approvalSchema = z.strictObject({
  gate: z
    .enum([...GATES, 'revocation-confirmation'])
    .describe('the gate decided; revocation-confirmation is a manual gateway’s “the old key is revoked”'),
  decision: z.enum([...GATE_DECISIONS, 'CONFIRMED']),
  principal: z.string().min(1).describe('authenticated principal who decided'),
  at: timestamp.describe('when the decision was recorded'),
  comment: z.string().nullable().describe('the approver’s comment or rejection reason'),
  breakGlassReason: z
    .string()
    .nullable()
    .describe('emergency mode: why the requester approved their own rotation'),
  proof: z
    .strictObject({
      method: z
        .enum(['signature', 'unsigned-allowed', 'verified-alert'])
        .describe(
          'signed by the rekey API, unsigned and allowed by the deployment, or approved by a verified leak alert (emergency_revoke: alert)',
        ),
      summary: z.string().describe('one line: the key, the channel and how the principal logged in'),
      keyId: z.string().nullable().describe('the rekey API signing key'),
      via: z.enum(['api', 'signal']).nullable().describe('sent by the API, or printed for a Temporal signal'),
      authn: z
        .enum(['static-token', 'oidc', 'exposure-alert'])
        .nullable()
        .describe('how the API authenticated the principal (exposure-alert: a scanner alert it verified)'),
      issuer: z.string().nullable().describe('OIDC issuer'),
      subject: z.string().nullable().describe('OIDC subject'),
      tokenId: z.string().nullable().describe('static token entry (a hash prefix, never the token)'),
    })
    .nullable()
    .optional()
    .describe('how the decision was proven; null in rotations started before rekey signed messages'),
});

/** A leak alert as the evidence links it: where it came from and the token's fingerprint, never the token. */
const exposureLinkSchema = z.strictObject({
  source: z.enum(EXPOSURE_SOURCES).describe('the secret scanner'),
  alertId: z.string().min(1).describe("the scanner's alert id"),
  url: z.string().nullable().describe('where the alert can be read'),
  fingerprint: fingerprint.describe('the leaked token’s fingerprint'),
  receivedAt: timestamp,
});

/** The staging twin's rotation a production rotation relied on or ran first (domain/staging-twin.ts). */
const stagingTwinLinkSchema = z.strictObject({
  credential: z.string().min(1),
  environment: z.string().min(1),
  mode: z.enum(['require', 'run']),
  withinDays: z.number(),
  state: z.enum(['checking', 'running', 'passed', 'skipped', 'failed']),
  rotationId: z.string().nullable().describe('the twin’s rotation; null when none was found or run'),
  completedAt: timestamp.nullable(),
  policyFingerprint: z
    .string()
    .nullable()
    .describe(
      'sha256 of the policy fields both rotations share (thresholds, holds, routes, approvals, evidence)',
    ),
  detail: z.string().nullable(),
});

const escalationSchema = z.strictObject({
  at: timestamp,
  principal: z.string().min(1).describe('who escalated: a person, or exposure:<source>:<alertId>'),
  reason: z.string(),
  phase: z.string().describe('the phase the rotation was in'),
  effect: z.string().describe('what the escalation changed'),
  exposure: exposureLinkSchema.nullable(),
});

const riskAcceptanceSchema = z.strictObject({
  gate: gateSchema.describe('the gate approved without positive evidence'),
  principal: z.string().min(1).describe('authenticated principal who accepted the risk'),
  at: timestamp.describe('when the risk was accepted'),
  reason: z.string().describe('why the approver accepted it, as they wrote it'),
  missing: z.array(z.string()).describe('the blockers the gate showed: the evidence that was missing'),
});

const changeTicketSchema = z
  .strictObject({
    id: z.string().min(1).describe('change ticket id; the idempotency key of the rotation'),
    url: z.string().nullable().describe('link to the ticket; null when the ticket gave none'),
    reason: z.string().nullable().describe('why the key was rotated, as the ticket said'),
    requester: z.string().min(1).describe('principal that started the rotation'),
    owner: z.string().nullable().describe('owning team named by the ticket'),
    rollbackOwner: z.string().nullable().describe('who owns a rollback; null when the ticket named nobody'),
    mode: modeSchema,
    acceptedRisk: z
      .string()
      .nullable()
      .describe('emergency mode: the reliability risk that was accepted; null for scheduled rotations'),
    window: z
      .strictObject({
        startedAt: timestamp.nullable(),
        endedAt: timestamp.nullable(),
      })
      .describe('the rotation window: first and last timeline entries'),
    scope: z
      .strictObject({
        apps: z.array(z.string()).describe('the app list the ticket named'),
        allowedRoutes: z.array(routeSchema).describe('routes the canary had to prove'),
        gatewayBaseUrl: z.string().nullable(),
        deployMethod: z.string().nullable(),
      })
      .describe('what the ticket asked to rotate'),
    approvals: z.array(approvalSchema).describe('every gate decision, in order'),
    riskAcceptances: z
      .array(riskAcceptanceSchema)
      .describe('gates a human approved without positive evidence, accepting the risk on record'),
    exposure: exposureLinkSchema
      .nullable()
      .optional()
      .describe('the leak alert that started or escalated the rotation; null when none'),
    stagingTwin: stagingTwinLinkSchema
      .nullable()
      .optional()
      .describe(
        'staging before production: the twin rotation with the same policy; null when none is registered',
      ),
    escalations: z
      .array(escalationSchema)
      .optional()
      .describe('switches to emergency mode while the rotation ran: who, when, why, the alert'),
    preChecks: z
      .array(
        z.strictObject({
          name: z.string(),
          claimed: z.union([z.boolean(), z.string()]).nullable().describe('what the ticket claimed'),
          result: preCheckResultKindSchema.describe(
            'verified: rekey found it true; failed: rekey found otherwise; unverified: rekey cannot look, so only the ticket vouches for it',
          ),
          detail: z.string(),
        }),
      )
      .describe('every one of the ticket’s pre_checks, checked by rekey instead of trusted'),
    finalStatus: rotationOutcomeSchema.describe('how the change ended'),
  })
  .describe('Change ticket: approval, owner, timing and scope');

const secretVersionSchema = z.strictObject({
  name: z.string().min(1).describe('secret name (stable path or pending secret)'),
  version: z.string().min(1).describe('vault version id'),
  roles: z.array(versionRoleSchema).describe('what this version was to this rotation'),
  stage: z
    .enum(SECRET_STAGES)
    .nullable()
    .describe('the `rekey-stage` tag; null on versions rekey never tagged'),
  fingerprint: fingerprint.nullable(),
  enabled: z.boolean(),
  writtenByThisRotation: z.boolean(),
  gatewayKeyId: z.string().nullable().describe('the gateway’s id of the key the version holds'),
  createdAt: timestamp.nullable(),
  activatedAt: timestamp
    .nullable()
    .describe('when it became the newest version of the stable path; null for pending versions'),
  supersededAt: timestamp
    .nullable()
    .describe('when a newer version of the stable path replaced it; null while it is the newest'),
  retiredAt: timestamp.nullable().describe('when it was disabled; null while enabled'),
});

const secretVersionsSchema = z
  .strictObject({
    vaultUrl: z.string().nullable(),
    // Optional: bundles written before rekey 0.3 (all Azure Key Vault) have neither.
    backend: z
      .enum(SECRET_BACKENDS)
      .nullable()
      .optional()
      .describe('the secret backend; null when the rotation did not record its credential'),
    store: z
      .string()
      .nullable()
      .optional()
      .describe('the store, as a reviewer reads it: vault URL, Vault address and mount, or AWS region'),
    stablePath: z.string().nullable().describe('the secret apps read (its newest enabled version)'),
    pendingPath: z.string().nullable().describe('the secret canaries read before the flip'),
    source: z
      .enum(['secret-store-history', 'rotation-status'])
      .describe('the vault’s version history, or only the versions the rotation recorded'),
    sourceNote: z.string().nullable().describe('why the vault history was not used, when it was not'),
    versions: z.array(secretVersionSchema).describe('this rotation’s versions and the old one; no values'),
  })
  .describe('Secret version history: the new key was promoted through a controlled path');

const canaryRequestSchema = z.strictObject({
  requestId: z.string().nullable().describe('the gateway’s request id'),
  route: routeSchema.describe('endpoint family the request exercised'),
  routeGroup: z
    .string()
    .nullable()
    .describe('the gateway’s route group; null: the OpenAI-compatible API does not report it'),
  owner: z
    .string()
    .nullable()
    .describe('owner of this request; null: the API does not report it (see attribution, per key)'),
  model: z.string().nullable(),
  status: z.number().int().describe('HTTP status'),
  latencyMs: z.number().min(0),
  tokens: count.nullable(),
  cost: z.number().min(0).nullable().describe('cost of the request; null: the API does not report it'),
  ok: z.boolean(),
  replica: z.string().optional().describe('the replica base URL, where the gateway lists replicas'),
  reason: z.string().nullable().describe('why the request failed'),
});

const keyRefSchema = z.strictObject({
  gatewayKeyId: z.string().nullable(),
  fingerprint: fingerprint.nullable(),
});

const gatewaySchema = z
  .strictObject({
    baseUrl: z.string().nullable(),
    adminAdapter: adminAdapterKindSchema.nullable(),
    oldKey: keyRefSchema,
    newKey: keyRefSchema,
    canary: z.strictObject({
      ran: z.boolean(),
      passed: z.boolean().nullable(),
      requests: z.array(canaryRequestSchema),
    }),
    attribution: z
      .strictObject({
        checked: z.boolean(),
        verdict: attributionVerdictSchema
          .nullable()
          .describe('inconclusive: the gateway had recorded no usage of the new key yet'),
        passed: z.boolean().nullable(),
        owner: z.string().nullable().describe('owner the gateway attributes the new key’s usage to'),
        team: z.string().nullable(),
        expectedOwner: z.string().nullable(),
        anomalies: z.array(z.string()),
      })
      .describe('usage attribution of the new key'),
    keyScope: z
      .strictObject({
        verdict: z.enum(['same', 'narrower', 'changed-as-allowed', 'fail']),
        rows: z.array(
          z.strictObject({
            field: z.enum(SCOPE_FIELDS),
            old: z.string(),
            issued: z.string(),
            result: z.string().describe('same, or each difference: broader/changed/allowed/narrower'),
          }),
        ),
      })
      .optional()
      .describe('the "Key scope" table: old key, replacement as read back, and the comparison'),
    production: z
      .strictObject({
        newKeyRequests: count.nullable().describe('new-key requests seen during the hold'),
        oldKeyRequests: count.nullable().describe('old-key requests seen during the hold'),
        oldKeyZeroSince: timestamp.nullable().describe('since when the old key has had no traffic'),
      })
      .describe('production traffic after the flip'),
    limitations: z.array(z.string()).describe('what the gateway cannot tell rekey, so the fields are null'),
  })
  .describe('Gateway logs: traffic moved to the new key without breaking routing');

const negativeTestSchema = z
  .strictObject({
    required: z.boolean().nullable().describe('the ticket’s evidence.old_key_negative_test'),
    ran: z.boolean(),
    at: timestamp.nullable(),
    oldKeyStatus: z.number().int().nullable(),
    oldKeyRejected: z.boolean().nullable(),
    newKeyStatus: z.number().int().nullable(),
    newKeyAccepted: z.boolean().nullable(),
    attempts: count.nullable().describe('old-key probes while revocation propagated'),
    replicas: z
      .array(
        z.strictObject({
          replica: z.string(),
          oldKeyStatus: z.number().int(),
          oldKeyRejected: z.boolean(),
          newKeyStatus: z.number().int(),
          newKeyAccepted: z.boolean(),
          attempts: count,
        }),
      )
      .optional()
      .describe('the test on each replica the registry lists; absent for a single base URL'),
    revocation: z
      .strictObject({
        method: revocationMethodSchema
          .nullable()
          .describe(
            'disable-then-delete: disabled (reversible) first, deleted after the probe; delete-only: the gateway cannot disable, so no way back once revoked; manual: a human revoked it; null: not recorded',
          ),
        note: z.string().describe('what the method means for a way back, in words'),
        at: timestamp.nullable().describe('when the old key was revoked; null: it was not (yet)'),
        by: z.string().nullable(),
        detail: z.string().nullable(),
        disabledAt: timestamp.nullable().describe('when the old key was disabled (reversibly)'),
        reEnabledAt: timestamp.nullable().describe('when the disabled old key was enabled again'),
        deletedAt: timestamp.nullable().describe('when the old key was deleted (irreversibly)'),
        preRevokeProbe: z
          .array(canaryRequestSchema)
          .describe('requests with the new key just before the old key was revoked'),
        oldKeyGrace: z
          .strictObject({
            passed: z.boolean(),
            at: timestamp,
            replicas: z.array(
              z.strictObject({ replica: z.string(), status: z.number().int(), ok: z.boolean() }),
            ),
            note: z.string(),
          })
          .optional()
          .describe(
            'the old key just before revoke, on every replica: not 2xx somewhere means the gateway cut it early and its consumers lost service before rekey revoked it',
          ),
      })
      .nullable()
      .describe('how and when the old key was revoked; null when revocation never started'),
    oldVersionRetired: z
      .strictObject({ name: z.string(), version: z.string(), at: timestamp.nullable() })
      .nullable()
      .describe('the old secret version disabled after the test'),
  })
  .describe('Negative test: the old credential no longer works (values redacted: never recorded)');

const holdExtensionSchema = z.strictObject({
  at: timestamp,
  by: z.string().nullable(),
  minutes: z.number().min(0).nullable(),
  reason: z.string().nullable(),
});

const exceptionsSchema = z
  .strictObject({
    maxHoldReachedAt: timestamp.nullable().describe('when the hold ran out with consumers on the old key'),
    holdExtensions: z.array(holdExtensionSchema).describe('temporary extensions granted'),
    consumers: z.array(
      z.strictObject({
        consumer: z.string().min(1).describe('the consumer as telemetry names it (the app)'),
        registered: z.boolean().describe('the registry lists it as a consumer of the credential'),
        environment: z.string().nullable(),
        owner: z.string().nullable().describe('who remediates it'),
        ownerSource: z
          .enum(['exception', 'registry', 'credential-owner'])
          .nullable()
          .describe(
            'exception: named when the exception was recorded; registry: the consumer’s owner; credential-owner: the ticket’s owning team',
          ),
        reload: z.string().nullable().describe('how the app picks up a new secret version'),
        oldKeyRequests: count,
        extendedUntil: timestamp
          .nullable()
          .describe('end of the hold after the hold extensions; null when none was granted'),
        // A date a human typed: kept as recorded rather than refusing the whole bundle over its format.
        expiresAt: z
          .string()
          .min(1)
          .nullable()
          .describe(
            'the exception’s expiry: the date (or date-time) by which the owner moves it off the old key; null when none was recorded',
          ),
        compensatingControl: z
          .string()
          .nullable()
          .describe('what limits the risk until then; null when none was recorded'),
        recordedBy: z.string().nullable().describe('principal who recorded the exception'),
        recordedAt: timestamp.nullable(),
        oldKeyServedUntil: timestamp
          .nullable()
          .describe(
            'when the old key stops serving it: the revocation when the rotation completed, else the extended hold’s end; null when unknown',
          ),
        disposition: z
          .enum(['revoked-after-approval', 'old-key-restored', 'open'])
          .describe('what happened to the exception'),
        acceptedBy: z
          .strictObject({ principal: z.string(), at: timestamp, comment: z.string().nullable() })
          .nullable()
          .describe('the revoke approval that accepted the exception'),
      }),
    ),
  })
  .describe('Exception list: services that could not rotate in time, and until when');

const metricsWindowSchema = z.strictObject({
  from: timestamp,
  to: timestamp,
  minutes: z.number().min(0),
  requests: count,
  authErrors: count.describe('401/403'),
  rateLimited: count.describe('429'),
  serverErrors: count.describe('5xx'),
  tokens: z.number().min(0).nullable(),
  spend: z.number().min(0).nullable(),
  p95LatencyMs: z
    .number()
    .min(0)
    .nullable()
    .describe('p95 latency (after: the highest p95 of the hold windows)'),
  authErrorRate: z.number().min(0),
  rateLimitedRate: z.number().min(0),
  serverErrorRate: z.number().min(0),
  requestsPerHour: z.number().min(0),
  tokensPerRequest: z.number().min(0).nullable(),
  spendPerRequest: z.number().min(0).nullable(),
});

const postChangeReviewSchema = z
  .strictObject({
    before: metricsWindowSchema.nullable().describe('the old key over the baseline window before the change'),
    after: metricsWindowSchema.nullable().describe('the new key over the hold'),
    figuresComplete: z
      .boolean()
      .describe(
        'false when tokens, spend and latency cover only the latest hold windows (a long hold keeps the latest)',
      ),
    holdChecks: count,
    breaches: z.array(
      z.strictObject({
        at: timestamp,
        check: z.string(),
        observed: z.number(),
        limit: z.number(),
        detail: z.string(),
      }),
    ),
    thresholds: z.record(z.string(), z.number()).nullable().describe('limits the hold compared against'),
    telemetry: z
      .strictObject({
        source: z.string().min(1).describe('the telemetry source the canary soak and hold checks read'),
        observable: z.array(signalSchema).describe('per-key signals the source can see'),
        unobservable: z
          .array(signalSchema)
          .describe('signals it cannot see for this credential: no check can pass on them'),
      })
      .nullable()
      .describe('null: the rotation ended before it chose a source'),
    analysis: z
      .strictObject({
        stage: analysisStageSchema.describe('the canary soak, or the hold since it was last entered'),
        measurements: count,
        pass: count,
        fail: count,
        inconclusive: count,
        error: count,
        limits: z.strictObject({ failure: count, inconclusive: count, consecutiveError: count }),
      })
      .nullable()
      .describe('verdicts of the last analysis run; only pass counts as evidence; null: none ran'),
    supportTickets: count
      .nullable()
      .describe('support tickets before and after; null: rekey does not see them, attach them to the ticket'),
  })
  .describe('Post-change review: no hidden impact on reliability or cost');

const rollbackCheckSchema = z.strictObject({
  result: z
    .enum(['green', 'not-green', 'unknown', 'not-checked'])
    .describe(
      'green: positive evidence; not-green: do not revoke; unknown: rekey looked but had no evidence either way; not-checked: rekey had nothing to judge it by (the rotation ended first, or the gate showed no row for it)',
    ),
  blocking: z
    .boolean()
    .nullable()
    .describe('whether the row held the revoke gate shut unless green; null when the gate was not reached'),
  evidence: z.array(z.string()).describe('what rekey recorded for this signal'),
  green: z.string().describe('the seed’s green condition'),
  doNotRevokeIf: z.string().describe('the seed’s condition for not revoking'),
});

const rollbackChecksSchema = z
  .strictObject({
    source: z
      .enum(['revoke-gate', 'not-reached'])
      .describe(
        'revoke-gate: the rows the workflow computed when the revoke gate opened, as the approver saw them; not-reached: the rotation ended before the revoke gate, so rekey judged them from what it had recorded by the end',
      ),
    computedAt: timestamp.describe('when the revoke gate opened; not-reached: when the bundle was built'),
    gateEvidence: gateEvidenceLevelSchema
      .nullable()
      .describe('what the revoke gate showed: positive evidence, or too little; null when not reached'),
    blockers: z.array(z.string()).describe('what held the revoke gate shut; empty when not reached'),
    signals: sameUnder(GATE_ROW_KEYS, rollbackCheckSchema),
  })
  .describe('Rollback checks before revoking the old key');

const timelineEntrySchema = z.strictObject({
  at: timestamp,
  phase: z.string(),
  event: z.string(),
  detail: z.string().nullable(),
  by: z.string().nullable(),
  proof: z.string().nullable().optional().describe('how the message behind it was proven'),
});

const outcomeSchema = z.strictObject({
  outcome: rotationOutcomeSchema,
  finalPhase: terminalPhaseSchema,
  rollbackCause: z.string().nullable(),
  failure: z.strictObject({ phase: z.string(), reason: z.string() }).nullable(),
  oldKeyRevoked: z.boolean().describe('the old key was revoked at the gateway'),
  newKeyServing: z.boolean().describe('the new key is the newest enabled version of the stable path'),
  keptReplacementKey: z
    .strictObject({
      gatewayKeyId: z.string().nullable(),
      fingerprint: fingerprint.nullable(),
      since: timestamp.describe('since when it is left enabled'),
      revoked: z.boolean(),
      revokedAt: timestamp.nullable(),
      revokedBy: z.string().nullable().describe('principal who had it revoked'),
    })
    .nullable()
    .describe(
      'after a rollback past the flip: the replacement key left enabled for consumers that had reloaded',
    ),
  live: z
    .strictObject({
      oldKey: keyStateSchema,
      newKey: keyStateSchema,
      currentVersion: z.string().nullable().describe('the version of the stable path apps read'),
      detail: z.string(),
    })
    .nullable()
    .describe('what is live at the end of a failed rotation; null for the other outcomes'),
});

const bundleShape = z.strictObject({
  schemaVersion: z.literal(EVIDENCE_SCHEMA_VERSION).describe('version of this bundle shape'),
  rotationId: z.string().min(1),
  credential: z.string().min(1),
  environment: z.string().min(1),
  generatedAt: timestamp.describe('when the bundle was built'),
  redactions: count.describe('strings in which rekey replaced something shaped like a credential'),
  changeTicket: changeTicketSchema,
  secretVersions: secretVersionsSchema,
  gateway: gatewaySchema,
  negativeTest: negativeTestSchema,
  exceptions: exceptionsSchema,
  postChangeReview: postChangeReviewSchema,
  rollbackChecks: rollbackChecksSchema,
  timeline: z.array(timelineEntrySchema),
  timelineOmitted: z
    .record(z.string(), count)
    .optional()
    .describe('timeline entries dropped to keep it bounded (reminders, refused messages first), by event'),
  workflowRuns: count
    .optional()
    .describe('the workflow runs the rotation took (continue-as-new keeps each history bounded)'),
  checks: z
    .array(
      z.strictObject({
        at: timestamp,
        name: z.string(),
        passed: z.boolean(),
        verdict: verdictSchema.nullable().describe('only pass is evidence; null on checks without one'),
        reasons: z.array(z.string()).describe('why the verdict is not pass'),
        detail: z.string(),
      }),
    )
    .describe('every check the rotation recorded (hold checks: the latest of each kind)'),
  outcome: outcomeSchema,
});

/** Paths of every string in a value that looks like an API key. */
export function keyLikePaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return KEY_LIKE.test(value) ? [at] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => keyLikePaths(v, [...at, i]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(KEY_LIKE.test(k) ? [[...at, k]] : []),
      ...keyLikePaths(v, [...at, k]),
    ]);
  }
  return [];
}

/** The evidence bundle, version 2; refuses any text that looks like an API key. */
export const evidenceBundleSchema = bundleShape
  .superRefine((bundle, ctx) => {
    for (const path of keyLikePaths(bundle)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: 'looks like an API key: evidence holds references and fingerprints, never key values',
      });
    }
  })
  .describe('rekey evidence bundle: every row of the seed’s audit evidence table');

export type EvidenceBundle = z.infer<typeof evidenceBundleSchema>;
export type RollbackChecks = EvidenceBundle['rollbackChecks'];
export type RollbackSignal = keyof RollbackChecks['signals'];
export type RollbackCheck = RollbackChecks['signals'][RollbackSignal];
export type MetricsWindow = z.infer<typeof metricsWindowSchema>;

/** A stored bundle checked against the schema of its version, with a message a reader can act on. */
export type BundleCheck =
  { ok: true; bundle: EvidenceBundle } | { ok: false; schemaVersion: unknown; message: string };

/** Validates a stored bundle: an unknown schemaVersion is named as such, other faults by field. */
export function checkEvidenceBundle(doc: unknown): BundleCheck {
  const version = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).schemaVersion : undefined;
  if (typeof version !== 'number' || !KNOWN_EVIDENCE_SCHEMA_VERSIONS.includes(version)) {
    return {
      ok: false,
      schemaVersion: version ?? null,
      message: `bundle schema version ${version === undefined ? '(none)' : JSON.stringify(version)} unknown: this rekey reads version ${KNOWN_EVIDENCE_SCHEMA_VERSIONS.join(', ')}`,
    };
  }
  const parsed = evidenceBundleSchema.safeParse(doc);
  if (parsed.success) return { ok: true, bundle: parsed.data };
  const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const more = parsed.error.issues.length - issues.length;
  return {
    ok: false,
    schemaVersion: version,
    message: `bundle does not match schema version ${version}: ${issues.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
  };
}
