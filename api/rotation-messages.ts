// Sending a running rotation a message as the API: signed (api/message-signing.ts) for the caller, sent
// as a Temporal update whose validator is the single judge, its refusal mapped to the status
// (NotAllowed → 403, NotOpen → 409, Invalid → 400). Shared by the rotation actions and the fleet
// approval, which sends each member the same approve a person would send it.
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { refusalFailureType, type Actor, type MessageAck, type RefusalKind } from '../workflows/messages';
import type { Principal } from './auth';
import { Conflict, HttpProblem } from './errors';
import type { MessageSigner } from './message-signing';

/** How long the API waits for a worker to run an update's validator before answering 503. */
export const UPDATE_TIMEOUT_MS = 15_000;

/** The refusal kinds the workflow signals, as HTTP statuses. */
const REFUSAL_STATUS: Record<RefusalKind, number> = { NotAllowed: 403, NotOpen: 409, Invalid: 400 };

/** Signs a message for a rotation and sends it as an update; a refusal becomes the matching problem. */
export function messageSender(deps: { temporal: Client; signer: MessageSigner }) {
  return async function send<A extends Actor>(
    rotationId: string,
    who: Principal,
    handle: WorkflowHandle,
    update: UpdateDefinition<MessageAck, [A]>,
    args: A,
    updateId: string,
  ): Promise<MessageAck> {
    const signed = deps.signer.sign({ rotationId, message: update.name, args, principal: who, via: 'api' });
    try {
      // The update id comes from the request id: a client that retries with the same X-Request-Id
      // gets the first attempt's outcome instead of a second message.
      return await deps.temporal.withAbortSignal(AbortSignal.timeout(UPDATE_TIMEOUT_MS), () =>
        handle.executeUpdate(update, { args: [signed], updateId }),
      );
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        const kind = (Object.keys(REFUSAL_STATUS) as RefusalKind[]).find(
          (k) => refusalFailureType(k) === (err.cause as ApplicationFailure).type,
        );
        if (kind) throw new HttpProblem(REFUSAL_STATUS[kind], 'Refused', err.cause.message);
      }
      if (err instanceof WorkflowNotFoundError) throw Conflict('the rotation finished meanwhile');
      if (isAbort(err)) {
        throw new HttpProblem(
          503,
          'Service unavailable',
          'no rekey worker answered in time: the outcome is unknown. Check the status, then retry with the same X-Request-Id',
        );
      }
      throw err;
    }
  };
}

/** The API's own wait bound ran out (the SDK reports an update's as WorkflowUpdateRPCTimeoutOrCancelledError). */
export function isAbort(err: unknown): boolean {
  return (
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'))
  );
}
