// /v1/schedules: the Temporal Schedules that start rotations themselves (api/schedules/schedule-sync.ts),
// one `rotation` and one `expiry` schedule per registered credential that asks for them. Any role may
// list and read them; an operator pauses, resumes, triggers and syncs them (the note on the schedule says
// who and why, as the Temporal UI shows it).
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleSummary,
} from '@temporalio/client';
import { z } from 'zod';
import { IDENTIFIER } from '../../domain/policy';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole } from '../auth';
import { HttpProblem, NotFound } from '../errors';
import { MessageSigner } from '../message-signing';
import {
  parseScheduleId,
  SCHEDULE_KINDS,
  scheduleIdFor,
  syncSchedules,
  type ScheduleKind,
} from '../schedules/schedule-sync';

const params = z.object({
  environment: z.string().max(120).describe('the credential’s environment'),
  name: z.string().max(120).describe('the credential’s name in the registry'),
});
const kindQuery = z.object({
  kind: z.enum(SCHEDULE_KINDS).default('rotation').describe('rotation (schedule:) or expiry (expiry:)'),
});
const reasonBody = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, 'a reason is required')
    .max(500)
    .describe('why: recorded in the schedule’s note'),
});

const scheduleView = z
  .object({
    scheduleId: z.string(),
    kind: z.enum(SCHEDULE_KINDS),
    environment: z.string(),
    credential: z.string(),
    paused: z.boolean(),
    note: z.string().nullable(),
    workflowType: z.string().nullable(),
    nextActionTimes: z.array(z.string()).describe('the next fire times (UTC), jitter included'),
    recentActions: z
      .array(z.object({ scheduledAt: z.string(), takenAt: z.string(), workflowId: z.string() }))
      .describe('the latest fires and the trigger workflows they started'),
    spec: z
      .object({
        every: z.array(z.string()).describe('intervals, in seconds'),
        calendars: z.number().describe('how many calendar specs (a registry cron becomes one)'),
        jitterSeconds: z.number().nullable(),
      })
      .optional(),
    policies: z
      .object({ overlap: z.string(), catchupWindowSeconds: z.number(), pauseOnFailure: z.boolean() })
      .optional(),
  })
  .describe('a rekey schedule as Temporal holds it');
type ScheduleView = z.infer<typeof scheduleView>;

/** A fire as listed: when it was due, when it ran, the trigger workflow it started. */
function actionView(a: ScheduleSummary['info']['recentActions'][number]) {
  return {
    scheduledAt: a.scheduledAt.toISOString(),
    takenAt: a.takenAt.toISOString(),
    workflowId: 'workflow' in a.action ? a.action.workflow.workflowId : '',
  };
}

function viewOfSummary(s: ScheduleSummary): ScheduleView | undefined {
  const id = parseScheduleId(s.scheduleId);
  if (!id) return undefined;
  return {
    scheduleId: s.scheduleId,
    ...id,
    paused: s.state.paused,
    note: s.state.note ?? null,
    workflowType: s.action?.type === 'startWorkflow' ? s.action.workflowType : null,
    nextActionTimes: s.info.nextActionTimes.map((d) => d.toISOString()),
    recentActions: s.info.recentActions.map(actionView),
  };
}

function viewOf(d: ScheduleDescription): ScheduleView {
  const id = parseScheduleId(d.scheduleId)!;
  const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms / 1000));
  return {
    scheduleId: d.scheduleId,
    ...id,
    paused: d.state.paused,
    note: d.state.note ?? null,
    workflowType: d.action.type === 'startWorkflow' ? d.action.workflowType : null,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentActions: d.info.recentActions.map(actionView),
    spec: {
      every: (d.spec.intervals ?? []).map((i) => `${Math.round(Number(i.every) / 1000)}s`),
      calendars: d.spec.calendars?.length ?? 0,
      jitterSeconds: seconds(d.spec.jitter),
    },
    policies: {
      overlap: String(d.policies.overlap),
      catchupWindowSeconds: Math.round(d.policies.catchupWindow / 1000),
      pauseOnFailure: d.policies.pauseOnFailure,
    },
  };
}

const syncReport = z.object({
  created: z.array(z.string()),
  updated: z.array(z.string()),
  deleted: z.array(z.string()),
  failed: z.array(z.object({ scheduleId: z.string(), error: z.string() })),
});

export function scheduleRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const handleOf = (environment: string, name: string, kind: ScheduleKind) => {
      if (!IDENTIFIER.test(environment) || !IDENTIFIER.test(name)) {
        throw NotFound(`no schedule for ${name} in ${environment}`);
      }
      return deps.temporal.schedule.getHandle(scheduleIdFor(kind, environment, name));
    };
    const describe = async (environment: string, name: string, kind: ScheduleKind) => {
      try {
        return await handleOf(environment, name, kind).describe();
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) {
          throw NotFound(`no ${kind} schedule for ${name} in ${environment}`);
        }
        throw err;
      }
    };

    app.get(
      '/schedules',
      {
        schema: {
          response: { 200: z.object({ schedules: z.array(scheduleView) }) },
          description: 'Every rekey schedule (rotation and expiry) Temporal holds (any role).',
        },
      },
      async (req) => {
        principalOf(req);
        const schedules: ScheduleView[] = [];
        for await (const s of deps.temporal.schedule.list()) {
          const v = viewOfSummary(s);
          if (v) schedules.push(v);
        }
        return { schedules: schedules.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId)) };
      },
    );

    app.get(
      '/schedules/:environment/:name',
      {
        schema: {
          params,
          querystring: kindQuery,
          response: { 200: scheduleView },
          description: 'One credential’s schedule: spec, policies, next and recent fires (any role).',
        },
      },
      async (req) => {
        principalOf(req);
        return viewOf(await describe(req.params.environment, req.params.name, req.query.kind));
      },
    );

    const operatorAction = (
      action: 'pause' | 'resume' | 'trigger',
      description: string,
      run: (h: ReturnType<typeof handleOf>, note: string) => Promise<void>,
    ) =>
      app.post(
        `/schedules/:environment/:name/${action}`,
        {
          schema: {
            params,
            querystring: kindQuery,
            body: reasonBody,
            response: { 200: scheduleView },
            description,
          },
        },
        async (req) => {
          const who = principalOf(req);
          requireRole(who, 'operator');
          const { environment, name } = req.params;
          await describe(environment, name, req.query.kind);
          const note = `${action === 'resume' ? 'resumed' : action === 'pause' ? 'paused' : 'triggered'} by ${who.principal}: ${req.body.reason}`;
          req.log.info({ scheduleAction: action, by: who.principal, environment, name }, 'schedule action');
          await run(handleOf(environment, name, req.query.kind), note);
          return viewOf(await describe(environment, name, req.query.kind));
        },
      );
    operatorAction(
      'pause',
      'Operator: pause the schedule; no fire starts a rotation until it is resumed.',
      (h, n) => h.pause(n),
    );
    operatorAction(
      'resume',
      'Operator: resume a paused schedule (also after pause_on_failure paused it).',
      (h, n) => h.unpause(n),
    );
    operatorAction(
      'trigger',
      'Operator: fire the schedule now (notice, notice_hours and the window still apply); skipped while its previous fire still runs.',
      (h) => h.trigger(ScheduleOverlapPolicy.SKIP),
    );

    app.post(
      '/schedules/sync',
      {
        schema: {
          response: { 200: syncReport },
          description:
            'Operator: make Temporal’s schedules match the registry now (the API also does it when it starts).',
        },
      },
      async (req) => {
        requireRole(principalOf(req), 'operator');
        if (!deps.registry.automations) {
          throw new HttpProblem(503, 'Service unavailable', 'this API’s registry lists no schedules');
        }
        return syncSchedules(
          {
            temporal: deps.temporal,
            signer: deps.signer ?? MessageSigner.ephemeral(),
            taskQueue: deps.taskQueue,
            noticeUrl: deps.scheduleNoticeUrl,
          },
          deps.registry.automations(),
        );
      },
    );
  };
}
