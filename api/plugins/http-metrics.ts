// rekey_http_requests_total and rekey_http_request_duration_seconds for every answer.
import type { FastifyPluginAsync } from 'fastify';
import { rootScoped } from './root-scope';

/** Counts and times every answer into `app.metrics` (decorated by buildApp), unmatched routes included. */
// eslint-disable-next-line @typescript-eslint/require-await -- Fastify plugins are async by contract
export const httpMetricsPlugin: FastifyPluginAsync = rootScoped(async (app) => {
  app.addHook('onResponse', (req, reply, done) => {
    // The route template, never the raw URL, keeps label cardinality bounded.
    const labels = {
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    app.metrics.httpRequests.inc(labels);
    app.metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
    done();
  });
});
