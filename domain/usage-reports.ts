// App-reported usage: the report apps POST (schema and meaning) and the store port. The API takes reports
// (api/routes/usage-reports.ts); the file store (activities/telemetry/app-reports/report-store.ts) keeps
// them and the worker's app-reports telemetry reads them back. Reports carry fingerprints, never keys.
import { z } from 'zod';
import { IDENTIFIER } from './policy';

/** The longest window one report may cover: longer spans would blur a hold window's figures. */
export const MAX_REPORT_SPAN_MS = 10 * 60_000;
/** A report may end this far in the reporter's future (clock skew), no further. */
const MAX_CLOCK_SKEW_MS = 60_000;

const count = z.number().int().min(0);

/** The body apps POST, as types only (a malformed body is a 400); `reportProblem` checks the meaning. */
export const usageReportSchema = z.strictObject({
  consumer: z.string().min(1).max(120).describe('the registry consumer (app) reporting; must be the caller'),
  instance: z.string().regex(IDENTIFIER).max(120).describe('which replica of the app reports'),
  key_fingerprint: z
    .string()
    .max(80)
    .describe("rekey's fingerprint of the key used: sha256:<12 hex>, never the key"),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  requests: count,
  errors: z.strictObject({ auth: count, server: count, rate_limited: count }),
  latency_p95_ms: z.number().min(0).optional(),
});
export type UsageReport = z.infer<typeof usageReportSchema>;

/** A report as stored: who sent it and when it arrived. */
export interface StoredReport extends UsageReport {
  principal: string;
  receivedAt: string;
}

const FINGERPRINT = /^sha256:[0-9a-f]{12}$/;

/** Why a well-typed report cannot be taken (a 422), or undefined. */
export function reportProblem(r: UsageReport, nowMs: number): string | undefined {
  if (!FINGERPRINT.test(r.key_fingerprint)) {
    return "key_fingerprint must be rekey's fingerprint form sha256:<12 lowercase hex> (the first 12 hex of the key's SHA-256), never the key";
  }
  const from = Date.parse(r.from);
  const to = Date.parse(r.to);
  if (to <= from) return 'to must be after from';
  if (to - from > MAX_REPORT_SPAN_MS)
    return `a report covers at most ${MAX_REPORT_SPAN_MS / 60_000} minutes (from..to)`;
  if (to > nowMs + MAX_CLOCK_SKEW_MS) return 'to lies in the future: report windows that have ended';
  const errors = r.errors.auth + r.errors.server + r.errors.rate_limited;
  if (errors > r.requests) return `errors (${errors}) exceed requests (${r.requests})`;
  return undefined;
}

/** Which credential reports are about. */
export interface ReportCredential {
  environment: string;
  name: string;
}

/** The outcome of storing a report: new, or the same report sent again (a retry). */
export type AppendResult = 'stored' | 'duplicate';

/** A report overlapping one already stored for the same consumer, instance and key. */
export class OverlappingReport extends Error {
  override readonly name = 'OverlappingReport';
}

export interface AppReportStore {
  append(credential: ReportCredential, report: StoredReport): Promise<AppendResult>;
  /** Every report of the credential whose span overlaps [fromMs, toMs], any consumer and key. */
  read(credential: ReportCredential, fromMs: number, toMs: number): Promise<StoredReport[]>;
}
