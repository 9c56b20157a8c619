// `make test`'s runner: the whole jest suite (jest.config.js's unit, workflows and integration projects)
// as parallel jest processes. The integration and workflow tests mostly wait (hold windows, scrape
// intervals, gateway propagation, timers), and one jest process on a 2-core machine runs one file at a
// time. The test files are split into shards, longest first onto the shard with the least so far, by
// the seconds recorded in test/harness/durations.json (a file missing there counts as the median), so
// that the shards end together. Each shard is one jest process; a shard with integration files starts
// its own harness (test/harness/global-setup.ts: a Temporal dev server, the reference Key Vault, moto and
// OpenBao on free ports), so no two shards share a server.
//
// Each process writes its output to <reports>/<name>.log and a --json report to <reports>/<name>.json;
// a log is printed whole when its process ends, and every five minutes a line says which still run.
// A process past --deadline-minutes is stopped, its log printed: a hang shows where it hangs.
// --record-durations writes the seconds each file took into durations.json (commit it when files move).
//
//   tsx scripts/test-suite.ts [--shards N] [--reports DIR] [--deadline-minutes M] [--record-durations]
//                             [-- <extra jest arguments>]
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { reapAbandonedRuns } from '../test/harness/global-setup';

const ROOT = path.resolve(__dirname, '..');
const DURATIONS_FILE = path.join(ROOT, 'test', 'harness', 'durations.json');
/** The directories of jest.config.js's projects: unit, workflows (time-skipping), integration (real servers). */
const TEST_DIRS = ['test/unit', 'test/workflows', 'test/integration'];

export interface SuiteOptions {
  shards: number;
  reports: string;
  deadlineMinutes: number;
  recordDurations: boolean;
  jestArgs: string[];
}

export function parseArgs(argv: string[]): SuiteOptions {
  const opts: SuiteOptions = {
    shards: Number(process.env.REKEY_TEST_SHARDS ?? 5),
    reports: path.join(ROOT, '.run', 'test-suite'),
    deadlineMinutes: 60,
    recordDurations: false,
    jestArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--') {
      opts.jestArgs = argv.slice(i + 1);
      break;
    } else if (arg === '--shards') opts.shards = Number(value());
    else if (arg === '--reports') opts.reports = path.resolve(value());
    else if (arg === '--deadline-minutes') opts.deadlineMinutes = Number(value());
    else if (arg === '--record-durations') opts.recordDurations = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(opts.shards) || opts.shards < 1)
    throw new Error('--shards must be a whole number ≥ 1');
  if (!(opts.deadlineMinutes > 0)) throw new Error('--deadline-minutes must be a positive number');
  return opts;
}

/** Test files under dir, as paths relative to the repository (the keys of durations.json). */
export function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(full));
    else if (entry.name.endsWith('.test.ts')) out.push(path.relative(ROOT, full));
  }
  return out.sort();
}

/**
 * Files into `count` shards, longest first onto the shard with the least so far (LPT), by the seconds
 * `durations` gives; a file it does not name counts as the median of those it does (60 s if none).
 */
export function assignShards(files: string[], durations: Record<string, number>, count: number): string[][] {
  const known = files.map((f) => durations[f]).filter((d): d is number => typeof d === 'number');
  known.sort((a, b) => a - b);
  const fallback = known.length ? known[Math.floor(known.length / 2)]! : 60;
  const weighted = files
    .map((file) => ({ file, seconds: durations[file] ?? fallback }))
    .sort((a, b) => b.seconds - a.seconds || a.file.localeCompare(b.file));
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], seconds: 0 }));
  for (const { file, seconds } of weighted) {
    const lightest = shards.reduce((min, s) => (s.seconds < min.seconds ? s : min));
    lightest.files.push(file);
    lightest.seconds += seconds;
  }
  return shards.map((s) => s.files.sort()).filter((s) => s.length > 0);
}

interface Run {
  name: string;
  files: number;
  args: string[];
  log: string;
  report: string;
}

interface Finished {
  run: Run;
  code: number | null;
  timedOut: boolean;
  seconds: number;
}

function startRun(run: Run, env: NodeJS.ProcessEnv): ChildProcess {
  const out = createWriteStream(run.log);
  // Its own process group, so that a deadline stops jest, its workers and every server they started.
  // On this Node (the one bootstrap installs), whatever `node` is first on PATH.
  const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), ...run.args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  child.on('close', () => out.end());
  return child;
}

// eslint-disable-next-line no-control-regex -- jest colours its output
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** How far a running process is: the files it has finished, and the last of them. */
function progress(file: string, of: number): string {
  if (!existsSync(file)) return `0 of ${of} files done`;
  const ends =
    readFileSync(file, 'utf8')
      .replace(ANSI_COLOUR, '')
      .match(/^(PASS|FAIL) .+$/gm) ?? [];
  // Jest's closing summary names each failed file again.
  const done = new Set(ends.map((line) => /\S+\.test\.ts/.exec(line)?.[0]));
  return `${done.size} of ${of} files done${ends.length ? `, last: ${ends.at(-1)!.slice(0, 140)}` : ''}`;
}

/** Seconds each test file took, from jest --json reports (testResults[].startTime/endTime, in ms). */
export function durationsFromReports(reports: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const file of reports) {
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      testResults: { name: string; startTime: number; endTime: number }[];
    };
    for (const t of r.testResults)
      out[path.relative(ROOT, t.name)] = Math.round((t.endTime - t.startTime) / 100) / 10;
  }
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  rmSync(opts.reports, { recursive: true, force: true });
  mkdirSync(opts.reports, { recursive: true });
  const durations = existsSync(DURATIONS_FILE)
    ? (JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>)
    : {};
  const runs: Run[] = [];
  const jestRun = (name: string, files: string[]): Run => {
    const report = path.join(opts.reports, `${name}.json`);
    return {
      name,
      files: files.length,
      // --forceExit: a test that leaves a handle open (a worker still polling) must not keep jest
      // from exiting once every file has run; the report says what passed.
      args: [
        '--ci',
        '--forceExit',
        '--runTestsByPath',
        ...files,
        '--json',
        `--outputFile=${report}`,
        ...opts.jestArgs,
      ],
      log: path.join(opts.reports, `${name}.log`),
      report,
    };
  };
  const files = TEST_DIRS.flatMap((dir) => testFiles(path.join(ROOT, dir)));
  const shards = assignShards(files, durations, opts.shards);
  shards.forEach((shard, i) => runs.push(jestRun(`shard-${i + 1}`, shard)));
  console.log(
    `[rekey test] ${files.length} test files in ${shards.length} jest processes ` +
      `(${shards.map((s) => s.length).join(' + ')} files); logs and reports in ${path.relative(ROOT, opts.reports)}/`,
  );

  const started = Date.now();
  const deadlineMs = opts.deadlineMinutes * 60_000;
  const children = new Map<string, ChildProcess>();
  const stopAll = () => {
    for (const child of children.values()) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('SIGINT', () => (stopAll(), process.exit(130)));
  process.on('SIGTERM', () => (stopAll(), process.exit(143)));

  const finished = await new Promise<Finished[]>((resolve) => {
    const done: Finished[] = [];
    const heartbeat = setInterval(() => {
      const minutes = ((Date.now() - started) / 60_000).toFixed(0);
      for (const run of runs)
        if (children.has(run.name))
          console.log(`[rekey test] ${minutes} min, ${run.name} running, ${progress(run.log, run.files)}`);
    }, 5 * 60_000);
    for (const run of runs) {
      const child = startRun(run, process.env);
      children.set(run.name, child);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGTERM');
          setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // gone
            }
          }, 15_000).unref();
        } catch {
          // gone
        }
      }, deadlineMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        children.delete(run.name);
        const result = { run, code, timedOut, seconds: Math.round((Date.now() - started) / 1000) };
        done.push(result);
        console.log(`\n[rekey test] ─── ${run.name}: ${verdict(result)} ───`);
        process.stdout.write(existsSync(run.log) ? readFileSync(run.log, 'utf8') : '(no output)\n');
        if (done.length === runs.length) {
          clearInterval(heartbeat);
          resolve(done);
        }
      });
    }
  });

  // A process stopped at its deadline had no global teardown: stop the servers its harness started.
  if (finished.some((f) => f.timedOut)) await reapAbandonedRuns();
  let failed = 0;
  console.log('\n[rekey test] summary');
  for (const f of finished.sort((a, b) => a.run.name.localeCompare(b.run.name))) {
    const ok = f.code === 0 && !f.timedOut && existsSync(f.run.report);
    if (!ok) failed++;
    console.log(`  ${f.run.name.padEnd(16)} ${verdict(f)}`);
  }
  if (opts.recordDurations) {
    const recorded = durationsFromReports(runs.map((r) => r.report));
    writeFileSync(DURATIONS_FILE, JSON.stringify(sortKeys({ ...durations, ...recorded }), null, 2) + '\n');
    console.log(
      `[rekey test] recorded ${Object.keys(recorded).length} durations in ${path.relative(ROOT, DURATIONS_FILE)}`,
    );
  }
  process.exit(failed ? 1 : 0);
}

function verdict(f: Finished): string {
  const state = f.timedOut ? 'stopped at the deadline' : f.code === 0 ? 'passed' : `failed (exit ${f.code})`;
  return `${state} after ${f.seconds} s`;
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[rekey test] ${(err as Error).message}`);
    process.exit(2);
  });
}
