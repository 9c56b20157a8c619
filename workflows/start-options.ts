// How a rotation is started, shared by the API, the CLI and tests: the workflow id that makes Temporal
// itself enforce one active rotation per (environment, credential), the search attributes the UI lists
// rotations by, and the static summary shown on the workflow's page.
import type { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { workflowIdFor, type RotationInput } from '../domain/policy';
import {
  ChangeTicketKey,
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationPhaseKey,
  RotationRequestedByKey,
} from './search-attributes';

/** Start options for `client.workflow.start('rotation', …)`; a second start joins the running one. */
export function rotationStartOptions(input: RotationInput, taskQueue: string) {
  return {
    taskQueue,
    workflowId: workflowIdFor(input.environment, input.credential),
    args: [input] as [RotationInput],
    // USE_EXISTING: a start while a rotation runs returns that run; the caller compares its ticket.
    workflowIdConflictPolicy: 'USE_EXISTING' as WorkflowIdConflictPolicy,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as WorkflowIdReusePolicy,
    typedSearchAttributes: [
      { key: RotationPhaseKey, value: 'PREPARING' },
      { key: RotationCredentialKey, value: input.credential },
      { key: RotationEnvironmentKey, value: input.environment },
      { key: ChangeTicketKey, value: input.changeTicket.id },
      { key: RotationRequestedByKey, value: input.requestedBy },
    ],
    // The rotation's start, which the API lists it by whatever its number of runs (continue-as-new).
    memo: { startedAt: new Date().toISOString() },
    staticSummary: `Rotate ${input.credential} (${input.environment}) · ${input.mode} · ticket ${input.changeTicket.id}`,
    staticDetails: [
      `**Reason:** ${input.reason}`,
      `**Owner:** ${input.owner} · **requested by** ${input.requestedBy}`,
      `**Apps:** ${input.apps.join(', ')}`,
      `**Gateway:** ${input.gatewayBaseUrl} · routes ${input.allowedRoutes.join(', ')}`,
    ].join('\n\n'),
  };
}
