// The bodies of /v1/rotations/:id/… actions, in zod: they validate the request and write its part of the
// OpenAPI document. Field names follow the workflow's message arguments (camelCase), so a body maps onto
// its message without renaming; the workflow's validator still judges everything but the shape.
import { z } from 'zod';
import type { ExceptionInput } from '../../workflows/messages';

const text = (what: string, max = 2000) => z.string().trim().min(1).max(max).describe(what);

export const idParams = z.object({
  id: z.string().max(400).describe('rotation id: environment:credential:ticket'),
});
export const ackSchema = z.object({
  id: z.string(),
  accepted: z.literal(true),
  phase: z.string().describe('the phase when the workflow accepted the message'),
});

/** A consumer that cannot move to the new key yet, accepted on record (the seed's exception list). */
const exceptionSchema = z
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
  .describe(
    'an accepted exception: owner, expiry and compensating control',
  ) satisfies z.ZodType<ExceptionInput>;

const exceptionsField = z
  .array(exceptionSchema)
  .min(1)
  .max(100)
  .refine((list) => new Set(list.map((e) => e.consumer)).size === list.length, {
    message: 'each consumer may be listed once',
  })
  .describe('consumers still on the old key that are accepted as exceptions, each with owner and expiry')
  .optional();

export const approvalBody = z
  .strictObject({
    gate: z.enum(['flip', 'revoke']).describe('which gate this decision is for'),
    decision: z.enum(['approve', 'reject']).default('approve'),
    comment: text('why, for the record').optional(),
    reason: text('required to reject').optional(),
    breakGlassReason: text('emergency mode: lets the requester approve their own rotation').optional(),
    riskReason: text(
      "accepts, on record, the risk of a gate whose evidence is 'insufficient' (its blockers); required to approve such a gate",
    ).optional(),
    exceptions: exceptionsField,
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

export const reasonBody = z.strictObject({ reason: text('why, for the record and the evidence') });

export const extensionBody = z.strictObject({
  minutes: z.number().int().min(1).max(1440).describe('how much longer to hold and watch'),
  reason: text('why the hold is extended'),
  exceptions: exceptionsField,
});

export const confirmationBody = z.strictObject({
  comment: text('what was done at the gateway').optional(),
});

export const replacementKeyBody = z.strictObject({
  key: z
    .string()
    .min(16, 'the key is too short to be an API key')
    .max(1024)
    .regex(/^\S+$/, 'the key must not contain whitespace')
    .describe('the replacement key; written to the pending secret, never stored or echoed elsewhere'),
});
