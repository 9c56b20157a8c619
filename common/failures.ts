// Failure types shared by activities (which throw them) and the workflow (which branches on them).

export const FailureTypes = {
  UnknownCredential: 'UnknownCredential',
  SecretNotFound: 'SecretNotFound',
  SecretDisabled: 'SecretDisabled',
  VaultForbidden: 'VaultForbidden',
  OldKeyRejected: 'OldKeyRejected',
  NewKeyRejected: 'NewKeyRejected',
  ScopeBroadened: 'ScopeBroadened',
  StagedKeyMismatch: 'StagedKeyMismatch',
  GatewayAdminForbidden: 'GatewayAdminForbidden',
} as const;
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];
