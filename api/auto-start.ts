// Starting a rotation rekey decided on itself — an expiry event, a leak alert, a fleet member, a manual
// schedule trigger — through the same path as a ticket's POST: the registry's auto policy, the API's
// message trust, and startRotationOnce (idempotent by ticket id: the same alert or event joins its run).
import type { Client } from '@temporalio/client';
import { autoRotationPolicy, type AutoStart, type CredentialAutomation } from '../domain/automation';
import { toRotationInput, workflowIdFor, type RotationInput } from '../domain/policy';
import type { MessageSigner } from './message-signing';
import { startRotationOnce, type StartAnswer } from './routes/rotation-start';

export interface AutoStartDeps {
  temporal: Pick<Client, 'workflow'>;
  signer: MessageSigner;
  taskQueue: string;
}

/** What was started (or joined): the rotation id, its workflow and run. */
export interface AutoStarted extends StartAnswer {
  rotationId: string;
  workflowId: string;
  input: RotationInput;
}

/**
 * Starts (or joins, same ticket) a rotation of a registered credential. `extra` adds input fields the
 * policy cannot carry (e.g. the exposure that triggered it). Throws Conflict (409) while another
 * ticket's rotation runs, and AutoPolicyError when the entry's rotation_policy is not valid.
 */
export async function startAutoRotation(
  deps: AutoStartDeps,
  entry: CredentialAutomation,
  start: AutoStart & { requestedBy: string },
  extra: Partial<RotationInput> = {},
): Promise<AutoStarted> {
  const policy = autoRotationPolicy(entry, start);
  const input: RotationInput = {
    ...toRotationInput(policy, start.requestedBy, start.ticketId),
    messageTrust: deps.signer.trust(),
    ...extra,
  };
  const answer = await startRotationOnce(deps.temporal, input, deps.taskQueue);
  return {
    ...answer,
    rotationId: input.rotationId,
    workflowId: workflowIdFor(entry.environment, entry.name),
    input,
  };
}
