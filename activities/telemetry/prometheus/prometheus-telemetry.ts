// Per-key traffic from Prometheus. PromQL templates select a key by `{key}`, the 12 hex characters of
// its fingerprint, which prefix the SHA-256 `hashed_api_key` label LiteLLM (and the reference gateway)
// exports. Counters are read at both ends of a window and subtracted, so figures are exact counts.
// A counter only moves when Prometheus scrapes, so each edge is snapped to the first scrape at or
// after it: the window counts what the scrapes between its edges saw, neighbouring windows share an
// edge (nothing counted twice, nothing lost), and a window is `complete: false` until a scrape after
// its end exists. The latency histogram's buckets are coarse: each window says how wide the bucket
// holding its p95 is (`latencyResolutionMs`), so the gate does not call a rise inside one a regression.
// LiteLLM labels a 401 `hashed_api_key="None"` (it cannot hash a key it does not know), so a key's
// auth errors are invisible per key: each window also carries the gateway-wide unattributed 401s.
import { fingerprintHex } from '../../../domain/fingerprint';
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import { SIGNALS, type CredentialRef, type WindowMetrics } from '../../../domain/activity-io';
import { observing } from '../capabilities';
import { TelemetryLagging } from '../lag';
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
  /** Per-`le` bucket counts of the latency histogram over `{range}` seconds. */
  latencyBuckets: string;
  /** The timestamp (seconds) of the latest scrape of the gateway at the evaluation time. */
  scrapeTime: string;
  /**
   * Gateway-wide 401s no key is named on (no `{key}`): LiteLLM cannot hash a key it does not know, so
   * they are labelled `hashed_api_key="None"` and any of them may be this key's.
   */
  unattributedAuthErrors: string;
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
  latencyBuckets:
    'sum by (le) (increase(litellm_request_total_latency_metric_bucket{hashed_api_key=~"{key}.*"}[{range}s]))',
  scrapeTime: 'max(timestamp(litellm_proxy_total_requests_metric_total))',
  unattributedAuthErrors:
    'sum(litellm_proxy_total_requests_metric_total{hashed_api_key="None",status_code="401"})',
};

/** How far past an edge a scrape is looked for; a scrape interval is seconds, never minutes. */
const SCRAPE_SEARCH_S = 120;
/** A bearer token is resolved again after this long (it may have been rotated). */
const TOKEN_TTL_MS = 5 * 60_000;

export interface PrometheusTelemetryOptions {
  /** Prometheus base URL (its HTTP API is under /api/v1). */
  url: string;
  queries?: Partial<QueryTemplates>;
  /** End-user id the canary sends; its requests are not a consumer's. */
  canaryUser?: string;
  timeoutMs?: number;
  /** Bearer token for Prometheus' HTTP API, resolved from the registry's secret reference. */
  bearerToken?: () => Promise<string>;
}

type Sample = { metric: Record<string, string>; value: [number, string] };
type Series = { metric: Record<string, string>; values: [number, string][] };

/**
 * The width, in ms, of the histogram bucket holding a p95 of `p95Ms`: `le` bounds in seconds, as
 * Prometheus names them. Beyond the last finite bound the p95 is only known to exceed it.
 */
export function bucketWidthMs(les: number[], p95Ms: number): number | undefined {
  const bounds = [...new Set(les.filter(Number.isFinite))].sort((a, b) => a - b).map((le) => le * 1000);
  if (bounds.length === 0) return undefined;
  const upper = bounds.findIndex((b) => b >= p95Ms);
  if (upper < 0) return p95Ms;
  return bounds[upper]! - (upper > 0 ? bounds[upper - 1]! : 0);
}

/** The first scrape time (ms) at or after `atMs` in a range query of scrape timestamps. */
export function firstScrapeAtOrAfter(series: Series[], atMs: number): number | undefined {
  const times = series.flatMap((s) => s.values.map(([, v]) => Number(v) * 1000));
  const after = times.filter((t) => Number.isFinite(t) && t >= atMs);
  return after.length ? Math.min(...after) : undefined;
}

export function createPrometheusTelemetry(opts: PrometheusTelemetryOptions): Telemetry {
  const q: QueryTemplates = { ...LITELLM_QUERIES, ...opts.queries };
  const canaryUser = opts.canaryUser ?? 'rekey-canary';

  let token: { value: string; until: number } | undefined;
  async function authorization(): Promise<Record<string, string>> {
    if (!opts.bearerToken) return {};
    if (!token || token.until <= Date.now())
      token = { value: await opts.bearerToken(), until: Date.now() + TOKEN_TTL_MS };
    return { authorization: `Bearer ${token.value}` };
  }
  async function api<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = `${opts.url.replace(/\/+$/, '')}/api/v1/${path}?${new URLSearchParams(params).toString()}`;
    const res = await fetch(url, {
      headers: await authorization(),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
    if (res.status === 401 || res.status === 403) {
      token = undefined;
      throw new Error(`Prometheus refused the query (${res.status}): check telemetry.bearer_token_secret`);
    }
    const body = (await res.json()) as { status: string; error?: string; data?: { result: T } };
    if (!res.ok || body.status !== 'success')
      throw new Error(`Prometheus query failed (${res.status}): ${body.error ?? 'unknown'}`);
    return body.data!.result;
  }
  const query = async (promql: string, atMs: number) =>
    (await api<Sample[] | undefined>('query', { query: promql, time: String(atMs / 1000) })) ?? [];

  /**
   * Each scrape time from `fromS` up to SCRAPE_SEARCH_S past `toS`, never past now: the query is
   * evaluated per second over every series of the metric, so a search into the future costs as much
   * as one into the past.
   */
  async function scrapesBetween(fromMs: number, toMs: number): Promise<Series[]> {
    const startS = Math.floor(fromMs / 1000);
    const endS = Math.max(
      startS,
      Math.min(Math.ceil(toMs / 1000) + SCRAPE_SEARCH_S, Math.ceil(Date.now() / 1000)),
    );
    return (
      (await api<Series[] | undefined>('query_range', {
        query: q.scrapeTime,
        start: String(startS),
        end: String(endS),
        step: '1',
      })) ?? []
    );
  }
  /**
   * A window's edges snapped to scrapes (the first at or after each edge); `complete` once a scrape
   * after its end exists. A hold window is short, so one search covers both edges.
   */
  async function edges(fromMs: number, toMs: number) {
    const [fromSeries, toSeries]: [Series[], Series[]] =
      toMs - fromMs <= SCRAPE_SEARCH_S * 1000
        ? await scrapesBetween(fromMs, toMs).then((s) => [s, s])
        : await Promise.all([scrapesBetween(fromMs, fromMs), scrapesBetween(toMs, toMs)]);
    const from = firstScrapeAtOrAfter(fromSeries, fromMs);
    const to = firstScrapeAtOrAfter(toSeries, toMs);
    if (to === undefined) return { fromMs, toMs, complete: false };
    return { fromMs: Math.min(from ?? fromMs, to), toMs: to, complete: true };
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
      const at = await edges(fromMs, toMs);
      const rangeS = (at.toMs - at.fromMs) / 1000;
      const [req, auth, limited, server, tokens, spend, latency, buckets, unattributed] = await Promise.all([
        delta(q.requests, fingerprint, at.fromMs, at.toMs),
        delta(q.authErrors, fingerprint, at.fromMs, at.toMs),
        delta(q.rateLimited, fingerprint, at.fromMs, at.toMs),
        delta(q.serverErrors, fingerprint, at.fromMs, at.toMs),
        delta(q.tokens, fingerprint, at.fromMs, at.toMs),
        delta(q.spend, fingerprint, at.fromMs, at.toMs),
        query(fill(q.p95LatencyMs, fingerprint, rangeS), at.toMs),
        query(fill(q.latencyBuckets, fingerprint, rangeS), at.toMs),
        delta(q.unattributedAuthErrors, fingerprint, at.fromMs, at.toMs),
      ]);
      const p95LatencyMs = Math.round(scalar(latency));
      const resolution = bucketWidthMs(
        buckets.map((b) => Number(b.metric.le)),
        p95LatencyMs,
      );
      return {
        fromMs,
        toMs,
        requests: req,
        authErrors: auth,
        rateLimited: limited,
        serverErrors: server,
        p95LatencyMs,
        tokens,
        spend: Math.round(spend * 1e6) / 1e6,
        ...(resolution === undefined ? {} : { latencyResolutionMs: Math.round(resolution) }),
        ...(at.complete ? {} : { complete: false }),
        // The key's own 401/403 are a lower bound: zero here is what makes its zero a proof.
        unattributed: { authErrors: unattributed },
      };
    },

    async usageByConsumer(
      credential: CredentialRef,
      { fingerprint }: TelemetryKey,
      fromMs: number,
      toMs: number,
    ) {
      const at = await edges(fromMs, toMs);
      // Before the scrape after the window, the last requests are not counted yet: an old key read
      // now could look drained while an app still uses it.
      if (!at.complete)
        throw new TelemetryLagging('Prometheus has not scraped the gateway since the window ended yet');
      return perConsumer(
        credential,
        await grouped(q.requestsByConsumer, 'end_user', fingerprint, at.fromMs, at.toMs),
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
