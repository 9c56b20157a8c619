import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Typed search attributes the Temporal UI lists rotations by. The dev server registers them at start
// (scripts/local-stack.ts); a production cluster registers them once with `temporal operator search-attribute create`.
export const RotationPhaseKey = defineSearchAttributeKey('RotationPhase', SearchAttributeType.KEYWORD);
export const RotationCredentialKey = defineSearchAttributeKey(
  'RotationCredential',
  SearchAttributeType.KEYWORD,
);
export const RotationEnvironmentKey = defineSearchAttributeKey(
  'RotationEnvironment',
  SearchAttributeType.KEYWORD,
);
export const RotationOutcomeKey = defineSearchAttributeKey('RotationOutcome', SearchAttributeType.KEYWORD);
export const ChangeTicketKey = defineSearchAttributeKey('ChangeTicket', SearchAttributeType.KEYWORD);
export const RotationRequestedByKey = defineSearchAttributeKey(
  'RotationRequestedBy',
  SearchAttributeType.KEYWORD,
);

/** Every rekey search attribute, for registration on a server. */
export const REKEY_SEARCH_ATTRIBUTES = [
  RotationPhaseKey,
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationOutcomeKey,
  ChangeTicketKey,
  RotationRequestedByKey,
] as const;
