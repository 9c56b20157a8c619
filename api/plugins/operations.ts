// The API's own operational routes: health, readiness, metrics and the OpenAPI document.
import type { Client } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { HttpProblem } from '../errors';
import { refreshRotationGauges } from '../rotation-gauges';
import { TEMPORAL_RETRY_AFTER_SECONDS } from '../temporal-errors';

/** Bound on the readiness check: probes commonly time out after 1 s, and a late answer is a wrong one. */
const READY_TIMEOUT_MS = 750;

/**
 * Whether Temporal answers within timeoutMs. The deadline ends the call; the timer bounds the answer
 * whatever interceptors the client was built with (the SDK's default retries wait past a deadline).
 */
async function temporalAnswers(temporal: Client, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const check = temporal
    .withDeadline(Date.now() + timeoutMs, () => temporal.connection.workflowService.getSystemInfo({}))
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([check, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz, /readyz, /metrics and /openapi.json, answered without a token. */
export function operationsPlugin(deps: Pick<ApiDeps, 'temporal'>): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    // Probes and scrapers carry no token: these answer unauthenticated, and the document says so.
    const open = { tags: ['operations'], security: [] };
    app.get(
      '/healthz',
      {
        schema: {
          ...open,
          summary: 'Liveness: the process answers',
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          ...open,
          summary: `Readiness: Temporal answers within ${READY_TIMEOUT_MS} ms (else 503)`,
          response: { 200: z.object({ status: z.literal('ready') }) },
        },
      },
      async () => {
        if (!(await temporalAnswers(deps.temporal, READY_TIMEOUT_MS))) {
          throw new HttpProblem(
            503,
            'Not ready',
            `Temporal did not answer within ${READY_TIMEOUT_MS} ms`,
            {},
            { 'retry-after': String(TEMPORAL_RETRY_AFTER_SECONDS) },
          );
        }
        return { status: 'ready' as const };
      },
    );
    app.get(
      '/metrics',
      {
        schema: {
          ...open,
          summary: 'Prometheus metrics (text exposition format)',
          response: {
            200: {
              description: 'rekey and process metrics',
              content: { 'text/plain': { schema: z.string() } },
            },
          },
        },
      },
      async (req, reply) => {
        await refreshRotationGauges(deps.temporal, app.metrics).catch((err: unknown) => {
          req.log.warn({ err: { message: (err as Error).message } }, 'rotation gauges not refreshed');
        });
        const registry = app.metrics.registry;
        return reply.type(registry.contentType).send(await registry.metrics());
      },
    );
    app.get(
      '/openapi.json',
      {
        schema: {
          ...open,
          summary: 'This OpenAPI document',
          response: { 200: z.object({ openapi: z.string() }).loose().describe('OpenAPI 3.1 document') },
        },
      },
      () => app.swagger() as { openapi: string },
    );
  };
}
