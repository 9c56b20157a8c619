// bench/long-hold: a 30-day hold with 1-minute checks, then a day at the revoke gate with 1-minute
// reminders, on the time-skipping server with the fake activities of the workflow tests. Prints the
// largest run (events, bytes), the number of runs, wall time, the worker's peak RSS and the wall-clock
// cost of a hold check early and late in the hold. Not a test: it asserts nothing, it measures.
//   npx tsx bench/long-hold.ts [--days 30] [--gate-hours 24]
// Targets (issue #12): at most 10,240 events per run; a late check costs at most 1.5x an early one.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { approveUpdate } from '../workflows/messages';
import type { rotation } from '../workflows/rotation';
import { rotationStartOptions } from '../workflows/start-options';
import { createRotationWorker } from '../worker';
import { runChain } from '../test/helpers/histories';
import { createTimeSkippingEnv } from '../test/helpers/time-skipping';
import { FakeWorld } from '../test/workflows/fake-world';
import { APPROVER, rotationResult, seedInput, workflowBundle } from '../test/workflows/rotation-harness';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const DAYS = arg('days', 30);
const GATE_HOURS = arg('gate-hours', 24);
const MINUTE = 60_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

async function main() {
  const env = await createTimeSkippingEnv();
  const world = new FakeWorld();
  const activities = world.activities();
  // Wall-clock time of every hold window read: the gaps between them are what one check costs.
  const checkTimes: number[] = [];
  const observe = activities.observeHoldWindow.bind(activities);
  activities.observeHoldWindow = async (input) => {
    checkTimes.push(performance.now());
    return observe(input);
  };
  let reminders = 0;
  const gateReminders = GATE_HOURS * 60;
  // The policy caps the observation window at 7 days; the bench sets the workflow input directly.
  const input = {
    ...seedInput(() => {}, `CHG-BENCH-${randomUUID().slice(0, 8)}`),
    observationWindowMs: DAYS * 24 * 60 * MINUTE,
    maxHoldMs: (DAYS + 1) * 24 * 60 * MINUTE,
    checkIntervalMs: MINUTE,
    approvalReminderMs: MINUTE,
  };
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createRotationWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  const started = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
  const result = await worker.runUntil(async () => {
    const start = rotationStartOptions(input, taskQueue);
    const handle = await env.client.workflow.start<typeof rotation>('rotation', {
      ...start,
      workflowId: `${start.workflowId}-${randomUUID()}`,
    });
    // The approval arrives with the last reminder of the gate wait.
    world.onNotify = async (event) => {
      if (event !== 'approval-timeout' || ++reminders !== gateReminders) return;
      await handle.executeUpdate(approveUpdate, {
        args: [{ ...APPROVER, gate: 'revoke', comment: 'bench' }],
      });
    };
    const status = await rotationResult(handle);
    return { status, handle };
  });
  const wallS = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);

  const runs = await runChain(env.client, result.handle.workflowId, result.handle.firstExecutionRunId);
  const sizes = runs.map((h) => ({
    events: h.events?.length ?? 0,
    bytes: Buffer.byteLength(historyToJSON(h)),
  }));
  const gaps = checkTimes.slice(1).map((t, i) => t - checkTimes[i]!);
  const window = Math.min(500, Math.floor(gaps.length / 4));
  const early = median(gaps.slice(10, 10 + window));
  const late = median(gaps.slice(-window));
  const maxEvents = Math.max(...sizes.map((s) => s.events));
  const maxBytes = Math.max(...sizes.map((s) => s.bytes));
  await env.teardown();

  const s = result.status;
  console.log(`rotation ${s.outcome} after ${s.hold?.totals.checks} hold checks and ${reminders} reminders`);
  console.log(`runs: ${runs.length} (continue-as-new ${runs.length - 1} times)`);
  console.log(
    `largest run: ${maxEvents} events, ${(maxBytes / 1024).toFixed(0)} KiB (target <= 10240 events)`,
  );
  console.log(`all runs: ${sizes.reduce((n, r) => n + r.events, 0)} events`);
  console.log(
    `timeline entries kept: ${s.timeline.length}; omitted: ${JSON.stringify(s.timelineOmitted ?? {})}`,
  );
  console.log(`wall time: ${wallS.toFixed(1)} s; worker peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  console.log(
    `hold check cost: early ${early.toFixed(2)} ms, late ${late.toFixed(2)} ms (median of ${window} each; target late <= 1.5x early)`,
  );
  console.log(
    `long-hold: max_events_per_run=${maxEvents} max_bytes_per_run=${maxBytes} runs=${runs.length} late_to_early_check_cost=${(late / early).toFixed(2)} peak_rss_mb=${(peakRss / 2 ** 20).toFixed(0)}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
