// Per-key Prometheus metrics with LiteLLM's names and labels, so the same PromQL works against the
// simulator and a real LiteLLM proxy. Counters carry the `_total` suffix prometheus_client adds.
import { Counter, Histogram, Registry } from 'prom-client';
import type { GatewayState, VirtualKey } from './state';

/** Further labels LiteLLM 1.110 puts on its request counter (measured); "None" where it knows nothing. */
const REQUEST_LABELS = [
  'team_alias',
  'user',
  'user_email',
  'model_id',
  'api_provider',
  'client_ip',
  'user_agent',
  'org_id',
] as const;
export type RequestLabels = Record<(typeof REQUEST_LABELS)[number], string>;

/** Where a request came from, as the proxy sees it. */
export interface RequestOrigin {
  clientIp: string;
  userAgent: string | undefined;
}

/** The request counter's further labels for a call of `key` (undefined: a key the proxy refused). */
export function requestLabels(
  state: GatewayState,
  key: VirtualKey | undefined,
  origin: RequestOrigin,
): RequestLabels {
  const team = key?.teamId ? state.teams.get(key.teamId) : undefined;
  return {
    team_alias: team?.team_alias ?? 'None',
    user: key?.userId ?? 'None',
    user_email: 'None',
    model_id: key ? 'rekey-simulator-deployment' : 'None',
    api_provider: key ? 'openai' : 'None',
    client_ip: origin.clientIp,
    user_agent: origin.userAgent ?? 'None',
    org_id: 'None',
  };
}

export function createGatewayMetrics() {
  const registry = new Registry();
  const keyLabels = ['end_user', 'hashed_api_key', 'api_key_alias', 'team'] as const;
  return {
    registry,
    requests: new Counter({
      name: 'litellm_proxy_total_requests_metric_total',
      help: 'Requests per key, route, requested model and status code',
      labelNames: [...keyLabels, 'requested_model', 'route', 'status_code', ...REQUEST_LABELS],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'litellm_request_total_latency_metric',
      help: 'Request latency in seconds',
      labelNames: ['hashed_api_key', 'api_key_alias', 'requested_model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'litellm_total_tokens_metric_total',
      help: 'Total tokens per key and model',
      labelNames: [...keyLabels, 'model'],
      registers: [registry],
    }),
    spend: new Counter({
      name: 'litellm_spend_metric_total',
      help: 'Spend in USD per key and model',
      labelNames: [...keyLabels, 'model'],
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
