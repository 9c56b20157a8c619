// The fleet workflow (workflows/fleet.ts) on the dev server, with stand-in rotations
// (fixtures/fleet-workflows.ts) and the real fleetMemberStates activity reading them through Temporal:
// at most `concurrency` members work at once, a member waiting for a person holds no slot (so every
// member reaches its gate), one failure is recorded and the rest go on, a credential whose rotation
// already runs is skipped, and the fleet completes with a summary listing the failures.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAutomationActivities } from '../../activities/automation';
import type { ActivityDeps } from '../../activities/deps';
import { fleetTicketId, fleetWorkflowId, type FleetMember } from '../../domain/fleet';
import type { RotationInput } from '../../domain/policy';
import { rotationSearchAttributes } from '../../workflows/rotation-labels';
import {
  fleetApprovalRecorded,
  fleetStatusQuery,
  type FleetArgs,
  type FleetMemberInput,
  type FleetStatus,
  type FleetSummary,
} from '../../workflows/fleet';
import { waitFor } from '../../scripts/local-stack';
import { createDevServerEnv } from '../helpers/time-skipping';
import { runChain } from '../helpers/histories';
import { HISTORY_DIR, seedInput } from './rotation-harness';

jest.setTimeout(3 * 60_000);

const TASK_QUEUE = 'fleet-workflows';
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  env = await createDevServerEnv();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('./fixtures/fleet-workflows'),
    // The real activity, reading the stand-ins through the server; it needs no other port.
    activities: createAutomationActivities({ temporal: env.client } as unknown as ActivityDeps & {
      temporal: TestWorkflowEnvironment['client'];
    }),
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

/** A fleet of stand-ins: owners[i] picks member i's behaviour (see the fixture). */
function fleetArgs(owners: string[], extra: Partial<FleetArgs> = {}): FleetArgs {
  const fleetId = `f${randomBytes(3).toString('hex')}`;
  const ticketId = fleetTicketId(fleetId);
  const base = seedInput(undefined, ticketId);
  const inputs: FleetMemberInput[] = owners.map((owner, i) => {
    const credential = `${fleetId}-cred-${i}`;
    return {
      ...base,
      owner,
      credential,
      rotationId: `${base.environment}:${credential}:${ticketId}`,
    };
  });
  return {
    fleetId,
    requestedBy: 'carol@example.com',
    reason: 'offboarding test',
    selector: { owner: 'platform-ai' },
    approval: 'fleet',
    concurrency: 3,
    startsPerMinute: 0,
    pollSeconds: 1,
    inputs,
    ...extra,
  };
}

const start = (args: FleetArgs) =>
  env.client.workflow.start('fleetRotation', {
    taskQueue: TASK_QUEUE,
    workflowId: fleetWorkflowId(args.fleetId),
    args: [args],
  });

/**
 * With REKEY_RECORD_HISTORIES=1, the finished fleet's histories (one per run) for the replay test: the
 * fleet workflow is the real one; its children's histories are their own.
 */
async function record(handle: Awaited<ReturnType<typeof start>>, name: string) {
  if (process.env.REKEY_RECORD_HISTORIES !== '1') return;
  const runs = await runChain(env.client, handle.workflowId, handle.firstExecutionRunId);
  mkdirSync(HISTORY_DIR, { recursive: true });
  runs.forEach((h, i) =>
    writeFileSync(
      path.join(HISTORY_DIR, `${name}${runs.length > 1 ? `.run${i + 1}` : ''}.json`),
      historyToJSON(h),
    ),
  );
}

/** Samples the fleet's status every 200 ms until it finishes; answers every sample. */
async function sample(handle: Awaited<ReturnType<typeof start>>): Promise<FleetStatus[]> {
  const seen: FleetStatus[] = [];
  for (;;) {
    const s = await handle.query(fleetStatusQuery);
    seen.push(s);
    if (s.finished) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const working = (m: FleetMember) => m.state === 'running' && m.phase !== 'AWAITING_REVOKE_APPROVAL';

describe('fleetRotation', () => {
  it('keeps at most `concurrency` members working, isolates the one that fails, and completes with a summary', async () => {
    const owners = Array.from({ length: 10 }, (_, i) => (i === 4 ? 'stub-fail' : 'platform-ai'));
    const args = fleetArgs(owners);
    const handle = await start(args);
    const samples = await sample(handle);
    const summary = (await handle.result()) as FleetSummary;
    await record(handle, 'fleet-one-failure');

    const peak = Math.max(...samples.map((s) => s.members.filter(working).length));
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1); // members did run side by side
    expect(summary.counts.byState).toMatchObject({ completed: 9, failed: 1, running: 0, pending: 0 });
    expect(summary.failures).toEqual([
      {
        rotationId: args.inputs[4]!.rotationId,
        state: 'failed',
        why: expect.stringContaining('rolled_back'),
      },
    ]);
    // The members that came after the failure started and completed.
    expect(summary.members.slice(5).every((m) => m.state === 'completed')).toBe(true);
  });

  it('frees the slot of a member waiting for a person, so every member reaches the gate', async () => {
    const args = fleetArgs(['stub-wait', 'stub-wait', 'stub-wait', 'stub-wait', 'stub-wait'], {
      concurrency: 2,
    });
    const handle = await start(args);
    let status: FleetStatus | undefined;
    await waitFor(
      'every member at AWAITING_REVOKE_APPROVAL',
      async () => {
        status = await handle.query(fleetStatusQuery);
        return status.counts.byPhase['AWAITING_REVOKE_APPROVAL'] === 5;
      },
      60_000,
    );
    expect(status!.counts.byState.running).toBe(5);
    // What the API records after approving every member (api/routes/fleets.ts).
    await handle.signal(fleetApprovalRecorded, {
      by: 'bob@example.com',
      gate: 'revoke',
      at: new Date().toISOString(),
      accepted: status!.members.map((m) => m.rotationId),
      refused: [],
    });
    for (const m of status!.members) {
      await env.client.workflow.getHandle(m.workflowId).signal('release');
    }
    const summary = (await handle.result()) as FleetSummary;
    await record(handle, 'fleet-waiting-members');
    expect(summary.counts.byState.completed).toBe(5);
    expect(summary.failures).toEqual([]);
    expect(summary.approvals).toEqual([expect.objectContaining({ by: 'bob@example.com', gate: 'revoke' })]);
  });

  it('skips a credential whose rotation already runs and rotates the others', async () => {
    const args = fleetArgs(['platform-ai', 'platform-ai', 'platform-ai'], { concurrency: 5 });
    const busy = args.inputs[1]!;
    // Another rotation of the second credential, under its own ticket.
    const other: RotationInput = {
      ...busy,
      rotationId: `${busy.environment}:${busy.credential}:CHG-OTHER`,
      owner: 'stub-wait',
      changeTicket: { ...busy.changeTicket, id: 'CHG-OTHER' },
    };
    const blocker = await env.client.workflow.start('rotation', {
      taskQueue: TASK_QUEUE,
      workflowId: `rekey:${busy.environment}:${busy.credential}`,
      args: [other],
      typedSearchAttributes: rotationSearchAttributes(other),
    });
    const fleet = await start(args);
    const summary = (await fleet.result()) as FleetSummary;
    await record(fleet, 'fleet-skipped-member');
    expect(summary.counts.byState).toMatchObject({ completed: 2, skipped: 1 });
    expect(summary.failures).toEqual([
      {
        rotationId: busy.rotationId,
        state: 'skipped',
        why: expect.stringContaining('another rotation'),
      },
    ]);
    await blocker.signal('release');
    await blocker.result();
  });

  it('continues as new with the members where they are and the inputs not yet started', async () => {
    const args = fleetArgs(['platform-ai', 'stub-fail', 'platform-ai', 'platform-ai', 'platform-ai'], {
      concurrency: 2,
      continueAfterEvents: 40,
    });
    const fleet = await start(args);
    const summary = (await fleet.result()) as FleetSummary;
    await record(fleet, 'fleet-continue-as-new');
    expect(summary.run).toBeGreaterThan(1);
    expect(summary.counts.byState).toMatchObject({ completed: 4, failed: 1, pending: 0, running: 0 });
    expect(summary.members.map((m) => m.rotationId)).toEqual(args.inputs.map((i) => i.rotationId));
  });
});
