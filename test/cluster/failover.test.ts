import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { REKEY_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import type { RotationStatus } from '../../workflows/messages';
import { restartCluster } from '../../scripts/cluster-stack';
import { CLUSTER_DIR, readClusterState } from '../../scripts/cluster-state';
import { waitFor } from '../../scripts/local-stack';
import type { AppTraffic } from '../../scripts/demo/app-traffic';
import { startRotationCluster, type ClusterApi, type RotationClusterStack } from './rotation-cluster';

// rekey as it is deployed, on a real Temporal cluster (Temporal Server on PostgreSQL, SQL visibility,
// brought up by global-setup.ts): two worker processes and two API processes, and what they must survive
// — a worker killed mid-hold, an API stopped mid-rotation, the cluster itself restarting with rotations
// in flight — checked by what users see: the phases through the API, the revoke gate's evidence, the old
// key refused at the gateway, and the workflow histories in Temporal.
jest.setTimeout(5 * 60_000);

const CREDENTIALS = {
  workerCrash: 'router-key-w',
  apiStop: 'router-key-a',
  visibility: 'router-key-v',
  restartHold: 'router-key-r',
  restartGate: 'router-key-g',
};
let stack: RotationClusterStack;
/** Rotations that completed in this run, for the visibility test. */
const completed: string[] = [];
/** Resolves when a failover test has ended, passed or failed: the visibility test lists what completed. */
const ended = { workerCrash: deferred(), apiStop: deferred() };

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

beforeAll(async () => {
  stack = await startRotationCluster(Object.values(CREDENTIALS));
}, 4 * 60_000);

afterAll(async () => {
  await stack?.close();
});

const workflowIdOf = (credential: string) => `rekey:${stack.environment}:${credential}`;

/** Every event of a rotation's history, with its time in ms and the identity of who took it, if any. */
async function historyOf(credential: string) {
  const history = await stack.client.workflow.getHandle(workflowIdOf(credential)).fetchHistory();
  return (history.events ?? []).map((e: temporal.api.history.v1.IHistoryEvent) => ({
    at: tsToMs(e.eventTime),
    identity:
      e.workflowTaskStartedEventAttributes?.identity ??
      e.workflowTaskCompletedEventAttributes?.identity ??
      e.activityTaskStartedEventAttributes?.identity ??
      undefined,
    workflowTaskStarted: !!e.workflowTaskStartedEventAttributes,
    activityTaskStarted: !!e.activityTaskStartedEventAttributes,
  }));
}

/** From the open revoke gate to COMPLETED: positive evidence, bob approves, the old key is refused. */
async function approveToCompleted(api: ClusterApi, id: string, app: AppTraffic): Promise<RotationStatus> {
  const gate = await stack.untilPhase(api, id, ['AWAITING_REVOKE_APPROVAL']);
  expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
  expect(gate.analysis).toMatchObject({ stage: 'hold', failed: 0 });
  const ack = await stack.decide(api, id, 'revoke');
  expect(ack).toMatchObject({ status: 200, body: { id, accepted: true, phase: 'AWAITING_REVOKE_APPROVAL' } });
  const done = await stack.untilPhase(api, id, ['COMPLETED']);
  expect(done.outcome).toBe('completed');
  expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
  // The gateway's own answer: the old key is refused, the new one (which the app now reads) works.
  const oldFp = done.fingerprints.old!;
  const newFp = done.fingerprints.new!;
  expect([401, 403]).toContain(await app.statusWith(oldFp, 'rekey-cluster-check'));
  expect(app.fingerprint).toBe(newFp);
  expect(await app.statusWith(newFp, 'rekey-cluster-check')).toBe(200);
  completed.push(id);
  return done;
}

// The first three run side by side (each rotation spends a minute in its hold): the API-stop test stops
// the first API process, the others use the second.
it.concurrent(
  'completes a rotation while the worker running it is killed with SIGKILL mid-hold: the other worker takes over',
  () => workerCrash().finally(ended.workerCrash.resolve),
);

it.concurrent(
  'completes a rotation while one API process is stopped: the other serves its status and the approval',
  () => apiStop().finally(ended.apiStop.resolve),
);

async function workerCrash() {
  const c = CREDENTIALS.workerCrash;
  const api = stack.apis[1]!;
  const app = await stack.startApp(c);
  const id = await stack.start(api, c, 'CHG-W1');
  await stack.until(
    api,
    id,
    (s) => s.phase === 'HOLDING' && s.checks.some((k) => k.name === 'new-key traffic'),
    'HOLDING with a judged window',
  );

  // The worker that completed the workflow's latest task holds it in its cache (and its sticky queue).
  const before = await historyOf(c);
  const lastTask = before.filter((e) => e.workflowTaskStarted).at(-1)!;
  const victim = stack.workerOf(lastTask.identity!);
  expect(victim).toBeDefined();
  const survivor = stack.workers.find((w) => w !== victim)!;
  // Killed between two hold checks: an activity it was running would wait out its start-to-close timeout.
  const handle = stack.client.workflow.getHandle(workflowIdOf(c));
  await waitFor(
    'no activity running',
    async () => (await handle.describe()).raw.pendingActivities?.length === 0,
    30_000,
  );
  const killedAt = Date.now();
  await victim!.kill();
  expect(victim!.running()).toBe(false);

  const done = await approveToCompleted(api, id, app);
  // The hold went on after the kill: windows were judged on both sides of it.
  const windows = done.checks.filter((k) => k.name === 'new-key traffic').map((k) => Date.parse(k.at));
  expect(windows.some((t) => t < killedAt)).toBe(true);
  expect(windows.some((t) => t > killedAt)).toBe(true);
  // Every workflow and activity task after the kill was taken by the surviving worker process.
  const after = (await historyOf(c)).filter((e) => e.at > killedAt && e.identity);
  expect(after.filter((e) => e.workflowTaskStarted).length).toBeGreaterThan(0);
  expect(after.filter((e) => e.activityTaskStarted).length).toBeGreaterThan(0);
  expect(new Set(after.map((e) => stack.workerOf(e.identity!)?.name))).toEqual(new Set([survivor.name]));

  // Two workers again for what follows.
  await victim!.restart();
  await app.stop();
}

async function apiStop() {
  const c = CREDENTIALS.apiStop;
  const [first, second] = stack.apis as [ClusterApi, ClusterApi];
  const app = await stack.startApp(c);
  const id = await stack.start(first, c, 'CHG-A1');
  await stack.untilPhase(first, id, ['HOLDING']);

  await first.stop();
  expect(first.running()).toBe(false);
  await expect(fetch(`${first.url}/readyz`)).rejects.toThrow();
  // Status reads and the approval go to the second API process, against the same cluster.
  const holding = await stack.untilPhase(second, id, ['HOLDING']);
  expect(holding.fingerprints.new).toBeDefined();
  await approveToCompleted(second, id, app);

  // Back up, the first API reads the finished rotation from its close event, like the second.
  await first.restart();
  for (const api of [first, second]) {
    const res = await stack.call(api, 'GET', `/v1/rotations/${encodeURIComponent(id)}`, 'dave');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ id, phase: 'COMPLETED', outcome: 'completed', status: 'COMPLETED' });
  }
  await app.stop();
}

it.concurrent("lists and filters rotations by rekey's search attributes on SQL visibility", async () => {
  const c = CREDENTIALS.visibility;
  const api = stack.apis[1]!;
  const env = stack.environment;
  // Registered as Keyword on the cluster's namespace.
  const { customAttributes } = await stack.client.connection.operatorService.listSearchAttributes({
    namespace: stack.cluster.namespace,
  });
  for (const key of REKEY_SEARCH_ATTRIBUTES) expect(customAttributes?.[key.name]).toBe(2 /* KEYWORD */);

  const app = await stack.startApp(c);
  const id = await stack.start(api, c, 'CHG-V1', { flipApproval: true });
  await stack.untilPhase(api, id, ['AWAITING_FLIP_APPROVAL']);
  type Row = {
    id: string;
    phase: string | null;
    outcome: string | null;
    status: string;
    requestedBy: string;
  };
  const list = async (query: string) => {
    const res = await stack.call(api, 'GET', `/v1/rotations?environment=${env}&${query}`, 'dave');
    expect(res.status).toBe(200);
    return res.json<{ rotations: Row[] }>().rotations;
  };
  // Visibility follows the workflow's upserts a moment later.
  const eventually = async (query: string, expected: string[]) => {
    let rows: Row[] = [];
    await waitFor(
      `GET /v1/rotations?${query}`,
      async () => {
        rows = await list(query);
        return JSON.stringify(rows.map((r) => r.id).sort()) === JSON.stringify([...expected].sort());
      },
      20_000,
    ).catch(() => expect(rows.map((r) => r.id).sort()).toEqual([...expected].sort()));
    return rows;
  };

  const parked = await eventually('phase=AWAITING_FLIP_APPROVAL', [id]);
  expect(parked[0]).toMatchObject({ status: 'RUNNING', outcome: null, requestedBy: 'alice@cluster' });
  expect(await eventually(`credential=${c}`, [id])).toHaveLength(1);
  // The rotations of the two failover tests, once they have ended.
  await Promise.all([ended.workerCrash.promise, ended.apiStop.promise]);
  const done = await eventually('outcome=completed', completed);
  for (const row of done) expect(row).toMatchObject({ phase: 'COMPLETED', status: 'COMPLETED' });
  expect(await eventually('phase=COMPLETED', completed)).toHaveLength(completed.length);
  // Filters combine: nothing of this credential has completed.
  expect(await list(`credential=${c}&outcome=completed`)).toEqual([]);

  // A rejected flip rolls back: the replacement key is revoked, the old one stays current.
  expect(await stack.decide(api, id, 'flip', 'reject')).toMatchObject({ status: 200 });
  await stack.untilPhase(api, id, ['ROLLED_BACK']);
  const rolledBack = await eventually('outcome=rolled_back', [id]);
  expect(rolledBack[0]).toMatchObject({ phase: 'ROLLED_BACK', outcome: 'rolled_back' });
  expect(await eventually(`phase=AWAITING_FLIP_APPROVAL`, [])).toEqual([]);
  await app.stop();
});

it('completes rotations in flight across a crash of Temporal Server and a restart of PostgreSQL', async () => {
  const hold = CREDENTIALS.restartHold;
  const gate = CREDENTIALS.restartGate;
  const api = stack.apis[0]!;
  const apps = { hold: await stack.startApp(hold), gate: await stack.startApp(gate) };
  const holdId = await stack.start(api, hold, 'CHG-R1');
  const gateId = await stack.start(api, gate, 'CHG-R2', { flipApproval: true });
  await stack.untilPhase(api, gateId, ['AWAITING_FLIP_APPROVAL']);
  await stack.until(
    api,
    holdId,
    (s) => s.phase === 'HOLDING' && s.checks.some((k) => k.name === 'new-key traffic'),
    'HOLDING with a judged window',
  );
  const runIds = await Promise.all(
    [hold, gate].map(async (c) => (await stack.client.workflow.getHandle(workflowIdOf(c)).describe()).runId),
  );

  const serverBefore = readClusterState(CLUSTER_DIR)!.temporalPid;
  const restartedAt = Date.now();
  const { downMs } = await restartCluster(CLUSTER_DIR, { kill: true, postgres: true });
  expect(readClusterState(CLUSTER_DIR)!.temporalPid).not.toBe(serverBefore);
  expect(downMs).toBeLessThan(60_000);

  // The workers and the APIs reconnect by themselves; the gate's approval is served after the restart.
  let ack: { status: number; body: unknown } = { status: 0, body: null };
  await waitFor(
    'the flip approval after the restart',
    async () => (ack = await stack.decide(api, gateId, 'flip')).status === 200,
    90_000,
  ).catch(() => expect(ack).toMatchObject({ status: 200 }));
  const [holdDone] = await Promise.all([
    approveToCompleted(api, holdId, apps.hold),
    approveToCompleted(stack.apis[1]!, gateId, apps.gate),
  ]);
  // The hold that was in flight went on in the same run, with windows judged after the restart.
  const windows = holdDone.checks.filter((k) => k.name === 'new-key traffic').map((k) => Date.parse(k.at));
  expect(windows.some((t) => t > restartedAt)).toBe(true);
  const runIdsAfter = await Promise.all(
    [hold, gate].map(async (c) => (await stack.client.workflow.getHandle(workflowIdOf(c)).describe()).runId),
  );
  expect(runIdsAfter).toEqual(runIds);
  // Neither worker nor API process gave up during the outage.
  for (const p of [...stack.workers, ...stack.apis])
    expect({ name: p.name, running: p.running() }).toEqual({ name: p.name, running: true });
  for (const a of Object.values(apps)) await a.stop();
});
