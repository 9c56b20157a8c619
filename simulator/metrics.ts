// Per-key Prometheus metrics with LiteLLM's names and labels, so the same PromQL works against the
// simulator and a real LiteLLM proxy. Counters carry the `_total` suffix prometheus_client adds.
import { Counter, Histogram, Registry } from 'prom-client';

export function createGatewayMetrics() {
  const registry = new Registry();
  const keyLabels = ['end_user', 'hashed_api_key', 'api_key_alias', 'team'] as const;
  return {
    registry,
    requests: new Counter({
      name: 'litellm_proxy_total_requests_metric_total',
      help: 'Requests per key, route, requested model and status code',
      labelNames: [...keyLabels, 'requested_model', 'route', 'status_code'],
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
