// The reference gateway: an OpenAI-compatible router with LiteLLM- and OpenRouter-style admin APIs,
// per-key Prometheus metrics and fault injection. Used by the demo, the tests and staging drills.
import Fastify, { type FastifyInstance } from 'fastify';
import { registerControl } from './control';
import { bearer, liteLlmError } from './errors';
import { keyRow, registerLiteLlmAdmin } from './litellm-admin';
import { registerLiteLlmFacts, type LiteLlmFacts } from './litellm-facts';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { registerOpenAiRoutes } from './openai-routes';
import { registerOpenRouterAdmin } from './openrouter-admin';
import { registerOpenAiAdmin } from './openai-admin';
import { registerPortkeyAdmin } from './portkey-admin';
import { configureSpendLog, type SpendLogSettings } from './spend-log';
import { GatewayState } from './state';

export interface SimulatorOptions {
  /** LiteLLM master key: admin API and fault injection. */
  masterKey: string;
  /** OpenRouter provisioning key: management API. */
  provisioningKey: string;
  /** Portkey admin API key (`x-portkey-api-key`); without it the Portkey API keys part is not served. */
  portkeyAdminKey?: string;
  /** OpenAI Admin API for one project; without it the part is not served. */
  openAiAdmin?: { adminKey: string; projectId: string; projectName?: string };
  /** The OpenRouter account (organisation) keys are created in: the owner their usage rolls up to. */
  openRouterAccount?: string;
  /** Default delay before a block/disable/delete applies to inference calls. */
  revocationDelayMs?: number;
  /** Departures from a default LiteLLM 1.110 proxy (teams, licence, upstream routes, cooldown). */
  litellm?: Partial<LiteLlmFacts>;
  /** The spend log's batch writer and row cap; rows are written at once unless `batchMs` is set. */
  spendLog?: Partial<SpendLogSettings>;
  now?: () => number;
}

export interface Simulator {
  app: FastifyInstance;
  state: GatewayState;
  /** Shared with replicas (simulator/replicas.ts): one count over all, as a Prometheus sum over pods. */
  metrics: GatewayMetrics;
}

/** Builds the gateway app; `app.listen` serves it, `app.inject` tests it. */
export function buildSimulator(opts: SimulatorOptions): Simulator {
  const state = new GatewayState(opts.now, opts.revocationDelayMs ?? 0);
  Object.assign(state.facts, opts.litellm);
  if (opts.spendLog) configureSpendLog(state, opts.spendLog);
  const metrics = createGatewayMetrics();
  const app = Fastify({ logger: false });
  registerOpenAiRoutes(app, state, metrics);
  registerLiteLlmAdmin(app, state, opts.masterKey);
  registerLiteLlmFacts(app, state, opts.masterKey, keyRow);
  registerOpenRouterAdmin(app, state, opts.provisioningKey, opts.openRouterAccount);
  if (opts.portkeyAdminKey) registerPortkeyAdmin(app, state, opts.portkeyAdminKey);
  if (opts.openAiAdmin) registerOpenAiAdmin(app, state, opts.openAiAdmin);
  registerControl(app, state, opts.masterKey);
  app.get('/metrics', async (req, reply) => {
    // LiteLLM's require_auth_for_metrics_endpoint: the master key, as for the admin API.
    if (state.facts.metricsAuth && bearer(req.headers.authorization) !== opts.masterKey)
      return liteLlmError(reply, 401, 'Authentication Error, /metrics requires the master key', 'auth_error');
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/health', () => ({ status: 'ok' }));
  return { app, state, metrics };
}
