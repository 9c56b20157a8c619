// The bodies of /v1/rotations/:id/… actions, in zod: they validate the request and write its part of the
// OpenAPI document. Each is its message's arguments (domain/messages.ts) without the fields the API fills
// from the bearer token (principal, roles), so a body maps onto its message without renaming; the
// workflow's validator still judges everything but the shape.
import { z } from 'zod';
import {
  ACTOR_FIELDS,
  approveArgsSchema,
  escalateArgsSchema,
  extendHoldArgsSchema,
  rejectArgsSchema,
  revocationConfirmedArgsSchema,
  rollbackArgsSchema,
  type AbortArgs,
  type Actor,
  type RevokeReplacementKeyArgs,
  type RollbackArgs,
} from '../../domain/messages';
import { rotationIdParams } from './rotation-id';

/** The `:id` param, bounded by the id rule like every route's (a longer one could only be a 414). */
export const idParams = rotationIdParams;
export const ackSchema = z.object({
  id: z.string(),
  accepted: z.literal(true),
  phase: z.string().describe('the phase when the workflow accepted the message'),
});

/** A rejection, for the OpenAPI document: it names why in `field`, and carries no approval's fields. */
const rejection = (field: 'reason' | 'comment') => ({
  required: ['decision', field],
  properties: { decision: { const: 'reject' }, riskReason: false, exceptions: false },
});

// One body decides a gate either way: the approve message's fields, the decision, and the reject
// message's reason (optional here: only a rejection needs it), in the order the OpenAPI document has
// always listed them.
const { gate, comment, ...approveRest } = approveArgsSchema.omit(ACTOR_FIELDS).shape;
export const approvalBody = z
  .strictObject({
    gate,
    decision: z.enum(['approve', 'reject']).default('approve'),
    comment,
    reason: rejectArgsSchema.shape.reason.describe('required to reject').optional(),
    ...approveRest,
  })
  .refine((b) => b.decision === 'approve' || b.reason || b.comment, {
    message: 'a rejection needs a reason',
    path: ['reason'],
  })
  .refine((b) => b.decision === 'approve' || b.riskReason === undefined, {
    message: 'riskReason goes with an approval, not a rejection',
    path: ['riskReason'],
  })
  .refine((b) => b.decision === 'approve' || b.exceptions === undefined, {
    message: 'exceptions go with an approval, not a rejection',
    path: ['exceptions'],
  })
  // The refinements again, for the OpenAPI document, which cannot see a refine: without them a rejection
  // that carries riskReason would read as valid there, and its 400 as the API breaking its own contract.
  // Kept flat (no `not`): deeply nested schemas crash schemathesis's generator now and then.
  .meta({
    anyOf: [{ properties: { decision: { const: 'approve' } } }, rejection('reason'), rejection('comment')],
  });

/** Roll back, abort, and revoke the kept replacement key: each message is a reason and the actor. */
export const reasonBody = rollbackArgsSchema.omit(ACTOR_FIELDS);
type BodyOf<A extends Actor> = Omit<A, keyof Actor>;
// The three messages reasonBody serves must keep the same fields: a change to one fails here.
type SameFields<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const reasonBodyFits: [
  SameFields<BodyOf<AbortArgs>, BodyOf<RollbackArgs>>,
  SameFields<BodyOf<RevokeReplacementKeyArgs>, BodyOf<RollbackArgs>>,
] = [true, true];
void reasonBodyFits;

export const extensionBody = extendHoldArgsSchema.omit(ACTOR_FIELDS);

export const confirmationBody = revocationConfirmedArgsSchema.omit(ACTOR_FIELDS);

/**
 * An operator's escalation to emergency: only the reason. A leak alert comes with an exposure only
 * through the exposure endpoints, which verify the scanner's signature first.
 */
export const escalationBody = escalateArgsSchema.omit({ ...ACTOR_FIELDS, exposure: true });

// Not a message's arguments: the key goes to the pending secret, and the workflow gets only the
// version and fingerprint (replacementKeyStaged).
export const replacementKeyBody = z.strictObject({
  key: z
    .string()
    .min(16, 'the key is too short to be an API key')
    .max(1024)
    .regex(/^\S+$/, 'the key must not contain whitespace')
    .describe('the replacement key; written to the pending secret, never stored or echoed elsewhere'),
});

const ttlMinutes = z
  .number()
  .int()
  .min(1)
  .max(60)
  .optional()
  .describe('how long the signed input counts, in minutes (default 15)');
const signalInput = <M extends string, S extends z.ZodType>(message: M, args: S) =>
  z.strictObject({ message: z.literal(message), args, ttlMinutes });

/** A message to sign for `temporal workflow signal`: its name and its arguments minus the actor. */
export const signalInputBody = z
  .discriminatedUnion('message', [
    signalInput('approve', approveArgsSchema.omit(ACTOR_FIELDS)),
    signalInput('reject', rejectArgsSchema.omit(ACTOR_FIELDS)),
    signalInput('rollback', reasonBody),
    signalInput('abort', reasonBody),
    signalInput('extendHold', extensionBody),
    signalInput('revocationConfirmed', confirmationBody),
    signalInput('revokeReplacementKey', reasonBody),
    signalInput('escalate', escalationBody),
  ])
  .describe('the message to sign: the signal name and its arguments, as the action routes take them');

export const signalInputSchema = z.object({
  id: z.string(),
  workflowId: z.string(),
  namespace: z.string(),
  signal: z.string().describe('the signal name'),
  input: z
    .record(z.string(), z.unknown())
    .describe('the signal input: the arguments, the principal and roles, and the API’s proof'),
  expiresAt: z.string().describe('the input counts until then'),
  command: z.string().describe('the `temporal workflow signal` command line that sends it'),
});
