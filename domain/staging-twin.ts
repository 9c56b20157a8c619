// Staging before production (issue 16 item 5): a production credential may name its staging twin in the
// registry (`staging_twin`). Its rotation first needs a completed rotation of the twin with the same
// policy within a window (mode require), or runs one as a child workflow first (mode run). "The same
// policy" is every field of the rotation's input that decides how it is run and gated, and none of
// those that only say which credential it is, who asked, or why: two rotations with the same policy
// fingerprint were gated by the same thresholds, holds, canary routes, approvals and evidence rules.
// Pure and zod-free (the workflow imports it): the activity hashes what policyFields returns
// (activities/automation/staging-twin.ts); the status schema of the gate is in domain/status.ts.
import type { RotationInput } from './policy';
import type { CredentialAutomation, StagingTwinSpec } from './automation';

/**
 * Fields of a rotation's input that name the credential and the change, not the policy: left out of
 * the policy fingerprint. Anything else (including fields added later) is in it, so a new policy
 * field makes "the same policy" stricter, never looser.
 */
export const NOT_POLICY_FIELDS = [
  'rotationId',
  'credential',
  'environment',
  'owner',
  'reason',
  'mode',
  'requestedBy',
  'changeTicket',
  /** Each environment has its own consumers, gateway, deploy hook and owner of usage. */
  'apps',
  'gatewayBaseUrl',
  'rolloutHookUrl',
  'expectedOwner',
  /** What the ticket claimed of this credential (rekey verifies each in PREPARING). */
  'preChecks',
  'exposure',
  'continueAsNewAfterEvents',
  'messageTrust',
] as const satisfies readonly (keyof RotationInput)[];

/** The policy part of a rotation's input, as a plain object with sorted keys (what is hashed). */
export function policyFields(input: RotationInput): Record<string, unknown> {
  const skip = new Set<string>(NOT_POLICY_FIELDS);
  return canonical(
    Object.fromEntries(Object.entries(input).filter(([k, v]) => !skip.has(k) && v !== undefined)),
  ) as Record<string, unknown>;
}

/** Objects with sorted keys, recursively, so equal policies serialise to the same JSON. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/**
 * The twin's rotation, as the production rotation runs it first (mode run): the production policy
 * (every policy field unchanged, so the fingerprints match), on the twin's registry facts (its
 * consumers, gateway and owner), under the same change ticket.
 */
export function twinRotationInput(
  production: RotationInput,
  twin: Pick<CredentialAutomation, 'name' | 'environment' | 'owner' | 'apps' | 'gatewayBaseUrl'>,
): RotationInput {
  // The deploy hook and the leak alert belong to the production credential.
  const { rolloutHookUrl: _hook, exposure: _exposure, ...rest } = production;
  return {
    ...rest,
    rotationId: `${twin.environment}:${twin.name}:${production.changeTicket.id}`,
    credential: twin.name,
    environment: twin.environment,
    owner: twin.owner ?? production.owner,
    reason: `staging twin of ${production.rotationId}: ${production.reason}`,
    apps: twin.apps.length > 0 ? twin.apps : production.apps,
    gatewayBaseUrl: twin.gatewayBaseUrl,
    expectedOwner: twin.owner ?? production.expectedOwner,
    // The ticket's claims were about the production credential.
    preChecks: {},
  };
}

/** A completed twin rotation the gate may rely on. */
export interface TwinRotation {
  rotationId: string;
  workflowId: string;
  runId: string;
  completedAt: string;
}

/** What the gate learnt: the twin (absent: the registry names none), and what it found of it. */
export interface StagingTwinCheck {
  twin?: StagingTwinSpec;
  /** `sha256:<hex>` of the rotation's policy fields. */
  policyFingerprint: string;
  /** The newest completed twin rotation with the same policy fingerprint within the window. */
  match?: TwinRotation;
  /** Completed twin rotations in the window that ran another policy (their fingerprints differ). */
  differing: number;
  /** Mode run: the twin's rotation to start first, and its workflow id. */
  twinStart?: { input: RotationInput; workflowId: string };
}

/** Checks a rotation's input against its twin (the activity; the API's start refuses early with it). */
export type StagingTwinChecker = (input: RotationInput) => Promise<StagingTwinCheck>;

/**
 * Why a rotation may not start (mode require, no twin rotation with its policy in the window), or
 * undefined when it may: no twin, mode run, a match, or an emergency (a leak does not wait).
 */
export function twinMissingReason(
  input: Pick<RotationInput, 'mode'>,
  check: StagingTwinCheck,
): string | undefined {
  const twin = check.twin;
  if (!twin || twin.mode !== 'require' || check.match || input.mode === 'emergency') return undefined;
  const other = check.differing
    ? `; ${check.differing} completed with another policy (thresholds, holds, routes, approvals or evidence differ)`
    : '';
  return `staging twin ${twin.environment}/${twin.name} has no completed rotation with this policy (${check.policyFingerprint}) in the last ${twin.withinDays} ${twin.withinDays === 1 ? 'day' : 'days'}${other}: rotate it first`;
}
