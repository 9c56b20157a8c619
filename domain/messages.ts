// The arguments of every message a rotation accepts, in zod: the contract a sender meets. The API's
// bodies are these minus what the API fills itself (principal and roles, from the bearer token); the
// workflow's validators check the same shapes with plain functions (message-checks.ts) so that zod stays
// out of the workflow bundle, and judge everything that is not shape (roles, phase, four-eyes).
import { z } from 'zod';
import { gateSchema, phaseSchema, refusalKindSchema, roleSchema, type MessageName } from './rotation';
import { fingerprintSchema } from './secrets';
import { PROOF_CHANNELS, type MessageProof } from './message-proof';
import { EXPOSURE_SOURCES, exposureRefSchema } from './exposures';

/**
 * Free text a person writes into a message: bounded, not blank, trimmed. "Not blank" is a pattern (the
 * whitespace spelled out: Python's and JavaScript's \s differ), so the OpenAPI document states it too.
 */
const NOT_BLANK = /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
const text = (what: string, max = 2000) =>
  z.string().max(max).regex(NOT_BLANK, 'must not be blank').trim().describe(what);

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));

/** The API's signature over a message (domain/message-proof.ts): who sent it, proven, not claimed. */
export const messageProofSchema = z
  .strictObject({
    v: z.literal(1),
    alg: z.literal('ed25519'),
    issuedAt: z.iso.datetime({ offset: true }),
    expiresAt: z.iso.datetime({ offset: true }),
    nonce: hex(16),
    authn: z.discriminatedUnion('method', [
      z.strictObject({ method: z.literal('static-token'), tokenId: z.string().min(1) }),
      z.strictObject({ method: z.literal('oidc'), issuer: z.string().min(1), subject: z.string().min(1) }),
      z.strictObject({
        method: z.literal('exposure-alert'),
        source: z.enum(EXPOSURE_SOURCES),
        alertId: z.string().min(1),
      }),
    ]),
    via: z.enum(PROOF_CHANNELS),
    signatures: z
      .array(z.strictObject({ keyId: z.string().min(1), sig: hex(64) }))
      .min(1)
      .max(8),
  })
  .describe('the rekey API’s Ed25519 signature binding principal, rotation, message and arguments');

/** The authenticated principal behind a message; the API fills it from the bearer token, never the body. */
export const actorSchema = z.strictObject({
  principal: z.string().trim().min(1).describe('the authenticated principal'),
  roles: z.array(roleSchema).describe('the principal’s roles'),
  proof: messageProofSchema.optional(),
});
export type Actor = Omit<z.infer<typeof actorSchema>, 'proof'> & { proof?: MessageProof };
/** The fields of a message the API fills itself, for `.omit`. */
export const ACTOR_FIELDS = { principal: true, roles: true, proof: true } as const;

/** A consumer that cannot move to the new key yet, accepted on record (the seed's exception list). */
export const exceptionInputSchema = z
  .strictObject({
    consumer: text('the consumer still on the old key, as telemetry or the registry names it', 200),
    owner: text('who remediates it', 200),
    expiresAt: z
      .union([z.iso.date(), z.iso.datetime({ offset: true })])
      .describe('ISO date (or date-time) by which the consumer will have moved to the new key'),
    compensatingControl: text(
      'what limits the risk meanwhile, e.g. "egress restricted to the batch subnet"',
      500,
    ),
  })
  .describe('an accepted exception: owner, expiry and compensating control');
export type ExceptionInput = z.infer<typeof exceptionInputSchema>;

/** Consumers accepted as exceptions; a consumer listed twice is recorded once, as its last entry says. */
export const exceptionListSchema = z
  .array(exceptionInputSchema)
  .min(1)
  .max(100)
  .describe(
    'consumers still on the old key that are accepted as exceptions, each with owner and expiry; a consumer listed twice counts once, as its last entry says',
  );

const gate = gateSchema.describe('which gate this decision is for');
const reason = text('why, for the record and the evidence');

export const approveArgsSchema = actorSchema.extend({
  gate,
  comment: text('why, for the record').optional(),
  breakGlassReason: text('emergency mode: lets the requester approve their own rotation').optional(),
  riskReason: text(
    "accepts, on record, the risk of a gate whose evidence is 'insufficient' (its blockers); required to approve such a gate",
  ).optional(),
  exceptions: exceptionListSchema.optional(),
});
export type ApproveArgs = z.infer<typeof approveArgsSchema>;

export const rejectArgsSchema = actorSchema.extend({
  gate,
  reason: text('why the gate is rejected, for the record and the evidence'),
});
export type RejectArgs = z.infer<typeof rejectArgsSchema>;

export const rollbackArgsSchema = actorSchema.extend({ reason });
export type RollbackArgs = z.infer<typeof rollbackArgsSchema>;

export const abortArgsSchema = actorSchema.extend({ reason });
export type AbortArgs = z.infer<typeof abortArgsSchema>;

export const extendHoldArgsSchema = actorSchema.extend({
  minutes: z.number().int().min(1).max(1440).describe('how much longer to hold and watch'),
  reason: text('why the hold is extended'),
  exceptions: exceptionListSchema.optional(),
});
export type ExtendHoldArgs = z.infer<typeof extendHoldArgsSchema>;

/** After a rollback that kept the replacement key enabled: revoke it once its traffic has drained. */
export const revokeReplacementKeyArgsSchema = actorSchema.extend({ reason });
export type RevokeReplacementKeyArgs = z.infer<typeof revokeReplacementKeyArgsSchema>;

/** A manual gateway's replacement key, handed over: the pending version holding it, never the key. */
export const replacementKeyStagedArgsSchema = actorSchema.extend({
  version: z.string().min(1).describe('the pending secret version that holds the replacement key'),
  fingerprint: fingerprintSchema,
});
export type ReplacementKeyStagedArgs = z.infer<typeof replacementKeyStagedArgsSchema>;

/** A manual gateway: a human confirms the old key was revoked at the gateway. */
export const revocationConfirmedArgsSchema = actorSchema.extend({
  comment: text('what was done at the gateway').optional(),
});
export type RevocationConfirmedArgs = z.infer<typeof revocationConfirmedArgsSchema>;

/**
 * Switches a running rotation to emergency mode (the key may be exposed), with the reason on record:
 * no flip approval, the canary soak ends, no drain wait; the revoke gate follows the emergency rule.
 */
export const escalateArgsSchema = actorSchema.extend({
  reason: text('why the rotation is now an emergency, for the record and the evidence'),
  exposure: exposureRefSchema
    .optional()
    .describe('the leak alert behind the escalation (set by the API for a verified scanner alert)'),
});
export type EscalateArgs = z.infer<typeof escalateArgsSchema>;

/** Every message's arguments, by message name. */
export const messageArgsSchemas = {
  approve: approveArgsSchema,
  reject: rejectArgsSchema,
  rollback: rollbackArgsSchema,
  abort: abortArgsSchema,
  extendHold: extendHoldArgsSchema,
  replacementKeyStaged: replacementKeyStagedArgsSchema,
  revocationConfirmed: revocationConfirmedArgsSchema,
  revokeReplacementKey: revokeReplacementKeyArgsSchema,
  escalate: escalateArgsSchema,
} as const satisfies Record<MessageName, z.ZodType>;

/** What an accepted update reports back. */
export const messageAckSchema = z.object({
  accepted: z.literal(true),
  phase: phaseSchema.describe('the phase when the workflow accepted the message'),
});
export type MessageAck = z.infer<typeof messageAckSchema>;

/** Why a message was refused: the API answers NotAllowed with 403, NotOpen with 409, Invalid with 400. */
export const refusalSchema = z.object({
  kind: refusalKindSchema,
  message: z.string(),
});
export type Refusal = z.infer<typeof refusalSchema>;
