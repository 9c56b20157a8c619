// The rotation worker: runs the rotation workflow and its activities on the configured task queue.
// Production wiring builds real adapters from config and injects them into createActivities(deps);
// tests call createRotationWorker with their own connection and activities.
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps, type RotationActivities } from './activities';
import { loadSettings, type Settings } from './config';

/** Options for one rotation worker; exactly one of workflowsPath (default) or a prebuilt bundle. */
export interface RotationWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RotationActivities;
  workflowBundle?: WorkflowBundleOption;
}

/** Creates a worker for the rotation workflow with the given activities. */
export function createRotationWorker(opts: RotationWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
  });
}

/**
 * Builds the production adapters from settings. The Key Vault secret store, the gateway adapters and
 * telemetry, and the evidence store and notifier land with their own work; until they do, the worker
 * refuses to start rather than run rotations against nothing.
 */
export function buildActivityDeps(_settings: Settings): ActivityDeps {
  throw new Error(
    'rekey worker: production adapters are not wired yet (Key Vault secret store, gateway admin + canary, telemetry, evidence store, notifier)',
  );
}

/** Entry point: `npm run worker`. */
export async function main(): Promise<void> {
  const settings = loadSettings();
  const deps = buildActivityDeps(settings);
  const connection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
  try {
    const worker = await createRotationWorker({
      connection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue: settings.REKEY_TASK_QUEUE,
      activities: createActivities(deps),
    });
    // SIGINT/SIGTERM make the SDK drain in-flight tasks and resolve run().
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[rekey] ${(err as Error).message}`);
    process.exit(1);
  });
}
