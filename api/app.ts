// The rekey API: buildApp(deps) returns the Fastify app; tests use app.inject, server.ts listens.
// Each concern is a plugin in api/plugins/; the order below is the order Fastify applies them in.
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { createRekeyMetrics } from '../common/metrics';
import { trustProxyOption } from './client-address';
import type { ApiDeps } from './deps';
import { MessageSigner } from './message-signing';
import { loggerOption } from './logging';
import { docsPlugin } from './plugins/docs';
import { clientErrorHandler, errorsPlugin, frameworkErrors } from './plugins/errors';
import { httpMetricsPlugin } from './plugins/http-metrics';
import { operationsPlugin } from './plugins/operations';
import { requestIdOf, requestIdPlugin } from './plugins/request-id';
import { swaggerPlugin } from './plugins/swagger';
import { v1Plugin } from './plugins/v1';
import { yamlBodyPlugin } from './plugins/yaml-body';
import { expiryEventRoutes } from './routes/expiry-events';
import { exposureWebhookRoutes } from './routes/exposures';
import { MAX_PARAM_LENGTH } from './routes/rotation-id';

export type { ApiDeps } from './deps';

/** The API with every route; nothing listens until server.ts (or a test) asks. */
export function buildApp(given: ApiDeps): FastifyInstance {
  const deps: ApiDeps = { ...given, signer: given.signer ?? MessageSigner.ephemeral() };
  const app = Fastify({
    logger: loggerOption(deps.logger),
    requestIdHeader: false,
    genReqId: requestIdOf,
    // req.ip (the client the failed-authentication limits count) from X-Forwarded-For only via these.
    trustProxy: trustProxyOption(deps.trustProxy),
    // Every valid rotation id is addressable; a longer param is a 414, as problem+json.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors answered before a route runs get problem+json bodies too (api/plugins/errors.ts).
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('metrics', createRekeyMetrics(deps.metrics ?? new Registry()));

  // Root-scoped plugins first: their hooks, parsers and handlers reach every route registered after
  // them. Swagger's onRoute hook must see every route, including plugins registered after this returns.
  void app.register(requestIdPlugin);
  void app.register(httpMetricsPlugin);
  void app.register(yamlBodyPlugin);
  void app.register(errorsPlugin);
  void app.register(swaggerPlugin);
  // Route plugins, each in its own scope.
  void app.register(operationsPlugin(deps));
  void app.register(docsPlugin);
  void app.register(v1Plugin(deps), { prefix: '/v1' });
  // Scanner webhooks: under /v1 but authenticated by the scanner's signature, not the bearer token.
  void app.register(exposureWebhookRoutes(deps), { prefix: '/v1' });
  // Event Grid deliveries: authenticated by the subscription's secret delivery property.
  void app.register(expiryEventRoutes(deps), { prefix: '/v1' });
  return app;
}
