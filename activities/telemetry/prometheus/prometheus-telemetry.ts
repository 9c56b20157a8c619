// Per-key traffic from Prometheus. PromQL templates select a key by `{key}`, the 12 hex characters of
// its fingerprint, which prefix the SHA-256 `hashed_api_key` label LiteLLM (and the reference gateway)
// exports. Counters are read at both ends of a window and subtracted, so figures are exact counts.
import { fingerprintHex } from '../../../domain/fingerprint';
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import { SIGNALS, type CredentialRef, type WindowMetrics } from '../../../domain/activity-io';
import { observing } from '../capabilities';
import { attributionFrom, perConsumer } from '../summaries';

/** PromQL per figure; `{key}` is the fingerprint hex, `{range}` the window in seconds. */
export interface QueryTemplates {
  requests: string;
  authErrors: string;
  rateLimited: string;
  serverErrors: string;
  tokens: string;
  spend: string;
  p95LatencyMs: string;
  requestsByConsumer: string;
  requestsByTeam: string;
}

const requests = (filter = '') =>
  `litellm_proxy_total_requests_metric_total{hashed_api_key=~"{key}.*"${filter}}`;

/** Templates for LiteLLM's metric names (the reference gateway exports the same). */
export const LITELLM_QUERIES: QueryTemplates = {
  requests: `sum(${requests()})`,
  authErrors: `sum(${requests(',status_code=~"401|403"')})`,
  rateLimited: `sum(${requests(',status_code="429"')})`,
  serverErrors: `sum(${requests(',status_code=~"5.."')})`,
  tokens: 'sum(litellm_total_tokens_metric_total{hashed_api_key=~"{key}.*"})',
  spend: 'sum(litellm_spend_metric_total{hashed_api_key=~"{key}.*"})',
  p95LatencyMs:
    '1000 * histogram_quantile(0.95, sum by (le) (rate(litellm_request_total_latency_metric_bucket{hashed_api_key=~"{key}.*"}[{range}s])))',
  requestsByConsumer: `sum by (end_user) (${requests()})`,
  requestsByTeam: `sum by (team) (${requests()})`,
};

export interface PrometheusTelemetryOptions {
  /** Prometheus base URL (its HTTP API is under /api/v1). */
  url: string;
  queries?: Partial<QueryTemplates>;
  /** End-user id the canary sends; its requests are not a consumer's. */
  canaryUser?: string;
  timeoutMs?: number;
}

type Sample = { metric: Record<string, string>; value: [number, string] };

export function createPrometheusTelemetry(opts: PrometheusTelemetryOptions): Telemetry {
  const q: QueryTemplates = { ...LITELLM_QUERIES, ...opts.queries };
  const canaryUser = opts.canaryUser ?? 'rekey-canary';

  async function query(promql: string, atMs: number): Promise<Sample[]> {
    const url = `${opts.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}&time=${atMs / 1000}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
    if (!res.ok || body.status !== 'success')
      throw new Error(`Prometheus query failed (${res.status}): ${body.error ?? 'unknown'}`);
    return body.data?.result ?? [];
  }
  const fill = (template: string, fingerprint: string, rangeS = 60) =>
    template
      .replaceAll('{key}', fingerprintHex(fingerprint))
      .replaceAll('{range}', String(Math.max(1, Math.round(rangeS))));
  const scalar = (samples: Sample[]) => {
    const v = Number(samples[0]?.value[1] ?? 0);
    return Number.isFinite(v) ? v : 0;
  };
  /** A counter's increase over [from, to]: its value at `to` minus its value at `from`. */
  const delta = async (template: string, fingerprint: string, fromMs: number, toMs: number) => {
    const promql = fill(template, fingerprint);
    const [before, after] = await Promise.all([query(promql, fromMs), query(promql, toMs)]);
    return Math.max(0, scalar(after) - scalar(before));
  };
  const grouped = async (
    template: string,
    label: string,
    fingerprint: string,
    fromMs: number,
    toMs: number,
  ) => {
    const promql = fill(template, fingerprint);
    const [before, after] = await Promise.all([query(promql, fromMs), query(promql, toMs)]);
    const start = new Map(before.map((s) => [s.metric[label] ?? '', Number(s.value[1])]));
    return after.map((s) => ({
      group: s.metric[label] ?? '',
      count: Math.max(0, Number(s.value[1]) - (start.get(s.metric[label] ?? '') ?? 0)),
    }));
  };

  return {
    // Every figure has a query; a deployment whose metrics lack one says so in the registry.
    source: () => ({ name: 'prometheus', capabilities: observing(SIGNALS) }),

    async window(
      _credential: CredentialRef,
      { fingerprint }: TelemetryKey,
      fromMs: number,
      toMs: number,
    ): Promise<WindowMetrics> {
      const [req, auth, limited, server, tokens, spend, latency] = await Promise.all([
        delta(q.requests, fingerprint, fromMs, toMs),
        delta(q.authErrors, fingerprint, fromMs, toMs),
        delta(q.rateLimited, fingerprint, fromMs, toMs),
        delta(q.serverErrors, fingerprint, fromMs, toMs),
        delta(q.tokens, fingerprint, fromMs, toMs),
        delta(q.spend, fingerprint, fromMs, toMs),
        query(fill(q.p95LatencyMs, fingerprint, (toMs - fromMs) / 1000), toMs),
      ]);
      return {
        fromMs,
        toMs,
        requests: req,
        authErrors: auth,
        rateLimited: limited,
        serverErrors: server,
        p95LatencyMs: Math.round(scalar(latency)),
        tokens,
        spend: Math.round(spend * 1e6) / 1e6,
      };
    },

    async usageByConsumer(
      credential: CredentialRef,
      { fingerprint }: TelemetryKey,
      fromMs: number,
      toMs: number,
    ) {
      return perConsumer(
        credential,
        await grouped(q.requestsByConsumer, 'end_user', fingerprint, fromMs, toMs),
        canaryUser,
      );
    },

    async attribution(_credential: CredentialRef, { fingerprint }: TelemetryKey, expectedOwner: string) {
      const now = Date.now();
      // Metrics arrive with the next scrape: a key without series yet is inconclusive, not a failure.
      return attributionFrom(
        await grouped(q.requestsByTeam, 'team', fingerprint, now - 24 * 3600_000, now),
        expectedOwner,
      );
    },
  };
}
