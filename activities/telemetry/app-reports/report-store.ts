// The app-reports store: one JSONL file per credential per UTC day under REKEY_APP_REPORTS_DIR, shared by
// API and worker (the report schema and the port are in domain/usage-reports.ts).
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type {
  AppReportStore,
  ReportCredential,
  StoredReport,
  UsageReport,
} from '../../../domain/usage-reports';
import { MAX_REPORT_SPAN_MS, OverlappingReport } from '../../../domain/usage-reports';

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const overlaps = (a: UsageReport, fromMs: number, toMs: number) =>
  Date.parse(a.from) < toMs && fromMs < Date.parse(a.to);
const sameSeries = (a: UsageReport, b: UsageReport) =>
  a.consumer === b.consumer && a.instance === b.instance && a.key_fingerprint === b.key_fingerprint;
/** The report's own fields, for telling a retry from a different report. */
const figures = ({ principal: _p, receivedAt: _r, ...report }: StoredReport) => JSON.stringify(report);

export function createAppReportStore(dir: string): AppReportStore {
  const fileOf = (c: ReportCredential, day: string) => path.join(dir, c.environment, c.name, `${day}.jsonl`);
  // One writer per file at a time in this process, so the overlap check and the append are atomic here.
  const queues = new Map<string, Promise<unknown>>();
  const serially = <T>(key: string, run: () => Promise<T>): Promise<T> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(run, run);
    queues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  };

  async function readDay(c: ReportCredential, day: string): Promise<StoredReport[]> {
    let text: string;
    try {
      text = await readFile(fileOf(c, day), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    // A line cut short by a crash mid-append is skipped, not fatal: the reports before it still count.
    return text.split('\n').flatMap((line) => {
      if (!line.trim()) return [];
      try {
        return [JSON.parse(line) as StoredReport];
      } catch {
        return [];
      }
    });
  }

  async function read(c: ReportCredential, fromMs: number, toMs: number): Promise<StoredReport[]> {
    // Reports are filed by the day they start, so one that ends in the window may start a day earlier.
    const days = new Set<string>();
    for (let t = fromMs - MAX_REPORT_SPAN_MS; t < toMs + DAY_MS; t += DAY_MS)
      days.add(dayOf(Math.min(t, toMs)));
    const all = (await Promise.all([...days].map((d) => readDay(c, d)))).flat();
    return all.filter((r) => overlaps(r, fromMs, toMs));
  }

  return {
    read,
    append: (c, report) =>
      serially(`${c.environment}/${c.name}`, async () => {
        const fromMs = Date.parse(report.from);
        const clash = (await read(c, fromMs, Date.parse(report.to))).filter((r) => sameSeries(r, report));
        if (clash.length === 1 && figures(clash[0]!) === figures(report)) return 'duplicate';
        if (clash.length > 0) {
          throw new OverlappingReport(
            `${report.consumer}/${report.instance} already reported ${report.key_fingerprint} for ${clash[0]!.from}..${clash[0]!.to}, which overlaps ${report.from}..${report.to}`,
          );
        }
        const file = fileOf(c, dayOf(fromMs));
        await mkdir(path.dirname(file), { recursive: true });
        await appendFile(file, `${JSON.stringify(report)}\n`, 'utf8');
        return 'stored';
      }),
  };
}
