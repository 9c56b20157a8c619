// A stand-in for the rotation behind the API's action routes: the same message definitions, validators
// that refuse only what a test asks for, and a query of every argument that arrived. It proves what the
// API sends, not what the rotation does with it (that is for the workflow tests).
import type { UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';
import {
  approveUpdate,
  extendHoldUpdate,
  refusalFailureType,
  revokeReplacementKeyUpdate,
  type MessageAck,
  type Refusal,
} from '../../../workflows/messages';

/** Every message accepted so far, with its arguments as the workflow received them. */
export const receivedQuery = defineQuery<{ name: string; args: unknown }[]>('received');
export const finishSignal = defineSignal('finish');

export interface RecorderInput {
  /** Refusals to answer by message name instead of accepting it. */
  refuse?: Record<string, Refusal>;
  /** End on `finish` as a rotation that did not rotate: this failure type, the status as details[0]. */
  failWith?: { type: string; status: unknown };
}

/** Accepts approve, extendHold and revokeReplacementKey (unless told to refuse one) until `finish`. */
export async function messageRecorder(input: RecorderInput = {}): Promise<void> {
  const received: { name: string; args: unknown }[] = [];
  let done = false;
  setHandler(receivedQuery, () => received);
  setHandler(finishSignal, () => {
    done = true;
  });
  const record = <A>(update: UpdateDefinition<MessageAck, [A]>) =>
    setHandler(
      update,
      (args: A): MessageAck => {
        received.push({ name: update.name, args });
        return { accepted: true, phase: 'HOLDING' };
      },
      {
        validator: (_args: A) => {
          const refusal = input.refuse?.[update.name];
          if (refusal) {
            throw ApplicationFailure.create({
              type: refusalFailureType(refusal.kind),
              message: refusal.message,
              nonRetryable: true,
            });
          }
        },
      },
    );
  record(approveUpdate);
  record(extendHoldUpdate);
  record(revokeReplacementKeyUpdate);
  await condition(() => done);
  if (input.failWith) {
    throw ApplicationFailure.create({
      type: input.failWith.type,
      message: 'the rotation did not rotate',
      details: [input.failWith.status],
      nonRetryable: true,
    });
  }
}
