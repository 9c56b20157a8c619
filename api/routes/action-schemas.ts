// The bodies of /v1/rotations/:id/… actions, in zod: they validate the request and write its part of the
// OpenAPI document. Each is its message's arguments (domain/messages.ts) without the fields the API fills
// from the bearer token (principal, roles), so a body maps onto its message without renaming; the
// workflow's validator still judges everything but the shape.
import { z } from 'zod';
import {
  ACTOR_FIELDS,
  approveArgsSchema,
  extendHoldArgsSchema,
  rejectArgsSchema,
  revocationConfirmedArgsSchema,
  rollbackArgsSchema,
  type AbortArgs,
  type Actor,
  type RevokeReplacementKeyArgs,
  type RollbackArgs,
} from '../../domain/messages';

export const idParams = z.object({
  id: z.string().max(400).describe('rotation id: environment:credential:ticket'),
});
export const ackSchema = z.object({
  id: z.string(),
  accepted: z.literal(true),
  phase: z.string().describe('the phase when the workflow accepted the message'),
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
