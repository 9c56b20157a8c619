// /v1/rotations: start (idempotent by change ticket), list (Temporal visibility), status.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { WorkflowNotFoundError, type WorkflowExecutionInfo } from '@temporalio/client';
import { z } from 'zod';
import {
  IDENTIFIER as identifier,
  rotationIdFor,
  rotationPolicySchema,
  toRotationInput,
  workflowIdFor,
} from '../../domain/policy';
import { webhookRefusal } from '../../domain/webhook-targets';
import { statusQuery } from '../../workflows/messages';
import {
  ChangeTicketKey,
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationOutcomeKey,
  RotationPhaseKey,
  RotationRequestedByKey,
} from '../../workflows/search-attributes';
import type { ApiDeps } from '../deps';
import { finalStatusOf } from '../final-status';
import { principalOf, requireRole, type Principal } from '../auth';
import { Conflict, InputError, NotFound, Unprocessable } from '../errors';
import { twinMissingReason } from '../../domain/staging-twin';
import { parseRotationId, rotationIdParams } from './rotation-id';
import { startRotationOnce } from './rotation-start';

const STATUS_QUERY_TIMEOUT_MS = 5_000;
const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`;

const started = z.object({
  id: z.string().describe('rotation id: environment:credential:ticket'),
  workflowId: z.string(),
  runId: z.string(),
  statusUrl: z.string(),
  temporalUiUrl: z.string().describe('the workflow in the Temporal Web UI'),
});
const summarySchema = z.object({
  id: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  credential: z.string(),
  environment: z.string(),
  changeTicket: z.string(),
  requestedBy: z.string().nullable(),
  phase: z.string().nullable().describe('RotationPhase search attribute'),
  outcome: z.string().nullable(),
  status: z
    .string()
    .describe(
      'Temporal execution status: RUNNING, COMPLETED, or FAILED for a rotation that did not rotate (see outcome)',
    ),
  startTime: z.string(),
  closeTime: z.string().nullable(),
});

/** A visibility row as the API shows it. */
function summary(wf: WorkflowExecutionInfo) {
  const sa = wf.typedSearchAttributes;
  const environment = sa.get(RotationEnvironmentKey) ?? '';
  const credential = sa.get(RotationCredentialKey) ?? '';
  const ticket = sa.get(ChangeTicketKey) ?? '';
  return {
    id: rotationIdFor(credential, environment, ticket),
    workflowId: wf.workflowId,
    runId: wf.runId,
    credential,
    environment,
    changeTicket: ticket,
    requestedBy: sa.get(RotationRequestedByKey) ?? null,
    phase: sa.get(RotationPhaseKey) ?? null,
    outcome: sa.get(RotationOutcomeKey) ?? null,
    status: wf.status.name,
    // The rotation's start, not its latest run's: continue-as-new carries the memo along.
    startTime: startedAt(wf) ?? wf.startTime.toISOString(),
    closeTime: wf.closeTime?.toISOString() ?? null,
  };
}

/** When the rotation's first run started (memo `startedAt`, set at start and carried across runs). */
function startedAt(wf: WorkflowExecutionInfo): string | undefined {
  const v = wf.memo?.startedAt;
  return typeof v === 'string' ? v : undefined;
}

export function rotationRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const who = principalOf;
    const runs = async (query: string, limit = 50) => {
      const out: WorkflowExecutionInfo[] = [];
      for await (const wf of deps.temporal.workflow.list({ query, pageSize: limit })) {
        out.push(wf);
        if (out.length >= limit) break;
      }
      return out;
    };
    /**
     * The run of a rotation: from visibility, any run of the workflow with this ticket; else the workflow's
     * latest run if it carries the ticket. Visibility is eventually consistent, and a rotation just started
     * may not be in it yet (seen under load): describe reads the workflow itself, so a GET right after its
     * POST finds it.
     */
    const runOf = async (workflowId: string, ticket: string): Promise<WorkflowExecutionInfo | undefined> => {
      const [run] = await runs(`WorkflowId = ${quote(workflowId)} AND ChangeTicket = ${quote(ticket)}`, 1);
      if (run) return run;
      const latest = await deps.temporal.workflow
        .getHandle(workflowId)
        .describe()
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        });
      if (latest?.typedSearchAttributes.get(ChangeTicketKey) !== ticket) return undefined;
      return { ...latest, raw: latest.raw.workflowExecutionInfo ?? {} };
    };
    const urls = (id: string, workflowId: string, runId?: string) => ({
      statusUrl: `/v1/rotations/${encodeURIComponent(id)}`,
      temporalUiUrl: `${deps.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${deps.temporal.options.namespace}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`,
    });

    app.post(
      '/rotations',
      {
        schema: {
          description:
            "Start a rotation from the seed's policy template (YAML or JSON), idempotent by change ticket.",
          consumes: ['application/yaml', 'text/yaml', 'application/json'],
          body: rotationPolicySchema,
          headers: z.object({ 'x-change-ticket': z.string().regex(identifier).optional() }).loose(),
          response: {
            201: started.describe('started'),
            200: started.describe('this ticket is already running: the same rotation'),
          },
        },
      },
      async (req, reply) => {
        const principal = who(req);
        requireRole(principal, 'requester');
        const policy = req.body;
        const ticket = policy.rotation.change_ticket?.id ?? req.headers['x-change-ticket'];
        if (!ticket)
          throw InputError(
            'a change ticket is required: rotation.change_ticket.id or the X-Change-Ticket header',
          );
        const { credential, environment } = policy.rotation;
        requireRegistered(principal, credential, environment);
        const webhookRefused = webhookRefusal(policy, deps.webhookTargets);
        if (webhookRefused) throw Unprocessable(webhookRefused);
        // The rotation counts a message only with a signature by one of this API's keys.
        const input = {
          ...toRotationInput(policy, principal.principal, ticket),
          messageTrust: deps.signer!.trust(),
        };
        const workflowId = workflowIdFor(environment, credential);
        const answer = await startRotationOnce(deps.temporal, input, deps.taskQueue, async () => {
          // Staging before production: refused now rather than failed in PREPARING (the workflow checks
          // again, for rotations started elsewhere and for a twin rotation that ages out meanwhile).
          const check = await deps.stagingTwin?.(input);
          const missing = check && twinMissingReason(input, check);
          if (missing) {
            throw Conflict(missing, {
              stagingTwin: `${check.twin!.environment}/${check.twin!.name}`,
              policyFingerprint: check.policyFingerprint,
            });
          }
        });
        // Only the request whose start created the run counts it; joiners answer 200 with its run id.
        if (answer.created) app.metrics.rotationsStarted.inc({ environment, mode: input.mode });
        return reply.code(answer.created ? 201 : 200).send({
          id: input.rotationId,
          workflowId,
          runId: answer.runId,
          ...urls(input.rotationId, workflowId, answer.runId),
        });
      },
    );

    app.get(
      '/rotations',
      {
        schema: {
          querystring: z.strictObject({
            credential: z.string().regex(identifier).optional(),
            environment: z.string().regex(identifier).optional(),
            phase: z
              .string()
              .regex(/^[A-Z_]+$/)
              .optional(),
            outcome: z.enum(['completed', 'rolled_back', 'aborted', 'failed']).optional(),
            limit: z.coerce.number().int().min(1).max(200).default(50),
          }),
          response: { 200: z.object({ rotations: z.array(summarySchema) }) },
        },
      },
      async (req) => {
        requireRole(who(req), 'viewer', 'requester', 'approver', 'operator');
        const q = req.query;
        // A rotation that continued as new has closed runs behind its latest one: list each rotation once.
        const filters = [`WorkflowType = 'rotation'`, `ExecutionStatus != 'ContinuedAsNew'`];
        if (q.credential) filters.push(`RotationCredential = ${quote(q.credential)}`);
        if (q.environment) filters.push(`RotationEnvironment = ${quote(q.environment)}`);
        if (q.phase) filters.push(`RotationPhase = ${quote(q.phase)}`);
        if (q.outcome) filters.push(`RotationOutcome = ${quote(q.outcome)}`);
        return { rotations: (await runs(filters.join(' AND '), q.limit)).map(summary) };
      },
    );

    app.get(
      '/rotations/:id',
      {
        schema: {
          params: rotationIdParams,
          response: {
            200: summarySchema.extend({
              statusUrl: z.string(),
              temporalUiUrl: z.string(),
              detail: z
                .record(z.string(), z.unknown())
                .nullable()
                .describe(
                  "the workflow's status query (phase, timeline, gates, versions); for a finished rotation its " +
                    'final status (its result, or the details of its RotationRolledBack/RotationAborted/' +
                    'RotationFailed failure); null when neither is available',
                ),
            }),
          },
        },
      },
      async (req) => {
        requireRole(who(req), 'viewer', 'requester', 'approver', 'operator');
        const { environment, credential, ticket } = parseRotationId(req.params.id);
        const workflowId = workflowIdFor(environment, credential);
        const run = await runOf(workflowId, ticket);
        if (!run) throw NotFound(`no rotation ${req.params.id}`);
        const handle = deps.temporal.workflow.getHandle(workflowId, run.runId);
        // A finished run's close event holds its final status, whether it completed or ended with a
        // typed failure: no worker needed. A terminated run has none, and falls back to the query.
        const final =
          run.status.name === 'RUNNING'
            ? undefined
            : await finalStatusOf(deps.temporal, handle, STATUS_QUERY_TIMEOUT_MS);
        // Bounded: with no worker polling, a query would wait (and be retried) indefinitely.
        const status =
          final ??
          (await deps.temporal
            .withAbortSignal(AbortSignal.timeout(STATUS_QUERY_TIMEOUT_MS), () => handle.query(statusQuery))
            .catch(() => undefined));
        return {
          ...summary(run),
          ...urls(req.params.id, workflowId, run.runId),
          // Without a worker answering, the search attributes still tell the phase.
          detail: (status ?? null) as Record<string, unknown> | null,
        };
      },
    );

    /** 422 for a credential the registry lacks; only an operator is shown the registered names. */
    function requireRegistered(principal: Principal, credential: string, environment: string) {
      if (deps.registry.lookup(credential, environment)) return;
      // The registry is the list of what a stolen requester token could target: an operator, who runs
      // the platform, sees it; requesters learn only that this name is not registered.
      const operator = principal.roles.includes('operator');
      throw Unprocessable(
        `credential ${credential} is not registered for ${environment}` +
          (operator ? '' : '; an operator can list the registered credentials'),
        operator ? { registered: deps.registry.names() } : {},
      );
    }
  };
}
