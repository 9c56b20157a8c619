// How a closed rotation ended, read from its close event: a completed rotation returns its final status,
// and one that did not rotate (rolled back, aborted, failed) ends with a typed failure whose details[0]
// is the final status. No worker has to replay the history, as it would to answer a query.
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OUTCOME_FAILURE_TYPES, type RotationStatus } from '../workflows/messages';

const ROTATION_FAILURE_TYPES: readonly string[] = Object.values(OUTCOME_FAILURE_TYPES);

/** The final status of a closed rotation run; undefined for any other ending (terminated, timed out). */
export async function finalStatusOf(
  temporal: Client,
  handle: WorkflowHandle,
  timeoutMs: number,
): Promise<RotationStatus | undefined> {
  try {
    const result: unknown = await temporal.withAbortSignal(AbortSignal.timeout(timeoutMs), () =>
      handle.result(),
    );
    return isStatus(result) ? result : undefined;
  } catch (err) {
    const carried = statusInFailure(err);
    return isStatus(carried) ? carried : undefined;
  }
}

/** The status a rotation's typed failure carries, if the error is one. */
export function statusInFailure(err: unknown): unknown {
  if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  if (!err.cause.type || !ROTATION_FAILURE_TYPES.includes(err.cause.type)) return undefined;
  return err.cause.details?.[0];
}

function isStatus(v: unknown): v is RotationStatus {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RotationStatus).rotationId === 'string' &&
    typeof (v as RotationStatus).phase === 'string'
  );
}
