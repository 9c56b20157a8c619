// Every failure type rekey throws or branches on, defined once: activities throw them, the activity
// option sets name the ones retrying cannot fix, the workflow and the API branch on them, and recorded
// histories carry them, so a value here never changes. No zod (workflow code imports this; the z.enum is
// failureTypeSchema in rotation.ts). A secret backend's own types (its "unavailable", its tag limits)
// stay in its folder under activities/secrets/, next to the errors they classify.
import type { OUTCOMES, REFUSAL_KINDS } from './vocabulary';

type Outcome = (typeof OUTCOMES)[number];
type RefusalKind = (typeof REFUSAL_KINDS)[number];

export const FailureTypes = {
  // Configuration: what retrying cannot fix until someone changes the registry or a grant.
  UnknownCredential: 'UnknownCredential',
  SecretNotFound: 'SecretNotFound',
  SecretDisabled: 'SecretDisabled',
  VaultForbidden: 'VaultForbidden',
  GatewayAdminForbidden: 'GatewayAdminForbidden',
  /** The gateway's admin API refused a request (a 4xx other than an auth failure). */
  GatewayAdminRejected: 'GatewayAdminRejected',
  /** A manual gateway has no admin API: a human issues and revokes its keys. */
  ManualGateway: 'ManualGateway',
  /** The worker lacks what an activity needs (e.g. a Temporal client for fleets). */
  WorkerMisconfigured: 'WorkerMisconfigured',

  // Keys: what the gateway and the vault say about the old and the new key.
  OldKeyRejected: 'OldKeyRejected',
  /** The admin API does not know the key in the vault, so rekey could neither scope nor revoke it. */
  OldKeyUnknownToGateway: 'OldKeyUnknownToGateway',
  NewKeyRejected: 'NewKeyRejected',
  ScopeBroadened: 'ScopeBroadened',
  /** The replacement's scope differs from the old key's (a limit dropped or changed), or cannot live long enough. */
  ScopeNotCopied: 'ScopeNotCopied',
  StagedKeyMismatch: 'StagedKeyMismatch',
  /** A completed rotation of the same ticket issued the key in use: a new ticket is needed. */
  RotationAlreadyCompleted: 'RotationAlreadyCompleted',

  // Telemetry, the rollout hook, notifications, evidence.
  TelemetryUnsupported: 'TelemetryUnsupported',
  AttributionUnsupported: 'AttributionUnsupported',
  RolloutHookRejected: 'RolloutHookRejected',
  WebhookUnsigned: 'WebhookUnsigned',
  /** The ticket's webhook is not an allowlisted target, resolves to a refused address, or redirects. */
  WebhookTargetRefused: 'WebhookTargetRefused',
  EvidenceBundleInvalid: 'EvidenceBundleInvalid',

  // How a rotation that did not complete ends (OUTCOME_FAILURE_TYPES). A secret store also throws
  // RotationRolledBack when asked to promote after this rotation already rolled the stable path back.
  RotationRolledBack: 'RotationRolledBack',
  RotationAborted: 'RotationAborted',
  RotationFailed: 'RotationFailed',
  /** A rotation a schedule started did not complete: fails the trigger, so pause_on_failure can pause. */
  ScheduledRotationFailed: 'ScheduledRotationFailed',
  /** A production rotation's staging twin has no completed rotation with the same policy in the window. */
  StagingTwinMissing: 'StagingTwinMissing',
  /** The staging twin's rotation, run first (mode run), did not complete, or could not start. */
  StagingTwinFailed: 'StagingTwinFailed',

  // A message an update validator refused (refusalFailureType).
  MessageRefusedNotAllowed: 'MessageRefused.NotAllowed',
  MessageRefusedNotOpen: 'MessageRefused.NotOpen',
  MessageRefusedInvalid: 'MessageRefused.Invalid',
} as const;
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];

/** Every failure type, as a list (for z.enum and membership tests). */
export const FAILURE_TYPES: readonly FailureType[] = Object.values(FailureTypes);

/** The failure type a rotation that did not complete ends with, so the UI and metrics tell it apart. */
export const OUTCOME_FAILURE_TYPES = {
  rolled_back: FailureTypes.RotationRolledBack,
  aborted: FailureTypes.RotationAborted,
  failed: FailureTypes.RotationFailed,
} as const satisfies Record<Exclude<Outcome, 'completed'>, FailureType>;

/** The ApplicationFailure type a refused update carries, so callers can branch without parsing text. */
export const refusalFailureType = (kind: RefusalKind) =>
  `MessageRefused.${kind}` as const satisfies FailureType;
