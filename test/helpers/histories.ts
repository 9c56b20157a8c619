// Every run of a rotation: a rotation that continued as new has one history per run, and each is
// scanned for key material and recorded for the replay test.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;

/** The histories of a run and of every run it continued as, in order. */
export async function runChain(client: Client, workflowId: string, firstRunId: string): Promise<History[]> {
  const out: History[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    out.push(history);
    const last = history.events?.at(-1);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    if (out.length > 10_000) throw new Error(`${workflowId}: more than 10,000 runs`);
  }
  return out;
}

/**
 * Every run ever recorded under a workflow id (all rotations of one credential and all their runs),
 * by visibility, and the latest run even before visibility has caught up with it.
 */
export async function allRuns(client: Client, workflowId: string): Promise<History[]> {
  const runIds = new Set<string>();
  const query = `WorkflowId = '${workflowId.replaceAll("'", "\\'")}'`;
  for await (const wf of client.workflow.list({ query })) runIds.add(wf.runId);
  runIds.add((await client.workflow.getHandle(workflowId).describe()).runId);
  const out: History[] = [];
  for (const runId of runIds) out.push(await client.workflow.getHandle(workflowId, runId).fetchHistory());
  return out;
}
