// Per-key usage from LiteLLM's own spend log (GET /spend/logs), for gateways without Prometheus.
// Rows carry the key's SHA-256 (`api_key`), the end user, tokens, spend and success/failure; calls
// refused before routing (401/403/429 at the proxy) are not logged there, so those figures read zero:
// use the Prometheus adapter where auth errors and rate limits must be watched.
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import type { CredentialRef, WindowMetrics } from '../../../domain/activity-io';
import { fingerprintHex } from '../../../domain/fingerprint';
import { adminCall, type AdminHttpOptions } from '../../gateway/admin-http';
import { observing } from '../capabilities';
import { attributionFrom, perConsumer } from '../summaries';

interface SpendLogRow {
  api_key: string;
  user?: string;
  spend?: number;
  total_tokens?: number;
  startTime: string;
  endTime?: string;
  status?: string;
  metadata?: {
    user_api_key_team_id?: string | null;
    status_code?: number | string;
    error_information?: { error_code?: number | string | null } | null;
  };
}

/**
 * Whether a row is a server error. A failed row whose status is known and below 500 (a 429, a 403 on a
 * model, a budget 400) is the caller's problem, not the gateway's; one without a status counts, so no
 * 5xx is hidden.
 */
function serverError(r: SpendLogRow): boolean {
  if (r.status !== 'failure') return false;
  const code = Number(r.metadata?.status_code ?? r.metadata?.error_information?.error_code ?? NaN);
  return !(code < 500);
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function createLiteLlmSpendLogTelemetry(opts: AdminHttpOptions & { canaryUser?: string }): Telemetry {
  const canaryUser = opts.canaryUser ?? 'rekey-canary';
  /** The key's rows whose start lies in [from, to). */
  async function rows(fingerprint: string, fromMs: number, toMs: number): Promise<SpendLogRow[]> {
    const q = `start_date=${day(fromMs)}&end_date=${day(toMs)}&summarize=false`;
    const res = await adminCall<SpendLogRow[]>(opts, 'GET', `/spend/logs?${q}`);
    const hex = fingerprintHex(fingerprint);
    return (res.status === 404 ? [] : res.body).filter((r) => {
      const t = Date.parse(r.startTime);
      return r.api_key.startsWith(hex) && t >= fromMs && t < toMs;
    });
  }
  return {
    // Refused calls never reach the spend log: 401/403 and 429 read zero here, so they are unobservable.
    source: () => ({
      name: 'litellm-spend-logs',
      capabilities: observing(['requests', 'serverErrors', 'latency', 'tokens', 'spend', 'perConsumer']),
    }),

    async window(
      _credential: CredentialRef,
      { fingerprint }: TelemetryKey,
      fromMs: number,
      toMs: number,
    ): Promise<WindowMetrics> {
      const found = await rows(fingerprint, fromMs, toMs);
      const durations = found
        .map((r) => (r.endTime ? Date.parse(r.endTime) - Date.parse(r.startTime) : 0))
        .sort((a, b) => a - b);
      return {
        fromMs,
        toMs,
        requests: found.length,
        authErrors: 0,
        rateLimited: 0,
        serverErrors: found.filter(serverError).length,
        p95LatencyMs: durations.length
          ? durations[Math.min(durations.length - 1, Math.floor(durations.length * 0.95))]!
          : 0,
        tokens: found.reduce((n, r) => n + (r.total_tokens ?? 0), 0),
        spend: Math.round(found.reduce((n, r) => n + (r.spend ?? 0), 0) * 1e6) / 1e6,
      };
    },

    async usageByConsumer(
      credential: CredentialRef,
      { fingerprint }: TelemetryKey,
      fromMs: number,
      toMs: number,
    ) {
      const found = await rows(fingerprint, fromMs, toMs);
      return perConsumer(
        credential,
        found.map((r) => ({ group: r.user ?? '', count: 1 })),
        canaryUser,
      );
    },

    async attribution(_credential: CredentialRef, { fingerprint }: TelemetryKey, expectedOwner: string) {
      const now = Date.now();
      const found = await rows(fingerprint, now - 24 * 3600_000, now + 1);
      const teams = found.map((r) => ({ group: r.metadata?.user_api_key_team_id ?? '', count: 1 }));
      return attributionFrom(teams, expectedOwner);
    },
  };
}
