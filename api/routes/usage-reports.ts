// POST /v1/credentials/:environment/:name/usage-reports: the apps of a manual gateway report their own
// per-key counts (app-reports telemetry). A reporter reports only as itself: the consumer in the body
// must be the calling principal. Reports name keys by fingerprint; a body holding a key is refused.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OverlappingReport, reportProblem, usageReportSchema } from '../../domain/usage-reports';
import { IDENTIFIER } from '../../domain/policy';
import type { ApiDeps } from '../deps';
import { principalOf, requireRole } from '../auth';
import { Conflict, HttpProblem, NotAllowed, NotFound, Unprocessable } from '../errors';

const params = z.object({
  environment: z.string().max(120).describe('the credential’s environment'),
  name: z.string().max(120).describe('the credential’s name in the registry'),
});

const reportResponse = z
  .object({
    stored: z.boolean().describe('false when the same report was already stored (a retry)'),
    credential: z.string(),
    from: z.string(),
    to: z.string(),
  })
  .describe('the report was taken');

export function usageReportRoutes(deps: ApiDeps): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/credentials/:environment/:name/usage-reports',
      {
        schema: {
          params,
          body: usageReportSchema,
          description:
            'An app reports its requests and errors with one key (by fingerprint) over at most 10 minutes; rekey judges app-reports telemetry windows on them.',
          response: { 200: reportResponse, 201: reportResponse },
        },
      },
      async (req, reply) => {
        const who = principalOf(req);
        requireRole(who, 'reporter');
        const report = req.body;
        if (report.consumer !== who.principal) {
          throw NotAllowed(`${who.principal} may report only as itself, not as ${report.consumer}`);
        }
        const { environment, name } = req.params;
        const credential =
          IDENTIFIER.test(environment) && IDENTIFIER.test(name)
            ? deps.registry.lookup(name, environment)
            : undefined;
        if (!credential) throw NotFound(`no credential ${name} registered for ${environment}`);
        const problem = reportProblem(report, Date.now());
        if (problem) throw Unprocessable(problem);
        if (!deps.appReports) {
          throw new HttpProblem(503, 'Service unavailable', 'this API has no app report store configured');
        }
        try {
          const result = await deps.appReports.append(
            { environment, name },
            { ...report, principal: who.principal, receivedAt: new Date().toISOString() },
          );
          const answer = {
            stored: result === 'stored',
            credential: `${environment}/${name}`,
            from: report.from,
            to: report.to,
          };
          return reply.code(result === 'stored' ? 201 : 200).send(answer);
        } catch (err) {
          if (err instanceof OverlappingReport) throw Conflict(err.message);
          throw err;
        }
      },
    );
  };
}
