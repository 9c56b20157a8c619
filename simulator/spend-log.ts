// The reference gateway's spend log as LiteLLM keeps it: rows are queued per request and written in
// batches (`proxy_batch_write_at`, LiteLLM's default 10 s), so a row is readable only after the next
// flush; GET /spend/logs answers at most the newest `rowCap` rows and says when it cut them.
import type { GatewayState, SpendLogRow } from './state';

export interface SpendLogSettings {
  /** Flush interval of the batch writer; 0 writes each row at once. */
  batchMs: number;
  /** Rows a /spend/logs answer holds at most (LiteLLM: 10,000); the rest are cut, newest kept. */
  rowCap: number;
}

/** LiteLLM's `PROXY_BATCH_WRITE_AT` default, in ms; the standalone gateway starts with it. */
export const LITELLM_BATCH_WRITE_MS = 10_000;
export const LITELLM_SPEND_LOG_ROW_CAP = 10_000;

interface SpendLog extends SpendLogSettings {
  /** Rows waiting for the next flush, with when they were queued. */
  pending: { row: SpendLogRow; at: number }[];
  /** The batch writer's last tick; ticks follow every batchMs after it. */
  lastFlush: number;
}

const logs = new WeakMap<GatewayState, SpendLog>();

function logOf(state: GatewayState): SpendLog {
  let log = logs.get(state);
  if (!log) {
    log = { batchMs: 0, rowCap: LITELLM_SPEND_LOG_ROW_CAP, pending: [], lastFlush: state.now() };
    logs.set(state, log);
  }
  return log;
}

/** Writes the rows queued before the batch writer's latest tick into `state.spendLogs`. */
export function flushSpendLog(state: GatewayState): void {
  const log = logOf(state);
  const now = state.now();
  if (log.batchMs > 0) {
    const ticks = Math.floor((now - log.lastFlush) / log.batchMs);
    if (ticks < 1) return;
    log.lastFlush += ticks * log.batchMs;
  } else {
    log.lastFlush = now;
  }
  const due = log.pending.filter((p) => p.at <= log.lastFlush);
  log.pending = log.pending.filter((p) => p.at > log.lastFlush);
  state.spendLogs.push(...due.map((p) => p.row));
}

/**
 * Changes the batch interval or row cap. The writer's schedule restarts now, as a restarted proxy's
 * would: what is queued is written at the next tick of the new interval.
 */
export function configureSpendLog(state: GatewayState, settings: Partial<SpendLogSettings>): void {
  flushSpendLog(state);
  const log = logOf(state);
  Object.assign(log, settings);
  log.lastFlush = state.now();
  flushSpendLog(state);
}

/** Queues a request's row for the batch writer. */
export function recordSpendRow(state: GatewayState, row: SpendLogRow): void {
  logOf(state).pending.push({ row, at: state.now() });
  flushSpendLog(state);
}

export interface SpendLogQuery {
  api_key?: string;
  request_id?: string;
  user_id?: string;
  start_date?: string;
  end_date?: string;
}

/**
 * Rows as LiteLLM's /spend/logs selects them: `start_date <= startTime <= end_date` with both read as
 * midnight UTC (so `end_date=<today>` finds nothing of today), an exact `api_key` hash, the newest
 * `rowCap` rows at most (oldest first), and whether rows were cut.
 */
export function selectSpendRows(
  state: GatewayState,
  q: SpendLogQuery,
  apiKey: string | undefined,
): { rows: SpendLogRow[]; truncated: boolean } {
  flushSpendLog(state);
  const midnight = (d: string) => Date.parse(`${d.slice(0, 10)}T00:00:00Z`);
  const from = q.start_date ? midnight(q.start_date) : -Infinity;
  const to = q.end_date ? midnight(q.end_date) : Infinity;
  const matching = state.spendLogs.filter((r) => {
    const t = Date.parse(r.startTime);
    return (
      (apiKey === undefined || r.api_key === apiKey) &&
      (q.request_id === undefined || r.request_id === q.request_id) &&
      (q.user_id === undefined || r.user === q.user_id) &&
      t >= from &&
      t <= to
    );
  });
  const cap = logOf(state).rowCap;
  return { rows: matching.slice(Math.max(0, matching.length - cap)), truncated: matching.length > cap };
}
