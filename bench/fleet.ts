// bench/fleet: one fleet rotation of N credentials on one worker, on the real stack the integration tests
// use (Temporal dev server, reference gateway, Key Vault, Prometheus, the API), with the worker in a
// process of its own (rotation-stack `workerProcess`, bench/worker-process.ts) so that its memory is
// measured alone. Each credential has an app calling the gateway on its key and a short rotation_policy
// (1-minute hold, 15-second checks by default, no drain, no flip approval); carol (operator) starts one
// fleet through POST /v1/fleets (selector owner=platform-ai,tag=bench-fleet, approval fleet), the bench
// polls GET /v1/fleets/:id and, once every unfinished member waits at AWAITING_REVOKE_APPROVAL, bob
// (approver, not the requester) approves the revoke gate for the fleet, once; then it waits for the fleet
// to finish. Every second it samples the worker's VmRSS and VmHWM (/proc/<pid>/status) and the gateway's
// admin calls (every route but inference, /metrics, /health and /sim/). Not a test: it measures.
//   npx tsx bench/fleet.ts [--n 200] [--concurrency 100] [--starts-per-minute 0] [--poll-seconds 5]
//     [--rpm 100] [--min-requests 20] [--check-interval-minutes 0.25] [--timeout-minutes 30]
//     [--prebuilt-bundle] [--worker-node-args "--max-old-space-size=384 --max-semi-space-size=2"]
//     [--max-cached-workflows N] [--reuse-v8-context true|false] [--max-workflow-tasks N] [--max-activities N]
// --concurrency defaults to min(n, 100), the API's limit (a member waiting at a gate holds no slot, so
// all n still reach the revoke gate). --rpm is each app's pace: min_requests per check needs at least
// min_requests / check-interval-minutes a minute (80 for 20 every 15 s). --prebuilt-bundle writes the
// bundle in this process (worker.ts writeWorkflowBundle, REKEY_WORKFLOW_BUNDLE_FILE in production) and
// hands the worker the file: no webpack in the worker. --worker-node-args are the worker process's Node
// options (NODE_OPTIONS in production). The other knobs are worker.ts WorkerTuning (REKEY_WORKER_*);
// unset, the SDK's defaults. Members refused at the gate by their own validator (no positive evidence)
// are not waited for and count as failed, as do failed and skipped members.
// The worker prints its main thread's V8 heap every 5 s (REKEY_BENCH_WORKER_MEMORY_SECONDS).
// Last line: `fleet: n=200 completed=… failed=… wall_s=… peak_worker_rss_mb=…` (peak: the worker's VmHWM).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fleetApprovalReadiness, type FleetMember } from '../domain/fleet';
import { applyNodeExtraCaCerts } from '../scripts/local-stack';
import globalSetup from '../test/harness/global-setup';
import globalTeardown from '../test/harness/global-teardown';
import {
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../test/helpers/rotation-stack';
import { writeWorkflowBundle, type WorkerTuning } from '../worker';

const argOf = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const num = (name: string, fallback: number) => Number(argOf(name) ?? fallback);
const optNum = (name: string) => (argOf(name) === undefined ? undefined : Number(argOf(name)));
const N = num('n', 200);
const CONCURRENCY = num('concurrency', Math.min(N, 100));
const STARTS_PER_MINUTE = num('starts-per-minute', 0);
const POLL_SECONDS = num('poll-seconds', 5);
const RPM = num('rpm', 100);
const MIN_REQUESTS = num('min-requests', 20);
const CHECK_MINUTES = num('check-interval-minutes', 0.25);
const TIMEOUT_MS = num('timeout-minutes', 30) * 60_000;
const PREBUILT_BUNDLE = process.argv.includes('--prebuilt-bundle');
const WORKER_NODE_ARGS = (argOf('worker-node-args') ?? '').split(' ').filter(Boolean);
const reuse = argOf('reuse-v8-context');
const TUNING: WorkerTuning = {
  ...(optNum('max-cached-workflows') !== undefined
    ? { maxCachedWorkflows: optNum('max-cached-workflows')! }
    : {}),
  ...(reuse !== undefined ? { reuseV8Context: reuse === 'true' } : {}),
  ...(optNum('max-workflow-tasks') !== undefined
    ? { maxConcurrentWorkflowTaskExecutions: optNum('max-workflow-tasks')! }
    : {}),
  ...(optNum('max-activities') !== undefined
    ? { maxConcurrentActivityTaskExecutions: optNum('max-activities')! }
    : {}),
};

// The owner is the gateway team the stack's keys belong to (platform-ai), so the usage-owner check
// passes on evidence; the tag picks the bench's credentials.
const OWNER = 'platform-ai';
const TAG = 'bench-fleet';
const POLICY = {
  change_ticket: { rollback_owner: 'carol@example.com' },
  allowed_routes: ['chat-completions', 'responses'],
  pre_checks: { inventory_confirmed: true },
  cutover: {
    observation_window_minutes: Math.max(1, CHECK_MINUTES),
    check_interval_minutes: CHECK_MINUTES,
    drain_window_minutes: 0,
  },
  thresholds: { min_requests: MIN_REQUESTS },
  approvals: { flip_approval_required: false },
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** VmRSS and VmHWM (the kernel's high-water mark) of a process, in bytes; undefined once it is gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}

/** User plus system CPU seconds of a process (clock ticks of /proc/<pid>/stat, 100 a second). */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Inference, scrapes, health and the simulator's own controls; every other gateway route is admin. */
const NOT_ADMIN =
  /^[A-Z]+ (\/v1\/(chat\/completions|embeddings|responses|models)|\/metrics|\/health|\/sim\/)/;
const adminCalls = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([route]) => !NOT_ADMIN.test(route))
    .reduce((sum, [, n]) => sum + n, 0);
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0),
  );

interface FleetView {
  status: string;
  finished: boolean;
  counts: { total: number; byState: Record<string, number>; byPhase: Record<string, number> };
  members: FleetMember[];
}

/** The worker's own memory lines (bench/worker-process.ts), the one with the largest RSS. */
function largestMemoryLine(logLines: string[]): string | undefined {
  let best: { rss: number; line: string } | undefined;
  for (const chunk of logLines) {
    for (const m of chunk.matchAll(/\[worker-memory\] (rss=(\d+)[^\n]*)/g)) {
      if (!best || Number(m[2]) > best.rss) best = { rss: Number(m[2]), line: m[1]! };
    }
  }
  return best?.line;
}

/** Set by SIGINT or SIGTERM: the bench stops waiting and cleans up (stack, harness servers). */
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: stopping`);
    interrupted = true;
  });
}

async function main() {
  // The worker reports its main thread's V8 heap every few seconds (bench/worker-process.ts).
  process.env.REKEY_BENCH_WORKER_MEMORY_SECONDS ??= '5';
  await globalSetup();
  // The harness set the CA bundle of its Key Vault after this process started: trust it now.
  applyNodeExtraCaCerts();

  const run = randomBytes(3).toString('hex');
  const credentials: StackCredential[] = Array.from({ length: N }, (_, i) => ({
    name: `bench-fleet-${String(i).padStart(3, '0')}-${run}`,
    environment: 'bench',
    ticket: `CHG-F${i}${run}`,
    adapter: 'litellm',
  }));
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-fleet-'));
  let bundlePath: string | undefined;
  if (PREBUILT_BUNDLE) {
    bundlePath = path.join(dir, 'workflow-bundle.js');
    await writeWorkflowBundle(bundlePath);
  }

  const t0 = performance.now();
  let stack: RotationStack | undefined;
  const apps: StackApp[] = [];
  const samples: { at: number; rss: number; admin: number }[] = [];
  let hwm = 0;
  let sampler: NodeJS.Timeout | undefined;
  const result = {
    completed: 0,
    failed: 0,
    skipped: 0,
    /** Left at the revoke gate: their validator refused the fleet's approve. */
    stuck: 0,
    wallS: NaN,
    approvedAtS: NaN,
    readyRss: NaN,
    workerCpuS: NaN,
  };
  let failures: FleetMember[] = [];
  let memoryLine: string | undefined;
  const fleetAdmin: Record<string, number> = {};
  try {
    stack = await startRotationStack(credentials, {
      registryFields: () => ({ owner: OWNER, tags: [TAG], rotation_policy: POLICY }),
      workerProcess: true,
      workerNodeArgs: WORKER_NODE_ARGS,
      workerTuning: TUNING,
      ...(bundlePath ? { workflowBundlePath: bundlePath } : {}),
    });
    const s = stack;
    const pid = s.workerPid!;
    result.readyRss = memoryOf(pid)?.rss ?? NaN;
    const readyHwm = memoryOf(pid)?.hwm ?? NaN;
    console.log(
      `stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s; worker pid ${pid}: ` +
        `rss ${(result.readyRss / MiB).toFixed(0)} MiB, hwm ${(readyHwm / MiB).toFixed(0)} MiB after Worker.create ` +
        `(${bundlePath ? 'prebuilt bundle' : 'bundled in the worker'}); tuning ${JSON.stringify(TUNING)}`,
    );

    // Apps on every key, on the old key a while before the fleet starts (the baseline sees them).
    for (let i = 0; i < credentials.length; i += 20) {
      apps.push(
        ...(await Promise.all(
          credentials.slice(i, i + 20).map((c) => s.startApp(c, { requestsPerMinute: RPM })),
        )),
      );
    }
    await sleep(10_000);

    const cpuBefore = cpuSecondsOf(pid) ?? NaN;
    const before = s.gatewayRequests();
    const started = performance.now();
    sampler = setInterval(() => {
      const m = memoryOf(pid);
      if (!m) return;
      hwm = Math.max(hwm, m.hwm);
      samples.push({ at: performance.now(), rss: m.rss, admin: adminCalls(s.gatewayRequests()) });
    }, 1000);

    const fleetId = `bench-${run}`;
    const res = await s.call(
      'POST',
      '/v1/fleets',
      'carol',
      JSON.stringify({
        id: fleetId,
        selector: { owner: OWNER, tag: TAG },
        reason: `bench: fleet rotation of ${N} credentials`,
        approval: 'fleet',
        concurrency: CONCURRENCY,
        startsPerMinute: STARTS_PER_MINUTE,
        pollSeconds: POLL_SECONDS,
      }),
      { 'content-type': 'application/json' },
    );
    if (res.statusCode !== 201) throw new Error(`POST /v1/fleets answered ${res.statusCode}: ${res.body}`);

    let approved = false;
    // Members whose own validator refused the fleet's approve (e.g. a hold without positive evidence):
    // they stay at the gate for a person with --accept-risk; the bench does not wait for them.
    const refusedAtGate = new Set<string>();
    let lastLine = '';
    let fleet: FleetView | undefined;
    for (;;) {
      const got = await s.call('GET', `/v1/fleets/${fleetId}`, 'dave');
      if (got.statusCode === 200) {
        fleet = got.json<FleetView>();
        const elapsed = (performance.now() - started) / 1000;
        const phases = Object.entries(fleet.counts.byPhase)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([p, n]) => `${p}=${n}`)
          .join(' ');
        if (phases !== lastLine) {
          const rss = samples.at(-1)?.rss ?? 0;
          console.log(`${elapsed.toFixed(0).padStart(5)} s  rss ${(rss / MiB).toFixed(0)} MiB  ${phases}`);
          lastLine = phases;
        }
        if (fleet.status !== 'RUNNING') break;
        const open = fleet.members.filter((x) => !['completed', 'failed', 'skipped'].includes(x.state));
        if (approved && open.length > 0 && open.every((x) => refusedAtGate.has(x.rotationId))) {
          console.log(`${open.length} members refused the fleet's approve and wait at the gate: not waiting`);
          result.stuck = open.length;
          break;
        }
        const ready = fleetApprovalReadiness(fleet.members, 'revoke');
        if (!approved && ready.ready) {
          const a = await s.call(
            'POST',
            `/v1/fleets/${fleetId}/approvals`,
            'bob',
            JSON.stringify({ gate: 'revoke', comment: 'bench: every member passed its hold' }),
            { 'content-type': 'application/json' },
          );
          const record =
            a.statusCode === 200
              ? a.json<{ accepted: string[]; refused: { rotationId: string; why: string }[] }>()
              : undefined;
          for (const r of record?.refused ?? []) refusedAtGate.add(r.rotationId);
          for (const r of record?.refused.slice(0, 3) ?? [])
            console.log(`refused: ${r.rotationId}: ${r.why}`);
          console.log(
            `revoke approved for the fleet by bob: ${a.statusCode} accepted=${record?.accepted.length ?? 0} ` +
              `refused=${record?.refused.length ?? 0}${record ? '' : ` ${a.body.slice(0, 300)}`}`,
          );
          // 400: every member refused (each refusal is still recorded on the fleet, so the bench tries
          // once: a retry would only grow the fleet's status); 409: not ready after all, try again.
          if (a.statusCode === 400) for (const id of ready.rotationIds) refusedAtGate.add(id);
          if (a.statusCode === 200 || a.statusCode === 400) {
            approved = true;
            result.approvedAtS = (performance.now() - started) / 1000;
          }
        }
      } else {
        console.log(`GET /v1/fleets/${fleetId}: ${got.statusCode} ${got.body.slice(0, 200)}`);
      }
      if (interrupted) break;
      if (performance.now() - started > TIMEOUT_MS) {
        console.log(`timed out after ${TIMEOUT_MS / 60_000} minutes`);
        break;
      }
      await sleep(2000);
    }
    result.wallS = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const m = memoryOf(pid);
    if (m) hwm = Math.max(hwm, m.hwm);
    result.workerCpuS = (cpuSecondsOf(pid) ?? NaN) - cpuBefore;
    Object.assign(fleetAdmin, diff(s.gatewayRequests(), before));
    memoryLine = largestMemoryLine(s.logLines);
    if (fleet) {
      result.completed = fleet.counts.byState.completed ?? 0;
      result.failed = fleet.counts.byState.failed ?? 0;
      result.skipped = fleet.counts.byState.skipped ?? 0;
      failures = fleet.members.filter((x) => x.state === 'failed' || x.state === 'skipped');
    }
  } finally {
    if (sampler) clearInterval(sampler);
    await Promise.allSettled(apps.map((a) => a.stop()));
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
    await globalTeardown();
  }

  for (const f of failures.slice(0, 20)) console.log(`failed: ${f.credential} ${f.state} ${f.why ?? ''}`);
  // Admin calls per second over the fleet, and in the busiest second.
  const admin = adminCalls(fleetAdmin);
  let peakPerS = 0;
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i]!.at - samples[i - 1]!.at) / 1000;
    peakPerS = Math.max(peakPerS, (samples[i]!.admin - samples[i - 1]!.admin) / dt);
  }
  const peakSampled = Math.max(0, ...samples.map((x) => x.rss));
  console.log(
    `gateway admin calls during the fleet: ${admin} (${Object.entries(fleetAdmin)
      .filter(([r]) => !NOT_ADMIN.test(r))
      .map(([r, n]) => `${r}=${n}`)
      .join(', ')})`,
  );
  console.log(
    `worker: rss_after_create_mb=${(result.readyRss / MiB).toFixed(0)} peak_sampled_rss_mb=${(peakSampled / MiB).toFixed(0)} ` +
      `vm_hwm_mb=${(hwm / MiB).toFixed(0)} cpu_s=${result.workerCpuS.toFixed(1)} tuning=${JSON.stringify(TUNING)} ` +
      `bundle=${PREBUILT_BUNDLE ? 'prebuilt' : 'in-worker'} node_args=${JSON.stringify(WORKER_NODE_ARGS)}`,
  );
  if (memoryLine) console.log(`worker at its largest sampled RSS (MiB): ${memoryLine}`);
  console.log(
    `concurrency=${CONCURRENCY} starts_per_minute=${STARTS_PER_MINUTE} rpm=${RPM} min_requests=${MIN_REQUESTS} ` +
      `check_interval_minutes=${CHECK_MINUTES} ` +
      `revoke_approved_at_s=${result.approvedAtS.toFixed(1)} skipped=${result.skipped} ` +
      `refused_at_gate=${result.stuck} ` +
      `admin_calls_per_s=${(admin / result.wallS).toFixed(2)} peak_admin_calls_per_s=${peakPerS.toFixed(0)}`,
  );
  console.log(
    `fleet: n=${N} completed=${result.completed} failed=${result.failed + result.skipped + result.stuck} ` +
      `wall_s=${result.wallS.toFixed(1)} ` +
      `peak_worker_rss_mb=${(hwm / MiB).toFixed(0)}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
