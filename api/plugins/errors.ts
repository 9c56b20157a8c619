// The one place errors become HTTP answers: typed problems, validation errors and everything else map
// to RFC 9457 application/problem+json (api/problem.ts), unmatched routes to a 404 problem.
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { HttpProblem, NotFound } from '../errors';
import { rootScoped } from './root-scope';

/** The error handler and the not-found handler of every route. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const errorsPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const problem = (status: number, title: string, detail: string, extra: Record<string, unknown> = {}) =>
      reply
        .code(status)
        .type('application/problem+json')
        .send({
          type: 'about:blank',
          title,
          status,
          detail,
          // The path only: a query string may carry what a client should not have sent.
          instance: req.url.split('?')[0],
          requestId: req.id,
          ...extra,
        });
    if (err instanceof HttpProblem) return problem(err.status, err.title, err.message, err.extra);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = err.validation.map((v) => ({
        path: v.instancePath.replace(/^\//, '').replaceAll('/', '.'),
        message: v.message,
      }));
      return problem(
        400,
        'Invalid request',
        `${errors.length} field(s) invalid: ${errors.map((e) => e.path || '(body)').join(', ')}`,
        { errors },
      );
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return problem(err.statusCode, 'Bad request', err.message);
    }
    req.log.error({ err: { message: err.message, name: err.name } }, 'request failed');
    return problem(
      500,
      'Internal error',
      'the request could not be completed; see the server log with this requestId',
    );
  });

  app.setNotFoundHandler((req) => {
    throw NotFound(`no route ${req.method} ${req.url.split('?')[0]}`);
  });
});
