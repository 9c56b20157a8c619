// Starting a rotation once per change ticket, with Temporal's workflow-id uniqueness doing the work.
// The happy path is one point read and one start: the describe of the workflow id's latest run (running
// or closed) answers "is a rotation running?" and, through the ticket list its memo carries, "did this
// ticket already run?"; the start (conflict policy FAIL) is what makes two concurrent requests create one
// run. Visibility is searched only for a workflow id whose latest run has no ticket list (started before
// the list existed, or by a starter that did not know it).
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { rotationIdFor, workflowIdFor, type RotationInput } from '../../domain/policy';
import { ChangeTicketKey, RotationOutcomeKey } from '../../workflows/search-attributes';
import { CHANGE_TICKETS_MEMO, rotationStartOptions } from '../../workflows/start-options';
import { Conflict } from '../errors';

/** How a start request was answered: `created` only for the request whose start made the run. */
export interface StartAnswer {
  created: boolean;
  runId: string;
}

const quote = (s: string) => `'${s.replace(/'/g, "\\'")}'`;

/**
 * Starts the rotation, joins the same ticket's running run, or refuses (409) another or a spent ticket.
 * `beforeStart` runs only when a new run would start (not for a join): it may refuse the start by throwing.
 */
export async function startRotationOnce(
  temporal: Pick<Client, 'workflow'>,
  input: RotationInput,
  taskQueue: string,
  beforeStart?: () => Promise<void>,
): Promise<StartAnswer> {
  const workflowId = workflowIdFor(input.environment, input.credential);
  const ticket = input.changeTicket.id;
  const latest = await describeLatest(temporal, workflowId);
  if (latest?.status.name === 'RUNNING') return join(latest, input);
  const ran = latest ? await ticketsThatRan(temporal, latest) : [];
  if (ran.includes(ticket)) {
    const outcome = latest?.typedSearchAttributes.get(ChangeTicketKey) === ticket ? outcomeOf(latest) : '';
    throw Conflict(
      `change ticket ${ticket} already ran${outcome ? ` (${outcome})` : ''}; open a new ticket to rotate again`,
    );
  }
  await beforeStart?.();
  try {
    const handle = await temporal.workflow.start(
      'rotation',
      rotationStartOptions(input, taskQueue, { priorTickets: ran }),
    );
    return { created: true, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // Another request started a run between the read and the start: this ticket's (join) or not (409).
    const winner = await describeLatest(temporal, workflowId);
    if (!winner)
      throw Conflict(`another start of ${input.credential} (${input.environment}) is under way; retry`);
    return join(winner, input);
  }
}

/** The run that holds the workflow id, the same ticket's (200) or another's (409). */
function join(run: WorkflowExecutionDescription, input: RotationInput): StartAnswer {
  const runningTicket = run.typedSearchAttributes.get(ChangeTicketKey);
  if (runningTicket === input.changeTicket.id) return { created: false, runId: run.runId };
  const other = rotationIdFor(input.credential, input.environment, runningTicket ?? '?');
  throw Conflict(`another rotation of ${input.credential} (${input.environment}) is running: ${other}`, {
    running: other,
  });
}

/** The latest run of the workflow id, running or closed; undefined when it never ran (or aged out). */
async function describeLatest(temporal: Pick<Client, 'workflow'>, workflowId: string) {
  try {
    return await temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Every change ticket that ran under the latest run's workflow id: from its memo, else from visibility. */
async function ticketsThatRan(
  temporal: Pick<Client, 'workflow'>,
  latest: WorkflowExecutionDescription,
): Promise<string[]> {
  const own = latest.typedSearchAttributes.get(ChangeTicketKey);
  const listed = latest.memo?.[CHANGE_TICKETS_MEMO];
  if (Array.isArray(listed) && listed.every((t) => typeof t === 'string')) {
    return [...new Set([...listed, ...(own ? [own] : [])])];
  }
  // Runs closed before the latest one started, so their visibility rows are long written.
  const tickets = new Set<string>(own ? [own] : []);
  for await (const wf of temporal.workflow.list({
    query: `WorkflowId = ${quote(latest.workflowId)}`,
    pageSize: 1000,
  })) {
    const t = wf.typedSearchAttributes.get(ChangeTicketKey);
    if (t) tickets.add(t);
  }
  return [...tickets];
}

function outcomeOf(run: WorkflowExecutionDescription): string {
  return run.typedSearchAttributes.get(RotationOutcomeKey) ?? run.status.name;
}
