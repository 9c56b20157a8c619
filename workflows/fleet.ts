// A fleet rotation (issue 16): one parent workflow, `rekey-fleet:<fleetId>`, rotating many registered
// credentials, each as an abandoned child rotation under its own `rekey:<env>:<credential>` id and the
// fleet's ticket `fleet-<fleetId>`, so each member is an ordinary rotation with its own gates, rollback
// and evidence, and outlives the fleet if the fleet is terminated.
// - Concurrency: at most `concurrency` members work at once; a member waiting for a person (an approval,
//   a manual key) holds no slot, so a fleet under one approval can bring every member to its gate.
// - Start spacing: at most `startsPerMinute` starts a minute, which also paces the gateway admin calls
//   the starts cause (the worker's per-gateway rate limit bounds the rest).
// - One failure does not stop the others: a member that fails, rolls back or cannot start (another
//   rotation of the credential runs: skipped) is recorded and the fleet goes on; the fleet completes
//   with a summary that lists every failure.
// - Where members are comes from an activity that describes their workflows (phase and outcome
//   search attributes), every `pollSeconds`; the fleetStatus query answers with counts per phase.
// - Approval `fleet`: the API approves every member at a gate at once (api/routes/fleets.ts), once all
//   unfinished members wait there, and records it here with fleetApprovalRecorded; `per-rotation`: each
//   member is approved on its own.
// - Long fleets continue as new, carrying the members' states and the inputs not yet started.
import {
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { AutomationActivities } from '../activities/automation';
import {
  fleetCounts,
  fleetTicketId,
  holdsSlot,
  isFinished,
  startableCount,
  type FleetApprovalRecord,
  type FleetMember,
  type FleetStatus,
} from '../domain/fleet';
import type { MessageTrust } from '../domain/message-proof';
import type { RotationInput } from '../domain/policy';
import { startRotation } from './child-rotation';
import { fleetApprovalRecorded, fleetStatusQuery } from './fleet-messages';

/** A member's rotation before it starts: the input without the trust, which the fleet holds once. */
export type FleetMemberInput = Omit<RotationInput, 'messageTrust'>;

/** What the API starts a fleet with: what the status shows of it (startsPerMinute 0: no spacing), and more. */
export interface FleetArgs extends Pick<
  FleetStatus,
  'fleetId' | 'requestedBy' | 'reason' | 'selector' | 'approval' | 'concurrency' | 'startsPerMinute'
> {
  pollSeconds: number;
  /** The keys the members verify the API's messages with (every member the same). */
  messageTrust?: MessageTrust;
  /** Every member's rotation, in start order. */
  inputs: FleetMemberInput[];
  /** Continue as new past this many events (default FLEET_CONTINUE_AFTER_EVENTS; tests set it low). */
  continueAfterEvents?: number;
  /** Set by continue-as-new: where the previous run left each member (inputs then hold only the pending). */
  carried?: { members: FleetMember[]; approvals: FleetApprovalRecord[]; run: number; startedAt: string };
}

/** The fleet's result: its last status, the failures listed on their own. */
export interface FleetSummary extends FleetStatus {
  failures: { rotationId: string; state: 'failed' | 'skipped'; why: string }[];
}

export type { FleetApprovalRecord, FleetStatus } from '../domain/fleet';

export { fleetApprovalRecorded, fleetStatusQuery } from './fleet-messages';

// Reads only: retried until Temporal answers again (a fleet must not fail because visibility was down).
const acts = proxyActivities<AutomationActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2s', maximumInterval: '30s' },
});

/** A member whose rotation is not found in this many reads in a row counts as failed. */
const MAX_UNKNOWN_POLLS = 30;

/** Continue as new past this many events: a poll adds about 6, a member start about 4. */
export const FLEET_CONTINUE_AFTER_EVENTS = 8_000;

function initialMembers(args: FleetArgs): FleetMember[] {
  return args.inputs.map((i) => ({
    credential: i.credential,
    environment: i.environment,
    rotationId: i.rotationId,
    workflowId: `rekey:${i.environment}:${i.credential}`,
    state: 'pending',
  }));
}

export async function fleetRotation(args: FleetArgs): Promise<FleetSummary> {
  const members = args.carried?.members ?? initialMembers(args);
  const approvals = args.carried?.approvals ?? [];
  const startedAt = args.carried?.startedAt ?? new Date().toISOString();
  const run = args.carried?.run ?? 1;
  const inputs = new Map(args.inputs.map((i) => [i.rotationId, i]));
  const ticketId = fleetTicketId(args.fleetId);
  let dirty = true;

  const status = (): FleetStatus => ({
    fleetId: args.fleetId,
    requestedBy: args.requestedBy,
    reason: args.reason,
    selector: args.selector,
    approval: args.approval,
    concurrency: args.concurrency,
    startsPerMinute: args.startsPerMinute,
    startedAt,
    finished: members.every(isFinished),
    counts: fleetCounts(members),
    members,
    approvals,
    run,
  });
  setHandler(fleetStatusQuery, status);
  setHandler(fleetApprovalRecorded, (record) => {
    approvals.push(record);
    dirty = true;
  });
  const showDetails = () => {
    const c = fleetCounts(members);
    const phases = Object.entries(c.byPhase)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([p, n]) => `${p}: ${n}`)
      .join(' · ');
    setCurrentDetails(
      [
        `**Fleet ${args.fleetId}** · ${c.total} credentials · approval ${args.approval} · concurrency ${args.concurrency}`,
        `**Completed** ${c.byState.completed} · **failed** ${c.byState.failed} · **skipped** ${c.byState.skipped} · **running** ${c.byState.running} · **pending** ${c.byState.pending}`,
        `**Phases:** ${phases}`,
      ].join('\n\n'),
    );
  };

  const unknownPolls = new Map<string, number>();
  const spacingMs = args.startsPerMinute > 0 ? Math.ceil(60_000 / args.startsPerMinute) : 0;
  let lastStartAt = 0;
  const startMember = async (m: FleetMember) => {
    const input = inputs.get(m.rotationId)!;
    const wait = lastStartAt + spacingMs - Date.now();
    if (spacingMs > 0 && wait > 0) await sleep(wait);
    lastStartAt = Date.now();
    const child = await startRotation(
      { ...input, ...(args.messageTrust ? { messageTrust: args.messageTrust } : {}) },
      m.workflowId,
    );
    m.startedAt = new Date().toISOString();
    inputs.delete(m.rotationId);
    if (child) {
      m.state = 'running';
      m.phase = 'PREPARING';
    } else {
      m.state = 'skipped';
      m.why = `another rotation of ${m.credential} (${m.environment}) is running`;
      m.endedAt = m.startedAt;
    }
  };

  while (!members.every(isFinished)) {
    let toStart = startableCount(members, args.concurrency);
    for (const m of members) {
      if (toStart <= 0) break;
      if (m.state !== 'pending') continue;
      await startMember(m);
      if (holdsSlot(m)) toStart -= 1;
      showDetails();
    }
    if (members.every(isFinished)) break;
    if (dirty) showDetails();
    dirty = false;
    await condition(() => dirty, `${args.pollSeconds} seconds`);
    const running = members.filter((m) => m.state === 'running');
    if (running.length > 0) {
      const seen = await acts.fleetMemberStates({
        ticketId,
        workflowIds: running.map((m) => m.workflowId),
      });
      const byId = new Map(seen.map((s) => [s.workflowId, s]));
      for (const m of running) {
        const s = byId.get(m.workflowId);
        if (!s || s.state === 'unknown') {
          // Not found (yet: visibility lags a start): after many polls, gone (deleted, or past retention).
          const polls = (unknownPolls.get(m.rotationId) ?? 0) + 1;
          unknownPolls.set(m.rotationId, polls);
          if (polls >= MAX_UNKNOWN_POLLS) {
            m.state = 'failed';
            m.why = `its rotation ${m.workflowId} could not be found in ${polls} reads`;
            m.endedAt = new Date().toISOString();
            dirty = true;
          }
          continue;
        }
        unknownPolls.delete(m.rotationId);
        if (s.phase && s.phase !== m.phase) dirty = true;
        if (s.phase) m.phase = s.phase;
        if (s.state !== 'running') {
          m.state = s.state;
          m.endedAt = new Date().toISOString();
          if (s.why) m.why = s.why;
          dirty = true;
        }
      }
    }
    if (
      workflowInfo().historyLength > (args.continueAfterEvents ?? FLEET_CONTINUE_AFTER_EVENTS) ||
      workflowInfo().continueAsNewSuggested
    ) {
      await continueAsNew<typeof fleetRotation>({
        ...args,
        inputs: [...inputs.values()],
        carried: { members, approvals, run: run + 1, startedAt },
      });
    }
  }
  showDetails();
  const final = status();
  return {
    ...final,
    failures: members
      .filter((m) => m.state === 'failed' || m.state === 'skipped')
      .map((m) => ({
        rotationId: m.rotationId,
        state: m.state as 'failed' | 'skipped',
        why: m.why ?? m.state,
      })),
  };
}
