// The reference gateway: an OpenAI-compatible router with LiteLLM- and OpenRouter-style admin APIs,
// per-key Prometheus metrics and fault injection. Used by the demo, the tests and staging drills.
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControl } from './control';
import { registerLiteLlmAdmin } from './litellm-admin';
import { createGatewayMetrics } from './metrics';
import { registerOpenAiRoutes } from './openai-routes';
import { registerOpenRouterAdmin } from './openrouter-admin';
import { GatewayState } from './state';

export interface SimulatorOptions {
  /** LiteLLM master key: admin API and fault injection. */
  masterKey: string;
  /** OpenRouter provisioning key: management API. */
  provisioningKey: string;
  /** Default delay before a block/disable/delete applies to inference calls. */
  revocationDelayMs?: number;
  now?: () => number;
}

export interface Simulator {
  app: FastifyInstance;
  state: GatewayState;
}

/** Builds the gateway app; `app.listen` serves it, `app.inject` tests it. */
export function buildSimulator(opts: SimulatorOptions): Simulator {
  const state = new GatewayState(opts.now, opts.revocationDelayMs ?? 0);
  const metrics = createGatewayMetrics();
  const app = Fastify({ logger: false });
  registerOpenAiRoutes(app, state, metrics);
  registerLiteLlmAdmin(app, state, opts.masterKey);
  registerOpenRouterAdmin(app, state, opts.provisioningKey);
  registerControl(app, state, opts.masterKey);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/health', () => ({ status: 'ok' }));
  return { app, state };
}
