// Builds the evidence bundle from what a rotation recorded (its final status), the ticket's policy, the
// registry entry and the vault's version history. Pure: same inputs, same bundle; no I/O. The status
// holds references, fingerprints and figures only; anything shaped like a credential that a human or an
// error message slipped into free text is redacted here, and the schema refuses what is left. Each
// section of the bundle is built by its own function in sections/.
import { CREDENTIAL_LIKE } from '../../domain/key-shape';
// Type only: the status is the shape the workflow hands to the evidence activity.
import type { RotationStatus } from '../../domain/status';
import type { SecretVersionRecord } from '../../domain/activity-io';
import {
  EVIDENCE_SCHEMA_VERSION,
  evidenceBundleSchema,
  type EvidenceBundle,
} from '../../domain/evidence/bundle-schema';
import { rollbackChecksOf } from './rollback-checks';
import { changeTicketOf } from './sections/change-ticket';
import type { EvidenceContext } from './sections/context';
import { exceptionsOf } from './sections/exceptions';
import { gatewayOf } from './sections/gateway';
import { negativeTestOf } from './sections/negative-test';
import { outcomeOf } from './sections/outcome';
import { postChangeReviewOf } from './sections/post-change-review';
import { checksOf, timelineOf } from './sections/records';
import { secretVersionsOf } from './sections/secret-versions';

export type { EvidenceContext, EvidenceInput } from './sections/context';

export interface BuildOptions {
  /** When the bundle is built (ISO 8601). */
  generatedAt: string;
  /** Why no vault history was given, when none was. */
  versionsNote?: string;
}

/** Thrown when a built bundle does not match its schema: a bug in rekey, never worth a retry. */
export class EvidenceBundleInvalid extends Error {
  override readonly name = 'EvidenceBundleInvalid';
}

const REDACTED = '[redacted]';

/** Builds and validates the evidence bundle of a finished rotation. */
export function buildEvidenceBundle(
  status: RotationStatus,
  context: EvidenceContext,
  versions: SecretVersionRecord[] | undefined,
  options: BuildOptions,
): EvidenceBundle {
  if (!status.outcome) {
    throw new EvidenceBundleInvalid(`${status.rotationId} has no outcome yet: evidence is built at the end`);
  }
  const outcome = status.outcome;
  const { input, credential } = context;
  const changeTicket = changeTicketOf(status, context, outcome);
  const postChangeReview = postChangeReviewOf(status, input);
  const bundle: EvidenceBundle = {
    schemaVersion: EVIDENCE_SCHEMA_VERSION,
    rotationId: status.rotationId,
    credential: status.credential,
    environment: status.environment,
    generatedAt: options.generatedAt,
    redactions: 0,
    changeTicket,
    secretVersions: secretVersionsOf(status, credential, versions, options.versionsNote),
    gateway: gatewayOf(status, context),
    negativeTest: negativeTestOf(status, input),
    exceptions: exceptionsOf(status, context, outcome),
    postChangeReview,
    rollbackChecks: rollbackChecksOf(
      status,
      input,
      credential,
      postChangeReview,
      changeTicket,
      options.generatedAt,
    ),
    timeline: timelineOf(status),
    timelineOmitted: status.timelineOmitted ?? {},
    workflowRuns: status.run ?? 1,
    checks: checksOf(status),
    outcome: outcomeOf(status, outcome),
  };
  return validated(status.rotationId, bundle);
}

/** The bundle redacted, counted and checked against its schema. */
function validated(rotationId: string, bundle: EvidenceBundle): EvidenceBundle {
  const { value, redactions } = redact(bundle);
  value.redactions = redactions;
  const parsed = evidenceBundleSchema.safeParse(value);
  if (!parsed.success) {
    // Paths and messages only: the offending values stay out of logs and workflow history.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new EvidenceBundleInvalid(`evidence bundle of ${rotationId} is invalid: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** A deep copy with credential-shaped text replaced, and how many strings were changed. */
function redact<T>(value: T): { value: T; redactions: number } {
  let redactions = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const out = CREDENTIAL_LIKE.reduce((s, re) => s.replace(re, REDACTED), v);
      if (out !== v) redactions += 1;
      return out;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value) as T, redactions };
}
