// The rekey API: buildApp(deps) returns the Fastify app; tests use app.inject, server.ts listens.
// One error handler maps typed problems and validation errors to RFC 9457 application/problem+json.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifySwagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifySchema,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Client } from '@temporalio/client';
import type { DestinationStream, LoggerOptions } from 'pino';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { createRekeyMetrics, type RekeyMetrics } from '../common/metrics';
import packageJson from '../package.json';
import type { CredentialRegistry, SecretStore } from '../activities/ports';
import type { CredentialRef } from '../activities/types';
import type { EvidenceReader } from '../activities/evidence';
import type { Authenticator, Principal } from './auth';
import { HttpProblem, NotFound } from './errors';
import { refreshRotationGauges } from './rotation-gauges';
import { actionRoutes } from './routes/actions';
import { evidenceRoutes } from './routes/evidence';
import { rotationRoutes } from './routes/rotations';

export interface ApiDeps {
  temporal: Client;
  registry: CredentialRegistry;
  auth: Authenticator;
  taskQueue: string;
  temporalUiUrl: string;
  /** The secret store of a credential, for the manual replacement-key hand-off. */
  secretStoreFor?: (credential: CredentialRef) => SecretStore;
  /** Where finished rotations' evidence bundles are read from. */
  evidence?: EvidenceReader;
  /** pino options (`stream`: where the log goes, default stdout), or false for no request log. */
  logger?: boolean | (LoggerOptions & { stream?: DestinationStream });
  /** Prometheus registry that /metrics exposes; rekey's metrics are added to it. Default: a fresh one. */
  metrics?: Registry;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** rekey's metrics; routes count their own events (a started rotation) here. */
    metrics: RekeyMetrics;
  }
  interface FastifyRequest {
    /** Who sent a /v1 request, from the bearer token (authenticated before the body is read). */
    principal: Principal | null;
  }
}

/** Redacted wherever a request is logged; request bodies are never logged, `body` is a safety net. */
export const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'req.body',
  'body',
  'key',
  'apiKey',
  'value',
  '*.key',
  '*.apiKey',
  '*.value',
];

/** A client's X-Request-Id is kept when it is a sane token; anything else gets a fresh UUID. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The RFC 9457 body of every error answer; a component of the OpenAPI document. */
export const problemSchema = z
  .object({
    type: z.string().describe('problem type URI; `about:blank` when the status says it all'),
    title: z.string().describe('short summary of the problem type'),
    status: z.number().int().describe('the HTTP status code'),
    detail: z.string().describe('what went wrong with this request'),
    instance: z.string().describe('the request path'),
    requestId: z.string().describe('the X-Request-Id of this request; quote it when reporting a problem'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('each invalid field of a 400'),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; some problems add fields' });

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

/**
 * Documents a route from its zod schemas, adding the problem+json answers every route can give and
 * a generic success for routes that do not describe their body yet.
 */
const documentRoute: SwaggerTransform<FastifySchema & { hide?: boolean }> = (input) => {
  const schema = input.schema ?? {};
  if (schema.hide) return jsonSchemaTransform(input);
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  // /v1 routes without tags are grouped by resource (/v1/rotations/... → rotations).
  const resource = /^\/v1\/([^/]+)/.exec(input.url)?.[1];
  const out = jsonSchemaTransform({
    ...input,
    schema: {
      ...schema,
      ...(schema.tags === undefined && resource ? { tags: [resource] } : {}),
      response: {
        '4XX': problemResponse('client error (RFC 9457 problem details)'),
        '5XX': problemResponse('server error (RFC 9457 problem details)'),
        ...declared,
      },
    },
  });
  if (!Object.keys(declared).some((code) => code.startsWith('2'))) {
    const response = out.schema.response as Record<string, unknown>;
    out.schema.response = { '2XX': { description: 'success (body not described yet)' }, ...response };
  }
  return out;
};

// Swagger UI's files as @fastify/swagger-ui (pinned) ships them, served here so that /docs needs no
// internet access. Its plugin is not registered: it loads @fastify/static, whose ESM-only
// dependencies jest's CommonJS runtime cannot load, and three fixed files need no static server.
const SWAGGER_UI_DIR = path.join(path.dirname(require.resolve('@fastify/swagger-ui/package.json')), 'static');
const DOCS_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};
const DOCS_INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });
};
`;
const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>rekey API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/swagger-initializer.js"></script>
  </body>
</html>
`;

/** /docs: Swagger UI over /openapi.json, from local files only. */
function docsRoutes(): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const open = { tags: ['operations'], security: [] };
    app.get(
      '/docs',
      {
        schema: {
          ...open,
          summary: 'This API documentation (Swagger UI)',
          response: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
        },
      },
      (_req, reply) => {
        reply.type('text/html; charset=utf-8');
        return DOCS_PAGE;
      },
    );
    app.get(
      '/docs/:asset',
      {
        schema: {
          ...open,
          summary: 'A file of the documentation page',
          params: z.object({
            asset: z.enum([...Object.keys(DOCS_ASSETS), 'swagger-initializer.js']).describe('file name'),
          }),
          response: {
            200: {
              description: 'stylesheet or script',
              content: { 'text/css': { schema: z.string() }, 'text/javascript': { schema: z.string() } },
            },
          },
        },
      },
      async (req, reply) => {
        const { asset } = req.params;
        if (asset === 'swagger-initializer.js') {
          reply.type('text/javascript; charset=utf-8');
          return DOCS_INITIALIZER;
        }
        reply.type(DOCS_ASSETS[asset]!).header('cache-control', 'public, max-age=3600');
        return readFile(path.join(SWAGGER_UI_DIR, asset), 'utf8');
      },
    );
  };
}

/** Adds the zod registry's schemas as components, leaving out input variants nothing refers to. */
const documentObject: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as { components?: { schemas?: Record<string, unknown> } };
  const schemas = doc.components?.schemas ?? {};
  const text = JSON.stringify({ ...doc, components: { ...doc.components, schemas: {} } });
  for (const name of Object.keys(schemas)) {
    if (name.endsWith('Input') && !text.includes(`#/components/schemas/${name}"`)) delete schemas[name];
  }
  return doc as ReturnType<SwaggerTransformObject>;
};

/** The API's own operational routes: health, readiness, metrics and the OpenAPI document. */
function operationsRoutes(deps: ApiDeps): FastifyPluginAsync {
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

/** The API with every route; nothing listens until server.ts (or a test) asks. */
export function buildApp(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    logger:
      deps.logger === undefined || deps.logger === false
        ? false
        : // Fastify's request serializer logs method, url and addresses: no headers, no body.
          { ...(deps.logger === true ? {} : deps.logger), redact: REDACT },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const metrics = createRekeyMetrics(deps.metrics ?? new Registry());
  app.decorate('metrics', metrics);
  // Hooks and handlers apply to plugins registered after them: they come before every route.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    // The route template, never the raw URL, keeps label cardinality bounded.
    const labels = {
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

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

  // The document is built from the routes as they register (an onRoute hook), so swagger comes
  // before every route plugin, including those registered after this function returns.
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'rekey',
        version: packageJson.version,
        description:
          'Rotates the API key of an AI gateway as a Temporal workflow. Errors are RFC 9457 problem details; ' +
          'every answer carries an x-request-id header (a sane client X-Request-Id is kept).',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'a token whose SHA-256 is configured with a principal and roles',
          },
        },
      },
      security: [{ bearerAuth: [] }],
    },
    transform: documentRoute,
    transformObject: documentObject,
  });
  void app.register(operationsRoutes(deps));
  void app.register(docsRoutes());
  void app.register(v1Routes(deps), { prefix: '/v1' });
  return app;
}

/** Everything under /v1: the token is checked first, before a body is parsed or validated. */
function v1Routes(deps: ApiDeps): FastifyPluginAsync {
  return async (v1) => {
    v1.decorateRequest('principal', null);
    v1.addHook('onRequest', (req, _reply, done) => {
      try {
        req.principal = deps.auth.authenticate(req.headers.authorization, req.ip);
        done();
      } catch (err) {
        done(err as Error);
      }
    });
    await v1.register(rotationRoutes(deps));
    await v1.register(actionRoutes(deps));
    await v1.register(evidenceRoutes(deps));
  };
}
