// Drives rotation workflows on the time-skipping server with fake activities, through the same updates
// and signals users send. Every history a scenario produces is scanned for the world's key strings and,
// with REKEY_RECORD_HISTORIES=1, saved under test/histories/ for the replay test.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  ApplicationFailure,
  CancelledFailure,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { parse } from 'yaml';
import {
  rotationPolicySchema,
  toRotationInput,
  type RotationInput,
  type RotationPolicy,
} from '../../domain/policy';
import {
  OUTCOME_FAILURE_TYPES,
  statusQuery,
  type Actor,
  type Phase,
  type RotationStatus,
} from '../../workflows/messages';
import type { rotation } from '../../workflows/rotation';
import { WORKFLOW_BUNDLE_ENV } from '../harness/harness-state';
import { quietBundlerLogger } from '../harness/workflow-bundle';
import { rotationStartOptions } from '../../workflows/start-options';
import { createRotationWorker } from '../../worker';
import { runChain } from '../helpers/histories';
import type { FakeWorld } from './fake-world';

/** Recorded histories, one folder per released version of rekey's workflow code. */
export const HISTORIES_ROOT = path.join(__dirname, '..', 'histories');
/** The version being developed: package.json's, whose folder `npm run test:record-histories` writes. */
export const WORKFLOW_VERSION = (
  JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
).version;
export const HISTORY_DIR = path.join(HISTORIES_ROOT, WORKFLOW_VERSION);

export const REQUESTER: Actor = { principal: 'alice@example.com', roles: ['requester'] };
export const APPROVER: Actor = { principal: 'bob@example.com', roles: ['approver'] };
export const OPERATOR: Actor = { principal: 'carol@example.com', roles: ['operator'] };
export const VIEWER: Actor = { principal: 'dave@example.com', roles: ['viewer'] };

/** The seed's policy template, parsed as the API will, with a scenario's changes applied. */
export function seedInput(
  change: (p: RotationPolicy['rotation']) => void = () => {},
  ticket = 'CHG-1001',
): RotationInput {
  const raw = parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
    rotation: Record<string, unknown>;
  };
  const policy = rotationPolicySchema.parse(raw);
  change(policy.rotation);
  return toRotationInput(policy, REQUESTER.principal, ticket);
}

let bundle: Promise<{ code: string }> | undefined;
/** The workflow bundle: the one global setup built for the run, or else one built once per test file. */
export function workflowBundle(): Promise<{ code: string }> {
  const prebuilt = process.env[WORKFLOW_BUNDLE_ENV];
  bundle ??= prebuilt
    ? Promise.resolve({ code: readFileSync(prebuilt, 'utf8') })
    : bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietBundlerLogger });
  return bundle;
}

export type RotationHandle = WorkflowHandle<typeof rotation>;

/** Result of a scenario: the final status and the serialized history (already scanned for keys). */
export interface ScenarioResult {
  status: RotationStatus;
  /** The last run's history; `runs` has every run's, first to last. */
  historyJson: string;
  runs: string[];
  handle: RotationHandle;
}

/** The workers of scenarios run in this file (teardownEnv stops those a timed-out test left running). */
const scenarioWorkers = new Set<Worker>();

/**
 * Stops the workers of scenarios still running, then the environment. A test that timed out leaves its
 * scenario's worker polling a server that teardown stops: its gRPC retries then flood the log and
 * break the next test file in the same jest worker ("Channel has been shut down").
 */
export async function teardownEnv(env: TestWorkflowEnvironment | undefined): Promise<void> {
  const running = [...scenarioWorkers].filter((w) => w.getState() === 'RUNNING');
  for (const worker of running) worker.shutdown();
  const deadline = Date.now() + 10_000;
  while (running.some((w) => !['STOPPED', 'FAILED'].includes(w.getState())) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  scenarioWorkers.clear();
  await env?.teardown();
}

/**
 * Runs one rotation with the world's fake activities; `drive` plays the humans. The history is scanned
 * for every key string of the world and recorded under `name` when REKEY_RECORD_HISTORIES=1.
 */
export async function runScenario(
  env: TestWorkflowEnvironment,
  world: FakeWorld,
  input: RotationInput,
  name: string,
  drive: (h: RotationHandle) => Promise<void> = async () => {},
): Promise<ScenarioResult> {
  const taskQueue = `rotation-${randomUUID()}`;
  const worker = await createRotationWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: world.activities(),
  });
  scenarioWorkers.add(worker);
  return worker.runUntil(async () => {
    const start = rotationStartOptions(input, taskQueue);
    // Scenarios share one server: a unique suffix keeps them from joining each other's runs.
    const handle = await env.client.workflow.start<typeof rotation>('rotation', {
      ...start,
      workflowId: `${start.workflowId}-${randomUUID()}`,
    });
    try {
      await drive(handle);
    } catch (err) {
      // A run left waiting would keep scheduling timers and activities on a queue nobody polls,
      // which stalls time skipping for every later test sharing the server.
      await handle.terminate('test scenario failed').catch(() => undefined);
      throw err;
    }
    const status = await rotationResult(handle);
    // Every run: a rotation that continued as new has one history per run.
    const runs = (await runChain(env.client, handle.workflowId, handle.firstExecutionRunId)).map((h) =>
      historyToJSON(h),
    );
    for (const run of runs) assertNoKeyMaterial(run, world);
    if (process.env.REKEY_RECORD_HISTORIES === '1') {
      mkdirSync(HISTORY_DIR, { recursive: true });
      // Of a rotation that continued as new: its first run, the first continued one, and the last two
      // (the runs in between are alike, and each carries the whole status).
      const keep = new Set([0, 1, runs.length - 2, runs.length - 1].filter((i) => i >= 0));
      runs.forEach((run, i) => {
        if (keep.has(i))
          writeFileSync(path.join(HISTORY_DIR, `${name}${runs.length > 1 ? `.run${i + 1}` : ''}.json`), run);
      });
    }
    return { status, historyJson: runs.at(-1)!, runs, handle };
  });
}

/**
 * The final status of a finished rotation: a completed one returns it; one that did not rotate ends
 * with a typed failure (RotationRolledBack, RotationAborted, RotationFailed) that carries it.
 */
export async function rotationResult(handle: RotationHandle): Promise<RotationStatus> {
  try {
    return await handle.result();
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    if (
      cause instanceof ApplicationFailure &&
      Object.values(OUTCOME_FAILURE_TYPES).includes(cause.type as never)
    ) {
      return cause.details?.[0] as RotationStatus;
    }
    // A cancelled rotation ends cancelled; its final status is still there to query.
    if (cause instanceof CancelledFailure) return handle.query(statusQuery);
    throw err;
  }
}

/** The history as text with every payload decoded (payload `data` is base64 in history JSON). */
export function decodedHistoryText(historyJson: string): string {
  const parts: string[] = [];
  const walk = (value: unknown, key?: string): void => {
    if (typeof value === 'string') {
      parts.push(value);
      if (key === 'data') parts.push(Buffer.from(value, 'base64').toString('utf8'));
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(JSON.parse(historyJson));
  return parts.join('\n');
}

/** Fails when any key string of the world appears in a history, raw or inside a decoded payload. */
export function assertNoKeyMaterial(historyJson: string, world: FakeWorld): void {
  const text = decodedHistoryText(historyJson);
  for (const secret of world.secrets()) {
    if (text.includes(secret))
      throw new Error(`key material ${secret.slice(0, 14)}… found in workflow history`);
  }
}

/**
 * The status query, once the latest run has settled (its run id and history length unchanged for a
 * moment). On the time-skipping server a query that reaches a run just as it continues as new goes
 * unanswered and leaves time skipping locked; with time held, a settled run cannot hand over.
 */
export async function queryStatus(
  env: TestWorkflowEnvironment,
  handle: RotationHandle,
): Promise<RotationStatus> {
  const deadline = Date.now() + 10_000;
  let seen = '';
  for (;;) {
    const d = await handle.describe();
    const now = `${d.runId}/${d.historyLength}`;
    if (now === seen || d.status.name !== 'RUNNING' || Date.now() > deadline) break;
    seen = now;
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle.query(statusQuery);
}

/**
 * Waits until the rotation's status satisfies `pred`, letting the worker catch up in real time and
 * skipping `step` of workflow time between looks. Returns the status that satisfied it.
 */
export async function until(
  env: TestWorkflowEnvironment,
  handle: RotationHandle,
  pred: (s: RotationStatus) => boolean,
  { step = '1 minute', maxSkips = 400 }: { step?: string | number; maxSkips?: number } = {},
): Promise<RotationStatus> {
  let last: RotationStatus | undefined;
  for (let skips = 0; skips <= maxSkips;) {
    for (let look = 0; look < 4; look++) {
      if (process.env.DEBUG_UNTIL) process.stderr.write(`Q ${skips} ${look} ${Date.now()}\n`);
      last = await queryStatus(env, handle);
      if (process.env.DEBUG_UNTIL) process.stderr.write(`A ${last.phase} run ${last.run} ${Date.now()}\n`);
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (process.env.DEBUG_UNTIL) process.stderr.write(`S ${skips} ${Date.now()}\n`);
    await env.sleep(step);
    skips += 1;
  }
  throw new Error(
    `condition not reached; last phase ${last?.phase}, timeline: ${JSON.stringify(last?.timeline.slice(-5))}`,
  );
}

/**
 * Waits until the run has closed. After a cancel request the time-skipping server's result() long poll
 * can miss the close, so a test that cancels waits here before the result is asked for: in real time
 * first (the rollback needs no timers), then skipping a minute at a time should a timer be pending.
 */
export async function untilClosed(
  env: TestWorkflowEnvironment,
  handle: RotationHandle,
  timeoutMs = 60_000,
): Promise<void> {
  const started = Date.now();
  while ((await handle.describe()).status.name === 'RUNNING') {
    if (Date.now() - started > timeoutMs) {
      const s = await handle.query(statusQuery);
      throw new Error(
        `run still open after ${timeoutMs} ms in ${s.phase}: ${JSON.stringify(s.timeline.slice(-6))} ${JSON.stringify(s.pendingGate)}`,
      );
    }
    if (Date.now() - started > 5_000) await env.sleep('1 minute');
    else await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the rotation is in `phase`. */
export function untilPhase(
  env: TestWorkflowEnvironment,
  handle: RotationHandle,
  phase: Phase,
  opts?: { step?: string | number; maxSkips?: number },
): Promise<RotationStatus> {
  return until(env, handle, (s) => s.phase === phase, opts);
}
