// The rekey API: buildApp(deps) returns the Fastify app; tests use app.inject, server.ts listens.
// One error handler maps typed problems and validation errors to RFC 9457 application/problem+json.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import type { CredentialRegistry } from '../activities/ports';
import type { Authenticator } from './auth';
import { HttpProblem } from './errors';
import { rotationRoutes } from './routes/rotations';

export interface ApiDeps {
  temporal: Client;
  registry: CredentialRegistry;
  auth: Authenticator;
  taskQueue: string;
  temporalUiUrl: string;
  /** pino options, or false for no request log. */
  logger?: boolean | Record<string, unknown>;
}

/** Redacted wherever a request is logged. */
export const REDACT = ['req.headers.authorization', 'key', 'apiKey', 'value', '*.key', '*.apiKey', '*.value'];

export function buildApp(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    logger:
      deps.logger === undefined || deps.logger === false
        ? false
        : { redact: REDACT, ...(deps.logger === true ? {} : deps.logger) },
    genReqId: () => crypto.randomUUID(),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // The seed's policy template is YAML; JSON works as well.
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseYaml(body as string) as unknown);
      } catch (err) {
        done(
          new HttpProblem(
            400,
            'Bad request',
            `the body is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
          ),
          undefined,
        );
      }
    });
  }

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const problem = (status: number, title: string, detail: string, extra: Record<string, unknown> = {}) =>
      reply
        .code(status)
        .type('application/problem+json')
        .send({ type: 'about:blank', title, status, detail, instance: req.url, requestId: req.id, ...extra });
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

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await deps.temporal.connection.workflowService.getSystemInfo({});
      return { status: 'ready' };
    } catch {
      return reply
        .code(503)
        .type('application/problem+json')
        .send({ title: 'Not ready', status: 503, detail: 'Temporal is not reachable' });
    }
  });
  void app.register(rotationRoutes(deps), { prefix: '/v1' });
  return app;
}
