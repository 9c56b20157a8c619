// The API's own operational routes: health, readiness, metrics and the OpenAPI document.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { HttpProblem } from '../errors';
import { refreshRotationGauges } from '../rotation-gauges';

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
          summary: 'Readiness: Temporal is reachable',
          response: { 200: z.object({ status: z.literal('ready') }) },
        },
      },
      async () => {
        try {
          await deps.temporal.connection.workflowService.getSystemInfo({});
        } catch {
          throw new HttpProblem(503, 'Not ready', 'Temporal is not reachable');
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
