// Per-key usage from LiteLLM's own spend log (GET /spend/logs), for gateways without Prometheus.
// Rows carry the key's SHA-256 (`api_key`), the end user, tokens, spend and success/failure; calls
// refused before routing (401/403/429 at the proxy) are not logged there, so those figures read zero:
// use the Prometheus adapter where auth errors and rate limits must be watched.
//
// How LiteLLM reads the query, and what this adapter does about it:
// - `start_date`/`end_date` are days, and `end_date` is `startTime <= end_date 00:00 UTC`: a window
//   ending today asks for `end_date` = tomorrow, and rows are cut to the window here.
// - `api_key=<sha256 hex>` selects the key's rows; without it a busy proxy hits the cap.
// - The answer holds at most the 10,000 newest rows and says so in `x-litellm-spend-logs-truncated`:
//   a truncated answer whose oldest row is newer than the window's start has lost rows of the window,
//   so it is an error, never a smaller count.
// - Rows are written in batches (`proxy_batch_write_at`, 10 s by default, often 60 s): a window is
//   complete only once the log holds a row newer than its end plus the lag margin.
// - A failed call's row has an empty `api_key`: the key's own failures are only a lower bound, so each
//   window also counts the log's key-less failures (`unattributed.serverErrors`), an unfiltered read.
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import type { CredentialRef, WindowMetrics } from '../../../domain/activity-io';
import { fingerprintHex } from '../../../domain/fingerprint';
import { adminCall, type AdminHttpOptions } from '../../gateway/admin-http';
import { observing } from '../capabilities';
import { TelemetryLagging } from '../lag';
import { attributionFrom, perConsumer } from '../summaries';

export interface SpendLogRow {
  api_key: string;
  /** The key's user_id (LiteLLM writes `""` when the key has none); not the caller. */
  user?: string;
  /** The caller's `user` field: the consumer. LiteLLM writes `"None"` or `""` when unset. */
  end_user?: string | null;
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

/** The header LiteLLM sets when it cut the answer at its row cap. */
export const TRUNCATED_HEADER = 'x-litellm-spend-logs-truncated';
/** Default lag margin: how far past a window's end the log must reach before the window is judged. */
export const DEFAULT_SPEND_LOG_LAG_S = 5;
const DAY_MS = 24 * 3600_000;

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

/** The query LiteLLM needs for rows starting in [fromMs, toMs): whole days, `end_date` exclusive. */
export function spendLogQuery(fromMs: number, toMs: number, apiKeyHash?: string): string {
  const q = new URLSearchParams({
    start_date: day(fromMs),
    // `end_date` is read as that day's 00:00 UTC, so the day after the window's last instant.
    end_date: day(Math.max(fromMs, toMs - 1) + DAY_MS),
    summarize: 'false',
  });
  if (apiKeyHash) q.set('api_key', apiKeyHash);
  return q.toString();
}

/** The consumer a row belongs to: its end user; `"None"`, `""` and null are unattributed. */
export function consumerOf(r: Pick<SpendLogRow, 'end_user'>): string {
  const u = r.end_user?.trim() ?? '';
  return u === '' || u === 'None' ? '' : u;
}

/**
 * The SHA-256 hex LiteLLM's rows carry for a key: its gateway key id (LiteLLM's `token`) when that is
 * the hash the fingerprint prefixes; undefined when rekey does not know it (a key rotated by hand),
 * and the log is then read unfiltered (the row cap guard still applies).
 */
export function keyHash(key: TelemetryKey): string | undefined {
  const id = key.gatewayKeyId;
  const hex = fingerprintHex(key.fingerprint);
  return id && /^[0-9a-f]{64}$/.test(id) && id.startsWith(hex) ? id : undefined;
}

/** Rows of a truncated answer still cover [fromMs, …) when its oldest row started before fromMs. */
export function coversWindow(rows: SpendLogRow[], fromMs: number): boolean {
  return rows.some((r) => Date.parse(r.startTime) < fromMs);
}

export interface SpendLogTelemetryOptions extends AdminHttpOptions {
  canaryUser?: string;
  /** Lag margin in seconds (registry `telemetry.lag_seconds`). */
  lagSeconds?: number;
  now?: () => number;
}

export function createLiteLlmSpendLogTelemetry(opts: SpendLogTelemetryOptions): Telemetry {
  const canaryUser = opts.canaryUser ?? 'rekey-canary';
  const lagMs = (opts.lagSeconds ?? DEFAULT_SPEND_LOG_LAG_S) * 1000;
  const now = opts.now ?? Date.now;

  async function read(query: string): Promise<{ rows: SpendLogRow[]; truncated: boolean }> {
    const res = await adminCall<SpendLogRow[] | null>(opts, 'GET', `/spend/logs?${query}`);
    if (res.status === 404) return { rows: [], truncated: false };
    const rows = (Array.isArray(res.body) ? res.body : []).filter((r): r is SpendLogRow => !!r);
    return { rows, truncated: res.headers?.get(TRUNCATED_HEADER) === 'true' };
  }

  /** Rows of [from, to) for the key hash given, or of every key; a cut answer is an error, not fewer. */
  async function windowRows(fromMs: number, toMs: number, apiKeyHash?: string): Promise<SpendLogRow[]> {
    const found = await read(spendLogQuery(fromMs, toMs, apiKeyHash));
    if (found.truncated && !coversWindow(found.rows, fromMs)) {
      throw new Error(
        `the spend log answered its row cap (${TRUNCATED_HEADER}) without reaching the window's start; will look again`,
      );
    }
    return found.rows.filter((r) => {
      const t = Date.parse(r.startTime);
      return t >= fromMs && t < toMs;
    });
  }

  /** The key's rows whose start lies in [from, to). */
  async function rows(key: TelemetryKey, fromMs: number, toMs: number): Promise<SpendLogRow[]> {
    const hex = fingerprintHex(key.fingerprint);
    return (await windowRows(fromMs, toMs, keyHash(key))).filter((r) => r.api_key.startsWith(hex));
  }

  /** Server errors of [from, to) whose rows name no key: any of them may be this key's. */
  async function unattributedServerErrors(fromMs: number, toMs: number): Promise<number> {
    return (await windowRows(fromMs, toMs)).filter((r) => !r.api_key && serverError(r)).length;
  }

  /**
   * Whether the log has caught up with a window ending at toMs: it holds a row (of any key, the
   * newest rows survive the cap) starting at or after toMs + the lag margin.
   */
  async function caughtUp(toMs: number): Promise<boolean> {
    const edge = toMs + lagMs;
    const { rows: newest } = await read(spendLogQuery(edge, Math.max(edge + 1, now() + 1)));
    return newest.some((r) => Date.parse(r.startTime) >= edge);
  }

  /** Consumer counts are only as good as the window: an incomplete one is not "0 requests". */
  async function completeRows(key: TelemetryKey, fromMs: number, toMs: number) {
    const [found, complete] = await Promise.all([rows(key, fromMs, toMs), caughtUp(toMs)]);
    if (!complete) {
      throw new TelemetryLagging(
        `the spend log has not caught up with the window yet (no row ${lagMs / 1000}s past its end); will look again`,
      );
    }
    return found;
  }

  return {
    // Refused calls never reach the spend log: 401/403 and 429 read zero here, so they are unobservable.
    source: () => ({
      name: 'litellm-spend-logs',
      capabilities: observing(['requests', 'serverErrors', 'latency', 'tokens', 'spend', 'perConsumer']),
    }),

    async window(
      _credential: CredentialRef,
      key: TelemetryKey,
      fromMs: number,
      toMs: number,
    ): Promise<WindowMetrics> {
      const [found, complete, unattributed] = await Promise.all([
        rows(key, fromMs, toMs),
        caughtUp(toMs),
        unattributedServerErrors(fromMs, toMs),
      ]);
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
        ...(complete ? {} : { complete: false }),
        unattributed: { serverErrors: unattributed },
      };
    },

    async usageByConsumer(credential: CredentialRef, key: TelemetryKey, fromMs: number, toMs: number) {
      const found = await completeRows(key, fromMs, toMs);
      return perConsumer(
        credential,
        found.map((r) => ({ group: consumerOf(r), count: 1 })),
        canaryUser,
      );
    },

    async attribution(_credential: CredentialRef, key: TelemetryKey, expectedOwner: string) {
      const at = now();
      const found = await rows(key, at - DAY_MS, at + 1);
      const teams = found.map((r) => ({ group: r.metadata?.user_api_key_team_id ?? '', count: 1 }));
      return attributionFrom(teams, expectedOwner);
    },
  };
}
