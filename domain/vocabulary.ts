// The rotation's vocabulary as plain `as const` lists: phases, outcomes, gates, verdicts, key states,
// roles, routes, signals. No zod here, on purpose: workflow code imports these values, and zod reachable
// from the workflow bundle adds about 70% to it (bench/workflow-bundle.ts). Their z.enum schemas and
// the inferred types are in rotation.ts; everything else imports the types from there.

/** Every phase of a rotation, in the order the forward path reaches them, then the other endings. */
export const PHASES = [
  'PREPARING',
  'AWAITING_REPLACEMENT_KEY',
  'ISSUING',
  'CANARY',
  'AWAITING_FLIP_APPROVAL',
  'FLIPPING',
  'HOLDING',
  'AWAITING_REVOKE_APPROVAL',
  'REVOKING',
  'VERIFYING_REVOCATION',
  'ARCHIVING',
  'COMPLETED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'ABORTED',
  'FAILED',
] as const;
type Phase = (typeof PHASES)[number];

/** How a rotation ended. */
export const OUTCOMES = ['completed', 'rolled_back', 'aborted', 'failed'] as const;

/** The phases a rotation ends in, one per outcome. */
export const TERMINAL_PHASES = [
  'COMPLETED',
  'ROLLED_BACK',
  'ABORTED',
  'FAILED',
] as const satisfies readonly Phase[];

/** Phases after which the old key may be gone: rollback is refused from here on. */
export const POINT_OF_NO_RETURN = [
  'REVOKING',
  'VERIFYING_REVOCATION',
  'ARCHIVING',
  'COMPLETED',
  'FAILED',
] as const satisfies readonly Phase[];

/** The two approval gates. */
export const GATES = ['flip', 'revoke'] as const;
/** How a gate ended; a timeout only reminds, so it never ends a gate. */
export const GATE_DECISIONS = ['APPROVED', 'REJECTED'] as const;
/** Everything a rotation can wait on a human for: the gates, and the manual gateway's hand-offs. */
export const PENDING_GATES = [
  ...GATES,
  'replacement-key',
  'revocation-confirmation',
  'replacement-key-revocation',
] as const;
/** What a gate was shown: positive evidence, or too little (then approving it accepts the risk). */
export const GATE_EVIDENCE_LEVELS = ['positive', 'insufficient'] as const;
/** The rows of the seed's "Rollback Checks Before You Revoke The Old Key". */
export const GATE_ROW_KEYS = [
  'authentication',
  'routing',
  'usageAttribution',
  'quotaAndBudget',
  'runtimeCoverage',
  'supportReadiness',
] as const;
/** green: positive evidence; red: do not revoke; unknown: not enough evidence either way. */
export const GATE_ROW_STATES = ['green', 'red', 'unknown'] as const;

/** How one analysis measurement came out (Argo Rollouts' vocabulary); only `pass` is evidence. */
export const VERDICTS = ['pass', 'fail', 'inconclusive', 'error'] as const;
/** Usage attribution's verdicts: it has no `error` (a failed read is retried, then fails the activity). */
export const ATTRIBUTION_VERDICTS = [
  'pass',
  'fail',
  'inconclusive',
] as const satisfies readonly (typeof VERDICTS)[number][];
/** The analyses a rotation runs: the canary soak, and the hold. */
export const ANALYSIS_STAGES = ['soak', 'hold'] as const;
/** One threshold new-key traffic can break. */
export const BREACH_CHECKS = [
  'auth-errors',
  'rate-limited',
  'server-errors',
  'server-error-increase',
  'latency',
  'tokens',
  'spend',
  // The old key refused on some replica before rekey revoked it (LiteLLM #27193): apps on it lost service.
  'old-key-grace',
] as const;

/** State of a gateway key as rekey last left or saw it. */
export const KEY_STATES = ['enabled', 'disabled', 'deleted', 'unknown'] as const;
/** How the old key was revoked: reversibly first where the gateway can, or by a human. */
export const REVOCATION_METHODS = ['disable-then-delete', 'delete-only', 'manual'] as const;
/** What the status calls each secret version a rotation touched. */
export const VERSION_ROLES = ['old', 'pending', 'current', 'restored', 'retired'] as const;

/** Roles a principal can hold; the API maps bearer tokens to them. */
// reporter: an app pushing its own usage counts (app-reported telemetry); it can do nothing else.
export const ROLES = ['requester', 'approver', 'operator', 'viewer', 'reporter'] as const;
/** scheduled: the usual path; emergency: the key may be exposed, so some waits are shortened. */
export const MODES = ['scheduled', 'emergency'] as const;
/** Route families a canary can exercise, as named in the seed's `allowed_routes`. */
export const ROUTES = [
  'chat-completions',
  'streaming',
  'tool-calls',
  'structured-output',
  'embeddings',
  'responses',
] as const;
/** Per-key signals a telemetry source may or may not be able to observe. */
export const SIGNALS = [
  'requests',
  'authErrors',
  'rateLimited',
  'serverErrors',
  'latency',
  'tokens',
  'spend',
  'perConsumer',
] as const;
/** Why a canary request failed. */
export const CANARY_FAILURES = [
  'auth',
  'route-denied',
  'rate-limited',
  'server-error',
  'malformed-stream',
  'schema-mismatch',
  'timeout',
  // Not sent: the canary stops at its first failing route (see activities/gateway/openai-probe.ts).
  'not-attempted',
] as const;
/** verified: rekey found it true; failed: rekey found otherwise; unverified: rekey cannot look. */
export const PRE_CHECK_RESULTS = ['verified', 'failed', 'unverified'] as const;

/** The messages a rotation accepts (each an update and a signal of the same name). */
export const MESSAGE_NAMES = [
  'approve',
  'reject',
  'rollback',
  'abort',
  'extendHold',
  'replacementKeyStaged',
  'revocationConfirmed',
  'revokeReplacementKey',
  'escalate',
] as const;
/** The scanners whose alerts rekey verifies and acts on (domain/exposures.ts). */
export const EXPOSURE_SOURCES = ['github-secret-scanning', 'github-partner', 'gitguardian'] as const;
/**
 * Who may approve an emergency rotation's revoke gate: break_glass, a person (the requester too, with a
 * breakGlassReason); alert, the verified leak alert itself once the canary and a post-flip check passed.
 */
export const EMERGENCY_REVOKE_RULES = ['break_glass', 'alert'] as const;
/** Why a message was refused: the API answers NotAllowed with 403, NotOpen with 409, Invalid with 400. */
export const REFUSAL_KINDS = ['NotAllowed', 'NotOpen', 'Invalid'] as const;

/** `sha256:` + the first 12 hex characters of the key's SHA-256 (domain/secrets.ts fingerprintSchema). */
export const FINGERPRINT = /^sha256:[0-9a-f]{12}$/;

/** What names (credentials, environments, tickets) may contain; ':' is kept free to join them into ids. */
export const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
