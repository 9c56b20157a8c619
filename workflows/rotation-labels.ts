// What a rotation is listed and shown by, whoever starts it: the search attributes the UI lists rotations
// by and the static summary on its page. Shared by the client's start options (start-options.ts) and the
// triggers that start a rotation as a child (scheduled-rotation.ts), so it stays zod-free.
import type { SearchAttributePair } from '@temporalio/common';
import type { RotationInput } from '../domain/policy';
import {
  ChangeTicketKey,
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationPhaseKey,
  RotationRequestedByKey,
} from './search-attributes';

/** The search attributes a rotation starts with (its phase then moves on from PREPARING). */
export function rotationSearchAttributes(input: RotationInput): SearchAttributePair[] {
  return [
    { key: RotationPhaseKey, value: 'PREPARING' },
    { key: RotationCredentialKey, value: input.credential },
    { key: RotationEnvironmentKey, value: input.environment },
    { key: ChangeTicketKey, value: input.changeTicket.id },
    { key: RotationRequestedByKey, value: input.requestedBy },
  ];
}

/** The summary and details the Temporal UI shows on the rotation's page. */
export function rotationSummary(input: RotationInput): { staticSummary: string; staticDetails: string } {
  return {
    staticSummary: `Rotate ${input.credential} (${input.environment}) · ${input.mode} · ticket ${input.changeTicket.id}`,
    staticDetails: [
      `**Reason:** ${input.reason}`,
      `**Owner:** ${input.owner} · **requested by** ${input.requestedBy}`,
      `**Apps:** ${input.apps.join(', ')}`,
      `**Gateway:** ${input.gatewayBaseUrl} · routes ${input.allowedRoutes.join(', ')}`,
    ].join('\n\n'),
  };
}
