// /v1/fleets: rotate many registered credentials at once (issue 16), by selector — environment, owner,
// tag, an explicit list, or everything a departing person could read — under one parent workflow
// (workflows/fleet.ts) whose members are ordinary rotations, each with its own evidence.
// - An operator starts a fleet; every member's policy is built and validated before anything starts
//   (one bad entry refuses the fleet with 422, nothing half-started).
// - Any role reads a fleet's status: counts per state and phase, and every member.
// - approval `fleet`: one approver approves a gate for the whole fleet once every unfinished member waits
//   at it; the API sends each member the same signed approve a person would (the member's validator
//   judges it: four-eyes, roles, evidence), and records on the fleet who approved and what each member
//   answered. approval `per-rotation`: members are approved one by one at /v1/rotations/:id/approvals.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { AutoPolicyError, autoRotationPolicy } from '../../domain/automation';
import {
  FLEET_APPROVALS,
  fleetApprovalReadiness,
  fleetTicketId,
  fleetWorkflowId,
  isFleetId,
  MEMBER_STATES,
  selectCredentials,
  selectorIsEmpty,
  unknownNames,
} from '../../domain/fleet';
import { IDENTIFIER, ROTATION_ID_MAX_LENGTH, toRotationInput, workflowIdFor } from '../../domain/policy';
import { GATES } from '../../domain/vocabulary';
import { fleetApprovalRecorded, fleetStatusQuery } from '../../workflows/fleet-messages';
import type { FleetArgs } from '../../workflows/fleet';
import type { FleetStatus } from '../../domain/fleet';
import { approveUpdate } from '../../workflows/messages';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole } from '../auth';
import { Conflict, HttpProblem, NotFound, Unprocessable } from '../errors';
import type { MessageSigner } from '../message-signing';
import { isAbort, messageSender, UPDATE_TIMEOUT_MS } from '../rotation-messages';

/** The most credentials one fleet rotates (each member's input is in the fleet's first event). */
export const MAX_FLEET_MEMBERS = 250;

const identifier = z.string().min(1).max(120).regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only');

const selectorSchema = z
  .strictObject({
    environment: identifier.optional(),
    owner: z.string().min(1).max(200).optional(),
    tag: z.string().min(1).max(120).optional(),
    names: z.array(identifier).min(1).max(MAX_FLEET_MEMBERS).optional().describe('credential names'),
    reader: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('everything this principal can read (the registry’s readers): an offboarding'),
  })
  .refine((s) => !selectorIsEmpty(s), { message: 'a selector needs at least one field' })
  // The refinement again, for the OpenAPI document, which cannot see a refine.
  .meta({ minProperties: 1 })
  .describe('every registered credential matching all the fields given');

const fleetStartBody = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(100)
    .regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only')
    .optional()
    .describe('the fleet id (default: made from the time); a second start with the same id is refused'),
  selector: selectorSchema,
  reason: z.string().trim().min(1, 'a reason is required').max(500),
  approval: z
    .enum(FLEET_APPROVALS)
    .default('fleet')
    .describe('fleet: one approval per gate for all members; per-rotation: each member on its own'),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(10)
    .describe('how many members work at once (a member waiting for a person holds no slot)'),
  startsPerMinute: z.number().int().min(0).max(600).default(30).describe('0: no spacing'),
  pollSeconds: z.number().int().min(2).max(300).default(10).describe('how often members are read'),
});

// Bounded like every route's id (the longest rotation id), so a long id is a 404, not a 400.
const fleetParams = z.object({ id: z.string().max(ROTATION_ID_MAX_LENGTH).describe('the fleet id') });

const memberView = z.object({
  credential: z.string(),
  environment: z.string(),
  rotationId: z.string(),
  workflowId: z.string(),
  state: z.enum(MEMBER_STATES),
  phase: z.string().optional(),
  why: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
});

const approvalRecordView = z.object({
  by: z.string(),
  gate: z.enum(GATES),
  at: z.string(),
  comment: z.string().optional(),
  accepted: z.array(z.string()),
  refused: z.array(z.object({ rotationId: z.string(), why: z.string() })),
});

const fleetView = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    status: z.string().describe('the fleet workflow’s status: RUNNING, COMPLETED, …'),
    requestedBy: z.string(),
    reason: z.string(),
    selector: z.record(z.string(), z.unknown()),
    approval: z.enum(FLEET_APPROVALS),
    concurrency: z.number(),
    startsPerMinute: z.number(),
    startedAt: z.string(),
    finished: z.boolean(),
    counts: z.object({
      total: z.number(),
      byState: z.record(z.string(), z.number()),
      byPhase: z.record(z.string(), z.number()).describe('running members by phase; PENDING, COMPLETED, …'),
    }),
    members: z.array(memberView),
    approvals: z.array(approvalRecordView),
    temporalUiUrl: z.string(),
  })
  .describe('a fleet rotation and its members');

const fleetApprovalBody = z.strictObject({
  gate: z.enum(GATES),
  comment: z.string().trim().min(1).max(1000).optional(),
});

/** A fleet id made from the time and a little randomness: `20261203T0912-4f3a`. */
function newFleetId(now: Date): string {
  const iso = now.toISOString();
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export function fleetRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const signer: MessageSigner = deps.signer!;
    const send = messageSender({ temporal: deps.temporal, signer });
    const uiUrl = (workflowId: string) =>
      `${deps.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${deps.temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}`;

    /** The fleet's status (its query), with its workflow's own status; 404 when there is none. */
    async function fleetOf(id: string): Promise<z.infer<typeof fleetView>> {
      if (!isFleetId(id)) throw NotFound(`no fleet ${id}`);
      const workflowId = fleetWorkflowId(id);
      const handle = deps.temporal.workflow.getHandle(workflowId);
      try {
        const described = await handle.describe();
        if (described.type !== 'fleetRotation') throw NotFound(`no fleet ${id}`);
        const status: FleetStatus = await deps.temporal.withAbortSignal(
          AbortSignal.timeout(UPDATE_TIMEOUT_MS),
          () => handle.query(fleetStatusQuery),
        );
        return {
          id,
          workflowId,
          status: described.status.name,
          ...status,
          selector: { ...status.selector },
          temporalUiUrl: uiUrl(workflowId),
        };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw NotFound(`no fleet ${id}`);
        if (isAbort(err))
          throw new HttpProblem(503, 'Service unavailable', 'no rekey worker answered in time');
        throw err;
      }
    }

    app.post(
      '/fleets',
      {
        schema: {
          body: fleetStartBody,
          response: {
            201: z.object({
              id: z.string(),
              workflowId: z.string(),
              runId: z.string(),
              members: z.array(z.object({ rotationId: z.string(), workflowId: z.string() })),
              statusUrl: z.string(),
              temporalUiUrl: z.string(),
            }),
          },
          description:
            'Operator: rotate every registered credential the selector picks, as child rotations of one ' +
            'fleet workflow, at most `concurrency` working at once. Every member’s policy (the registry’s ' +
            'rotation_policy) is validated first: one that is not valid refuses the fleet (422).',
        },
      },
      async (req, reply) => {
        const who = principalOf(req);
        requireRole(who, 'operator');
        if (!deps.registry.automations) {
          throw new HttpProblem(
            503,
            'Service unavailable',
            'this API’s registry lists no credentials for fleets',
          );
        }
        const b = req.body;
        const entries = deps.registry.automations();
        const unknown = unknownNames(entries, b.selector);
        if (unknown.length > 0) {
          throw Unprocessable(`not registered: ${unknown.join(', ')}`, { unknown });
        }
        const picked = selectCredentials(entries, b.selector);
        if (picked.length === 0) throw Unprocessable('the selector matches no registered credential');
        if (picked.length > MAX_FLEET_MEMBERS) {
          throw Unprocessable(
            `the selector matches ${picked.length} credentials; a fleet rotates at most ${MAX_FLEET_MEMBERS}: narrow it`,
          );
        }
        const id = b.id ?? newFleetId(new Date());
        const ticketId = fleetTicketId(id);
        const problems: { credential: string; environment: string; error: string }[] = [];
        const inputs: FleetArgs['inputs'] = [];
        for (const c of picked) {
          try {
            const policy = autoRotationPolicy(c, { mode: 'scheduled', reason: b.reason, ticketId });
            inputs.push(toRotationInput(policy, who.principal, ticketId));
          } catch (err) {
            if (!(err instanceof AutoPolicyError)) throw err;
            problems.push({ credential: c.name, environment: c.environment, error: err.message });
          }
        }
        if (problems.length > 0) {
          throw Unprocessable(
            `${problems.length} of ${picked.length} credentials have no valid rotation policy: ${problems
              .slice(0, 5)
              .map((p) => `${p.environment}/${p.credential}: ${p.error}`)
              .join('; ')}`,
            { problems },
          );
        }
        const args: FleetArgs = {
          fleetId: id,
          requestedBy: who.principal,
          reason: b.reason,
          selector: b.selector,
          approval: b.approval,
          concurrency: b.concurrency,
          startsPerMinute: b.startsPerMinute,
          pollSeconds: b.pollSeconds,
          messageTrust: signer.trust(),
          inputs,
        };
        const workflowId = fleetWorkflowId(id);
        try {
          const handle = await deps.temporal.workflow.start('fleetRotation', {
            taskQueue: deps.taskQueue,
            workflowId,
            args: [args],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            staticSummary: `Fleet ${id}: rotate ${inputs.length} credentials · approval ${b.approval}`,
            staticDetails: `**Reason:** ${b.reason}\n\n**Requested by** ${who.principal}\n\n**Selector:** ${JSON.stringify(b.selector)}`,
          });
          req.log.info({ fleet: id, members: inputs.length, by: who.principal }, 'fleet started');
          return reply.code(201).send({
            id,
            workflowId,
            runId: handle.firstExecutionRunId,
            members: inputs.map((i) => ({
              rotationId: i.rotationId,
              workflowId: workflowIdFor(i.environment, i.credential),
            })),
            statusUrl: `/v1/fleets/${encodeURIComponent(id)}`,
            temporalUiUrl: uiUrl(workflowId),
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            throw Conflict(`fleet ${id} exists already: start a new fleet under another id`);
          }
          throw err;
        }
      },
    );

    app.get(
      '/fleets',
      {
        schema: {
          response: {
            200: z.object({
              fleets: z.array(z.object({ id: z.string(), status: z.string(), startedAt: z.string() })),
            }),
          },
          description: 'The latest fleets (any role), newest first, at most 100.',
        },
      },
      async (req) => {
        principalOf(req);
        const fleets = [];
        for await (const wf of deps.temporal.workflow.list({
          query: `WorkflowType = 'fleetRotation'`,
          pageSize: 100,
        })) {
          fleets.push({
            id: wf.workflowId.replace(/^rekey-fleet:/, ''),
            status: wf.status.name,
            startedAt: wf.startTime.toISOString(),
          });
          if (fleets.length >= 100) break;
        }
        return { fleets };
      },
    );

    app.get(
      '/fleets/:id',
      {
        schema: {
          params: fleetParams,
          response: { 200: fleetView },
          description: 'A fleet: counts per state and phase, every member and the approvals (any role).',
        },
      },
      async (req) => {
        principalOf(req);
        return fleetOf(req.params.id);
      },
    );

    app.post(
      '/fleets/:id/approvals',
      {
        schema: {
          params: fleetParams,
          body: fleetApprovalBody,
          response: { 200: approvalRecordView },
          description:
            'Approver, for a fleet started with approval `fleet`: approve the gate for every member at ' +
            'once. Refused (409) until every unfinished member waits at that gate; each member’s own rules ' +
            '(four-eyes, roles, evidence) still judge the approve it is sent, and what each answered is ' +
            'recorded on the fleet.',
        },
      },
      async (req) => {
        const who = principalOf(req);
        requireRole(who, 'approver', 'operator');
        const fleet = await fleetOf(req.params.id);
        if (fleet.approval !== 'fleet') {
          throw Conflict(
            `fleet ${fleet.id} is approved per rotation: approve each member at /v1/rotations/:id/approvals`,
          );
        }
        if (fleet.status !== 'RUNNING') throw Conflict(`fleet ${fleet.id} has finished (${fleet.status})`);
        const ready = fleetApprovalReadiness(fleet.members, req.body.gate);
        if (!ready.ready) throw Conflict(`not yet: ${ready.why}`, { counts: fleet.counts });
        const record: z.infer<typeof approvalRecordView> = {
          by: who.principal,
          gate: req.body.gate,
          at: new Date().toISOString(),
          ...(req.body.comment ? { comment: req.body.comment } : {}),
          accepted: [],
          refused: [],
        };
        let firstRefusal: HttpProblem | undefined;
        for (const rotationId of ready.rotationIds) {
          const member = fleet.members.find((m) => m.rotationId === rotationId)!;
          try {
            await send(
              rotationId,
              who,
              deps.temporal.workflow.getHandle(member.workflowId),
              approveUpdate,
              {
                principal: who.principal,
                roles: who.roles,
                gate: req.body.gate,
                comment: `fleet ${fleet.id}${req.body.comment ? `: ${req.body.comment}` : ''}`,
              },
              `fleet-approve:${req.id}:${rotationId}`,
            );
            record.accepted.push(rotationId);
          } catch (err) {
            if (!(err instanceof HttpProblem)) throw err;
            firstRefusal ??= err;
            record.refused.push({ rotationId, why: err.message });
          }
        }
        // Refused by every member: nothing was approved, so nothing is recorded (a retried refusal must not
        // grow the fleet's status); the caller gets the first refusal.
        if (record.accepted.length === 0 && firstRefusal) throw firstRefusal;
        await deps.temporal.workflow
          .getHandle(fleet.workflowId)
          .signal(fleetApprovalRecorded, record)
          .catch((err: unknown) => {
            req.log.warn(
              { fleet: fleet.id, err: (err as Error).message },
              'fleet approval not recorded on the fleet',
            );
          });
        req.log.info(
          {
            fleet: fleet.id,
            gate: record.gate,
            accepted: record.accepted.length,
            refused: record.refused.length,
          },
          'fleet approval',
        );
        return record;
      },
    );
  };
}
