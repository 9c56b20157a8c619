// How a rotation is started, shared by the API, the CLI and tests: the workflow id that makes Temporal
// itself enforce one active rotation per (environment, credential), the search attributes the UI lists
// rotations by, and the static summary shown on the workflow's page.
import type { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { workflowIdFor, type RotationInput } from '../domain/policy';
import { rotationSearchAttributes, rotationSummary } from './rotation-labels';

/**
 * Memo key: every change ticket that ran under the workflow id, this run's included, so that one
 * describe of the latest run answers "did this ticket already run?". Absent when the starter did not
 * know the full list; then the API asks visibility instead (api/routes/rotation-start.ts).
 */
export const CHANGE_TICKETS_MEMO = 'changeTickets';
/** Beyond this many tickets the memo would pass ~60 KB: the list is left out and visibility answers. */
export const MAX_CHANGE_TICKETS_MEMO = 500;

/** What the starter knows of earlier runs under the same workflow id. */
export interface StartHistory {
  /** Every change ticket that ran before, complete; omit when unknown. */
  priorTickets?: readonly string[];
}

/** Start options for `client.workflow.start('rotation', …)`; a second start while one runs fails. */
export function rotationStartOptions(input: RotationInput, taskQueue: string, history: StartHistory = {}) {
  const tickets = history.priorTickets && [...new Set([...history.priorTickets, input.changeTicket.id])];
  return {
    taskQueue,
    workflowId: workflowIdFor(input.environment, input.credential),
    args: [input] as [RotationInput],
    // FAIL: the start itself is the uniqueness check (WorkflowExecutionAlreadyStartedError while a
    // rotation runs), so the caller reads the running run only on a conflict. A closed run may be
    // followed by a new one; whether its ticket may run again is the caller's rule, not Temporal's.
    workflowIdConflictPolicy: 'FAIL' as WorkflowIdConflictPolicy,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as WorkflowIdReusePolicy,
    typedSearchAttributes: rotationSearchAttributes(input),
    // The rotation's start, which the API lists it by whatever its number of runs (continue-as-new
    // carries the memo to the successor, the ticket list with it).
    memo: {
      startedAt: new Date().toISOString(),
      ...(tickets && tickets.length <= MAX_CHANGE_TICKETS_MEMO ? { [CHANGE_TICKETS_MEMO]: tickets } : {}),
    },
    ...rotationSummary(input),
  };
}
