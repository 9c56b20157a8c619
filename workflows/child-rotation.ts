// Starting a rotation from another workflow (the schedule and expiry triggers, a fleet): as an abandoned
// child under the credential's own workflow id `rekey:<env>:<credential>`, with the attributes, memo and
// summary a client-started rotation has, so that it outlives its starter and one active rotation per
// credential still holds (a second start fails as WorkflowExecutionAlreadyStarted).
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  ParentClosePolicy,
  type ChildWorkflowHandle,
  WorkflowIdReusePolicy,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { RotationInput } from '../domain/policy';
import type { RotationStatus } from '../domain/status';
import { rotationSearchAttributes, rotationSummary } from './rotation-labels';

/** The rotation for this ticket, from the template. */
export function rotationFor(template: RotationInput, ticketId: string, reason: string): RotationInput {
  return {
    ...template,
    reason,
    rotationId: `${template.environment}:${template.credential}:${ticketId}`,
    changeTicket: { ...template.changeTicket, id: ticketId },
  };
}

/** workflows/start-options.ts rotationStartOptions, as a child: the same id, attributes, memo, summary. */
function childOptions(input: RotationInput, workflowId: string) {
  return {
    workflowId,
    args: [input] as [RotationInput],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    typedSearchAttributes: rotationSearchAttributes(input),
    memo: { startedAt: new Date().toISOString() },
    ...rotationSummary(input),
  };
}

/** The rotation workflow's signature, as the child is started by name (no import of its code). */
export type RotationWorkflow = (input: RotationInput) => Promise<RotationStatus>;

/** Starts the rotation; undefined when another rotation holds the credential's workflow id. */
export async function startRotation(input: RotationInput, workflowId: string) {
  try {
    return await startChild<RotationWorkflow>('rotation', childOptions(input, workflowId));
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/**
 * How the child rotation ended: its final status when it completed, else why not. A rotation that does
 * not complete ends with a typed failure (RotationRolledBack, RotationAborted, RotationFailed), which
 * the child's result rejects with.
 */
export async function rotationEnd(
  child: ChildWorkflowHandle<RotationWorkflow>,
): Promise<{ completed: true } | { completed: false; why: string }> {
  try {
    const status = await child.result();
    return status.outcome === 'completed'
      ? { completed: true }
      : { completed: false, why: `ended ${status.outcome ?? 'without an outcome'}` };
  } catch (err) {
    if (!(err instanceof ChildWorkflowFailure)) throw err;
    const cause = err.cause;
    const type = cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ` : '';
    return { completed: false, why: `ended ${type}${cause?.message ?? err.message}` };
  }
}
