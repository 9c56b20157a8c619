// bench/worker-process: the rotation worker alone in a process of its own, for benches that measure the
// worker and not what shares its process (bench/fleet.ts reads this process's RSS). Started by
// test/helpers/rotation-stack.ts with `workerProcess: true` as `node --import tsx bench/worker-process.ts
// <spec.json>`: the spec (WorkerProcessSpec) holds the stack's settings, registry YAML, secret-store
// environment, task queue and worker tuning, so the worker is the one the stack builds in its own
// process (createRotationWorker with the rotation's and the automation activities, as worker.ts main
// does). Not run by hand. It tells its parent over IPC once the worker is created ({ ready: true }) or
// why it could not be ({ error }); SIGTERM (the Temporal runtime's shutdown signal) drains it and it exits.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAutomationActivities } from '../activities/automation';
import { parseRegistry } from '../config/registry';
import type { WorkerProcessSpec } from '../test/helpers/rotation-stack';
import { buildActivityDeps, createRotationWorker } from '../worker';

/**
 * With REKEY_BENCH_WORKER_MEMORY_SECONDS set, a line every that many seconds on stderr: this process's
 * RSS and its main thread's V8 heap (the workflow thread's heap and the SDK's native core are the rest).
 */
function logMemory() {
  const every = Number(process.env.REKEY_BENCH_WORKER_MEMORY_SECONDS ?? 0);
  if (!(every > 0)) return;
  const mib = (n: number) => (n / 1024 / 1024).toFixed(0);
  setInterval(() => {
    const m = process.memoryUsage();
    console.error(
      `[worker-memory] rss=${mib(m.rss)} heap_total=${mib(m.heapTotal)} heap_used=${mib(m.heapUsed)} ` +
        `external=${mib(m.external)} array_buffers=${mib(m.arrayBuffers)}`,
    );
  }, every * 1000).unref();
}

async function main() {
  logMemory();
  const specFile = process.argv[2];
  if (!specFile) throw new Error('usage: worker-process.ts <spec.json>');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as WorkerProcessSpec;
  const registry = parseRegistry(spec.registryYaml, 'rotation stack registry');
  const deps = buildActivityDeps(spec.settings, { registry, env: spec.env });
  const { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace } = spec.settings;
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  try {
    const worker = await createRotationWorker({
      connection,
      namespace,
      taskQueue: spec.taskQueue,
      activities: {
        ...createActivities(deps),
        ...createAutomationActivities({
          ...deps,
          temporal: new Client({ connection: clientConnection, namespace }),
        }),
      },
      ...(spec.tuning ? { tuning: spec.tuning } : {}),
      ...(spec.workflowBundlePath ? { workflowBundle: { codePath: spec.workflowBundlePath } } : {}),
    });
    // A parent that goes away (killed, crashed) takes the worker with it rather than leaving it polling.
    process.once('disconnect', () => worker.shutdown());
    process.send?.({ ready: true });
    await worker.run();
  } finally {
    await connection.close();
    await clientConnection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.send?.({ error: (err as Error).message });
    process.exit(1);
  },
);
