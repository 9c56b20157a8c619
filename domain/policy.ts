// The rotation policy a change ticket submits (the seed's "Rotation Policy Template", snake_case, root
// key `rotation:`), and its normalisation into the workflow's input. Shared by the API and the workflow;
// the workflow imports only the types, so zod stays out of the workflow bundle.
import { z } from 'zod';
import type { MessageTrust } from './message-proof';
import { IDENTIFIER } from './credentials';
import { EMERGENCY_REVOKE_RULES, MODES, ROLES, ROUTES } from './vocabulary';
import type { ExposureRef } from './exposures';

/** Who approves an emergency rotation's revoke gate (policy approvals.emergency_revoke). */
export type EmergencyRevokeRule = (typeof EMERGENCY_REVOKE_RULES)[number];
import { DEFAULT_MIN_LIFETIME_MINUTES, SCOPE_FIELDS, type KeyScopeRules } from './key-scope';
import type { Role, Route } from './rotation';

const MINUTE_MS = 60_000;
/**
 * Most hold checks a policy may plan (max hold / check interval): continue-as-new keeps each run's
 * history bounded, so this limits telemetry load, not history. 30 days of 1-minute checks fit.
 */
export const MAX_HOLD_CHECKS = 50_000;

/** Route families a canary can exercise (the seed's `allowed_routes`), roles, modes: domain/vocabulary.ts. */
export { IDENTIFIER } from './credentials';
/** Longest name (environment, credential, ticket): each is one part of a rotation id. */
export const IDENTIFIER_MAX_LENGTH = 120;
/** Longest rotation id, `environment:credential:ticket`: every route that takes an id accepts it. */
export const ROTATION_ID_MAX_LENGTH = 3 * IDENTIFIER_MAX_LENGTH + 2;
export { MODES, ROLES, ROUTES } from './vocabulary';
export type { Role, Route } from './rotation';

const identifier = z
  .string()
  .min(1)
  .max(IDENTIFIER_MAX_LENGTH)
  .regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only');

const minutes = (what: string, min: number, max: number, fallback: number) =>
  z
    .number()
    .min(min, `${what} must be at least ${min} minutes`)
    .max(max, `${what} must be at most ${max} minutes`)
    .default(fallback)
    .describe(`${what}, in minutes (${min}–${max})`);

const ratio = (what: string, fallback: number) =>
  z.number().positive().max(1000).default(fallback).describe(what);

const rate = (what: string, fallback: number) => z.number().min(0).max(1).default(fallback).describe(what);

/** Thresholds the hold phase compares new-key traffic against (rates are shares of requests). */
export const thresholdsSchema = z
  .strictObject({
    max_auth_error_rate: rate('highest share of new-key requests answered 401/403', 0.01),
    max_rate_limited_rate: rate('highest share of new-key requests answered 429', 0.05),
    max_server_error_rate: rate('highest share of new-key requests answered 5xx', 0.02),
    max_server_error_increase: rate('highest rise of the 5xx share over the baseline', 0.01),
    max_latency_ratio: ratio('highest p95 latency relative to the baseline', 2),
    min_latency_increase_ms: z
      .number()
      .min(0)
      .max(60_000)
      .default(100)
      .describe('a p95 rise of at most this many ms is never a latency breach, whatever the ratio'),
    max_spend_ratio: ratio('highest spend per request relative to the baseline', 1.5),
    max_tokens_ratio: ratio('highest tokens per request relative to the baseline', 1.5),
    min_requests: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(20)
      .describe(
        'fewest app requests in a window for it to count as evidence; a smaller window is inconclusive (unless it clearly fails)',
      ),
    min_volume_ratio: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        'lowest share of its baseline request rate each consumer (and all of them together) must show on the new key before revoke; traffic that vanishes blocks the revoke',
      ),
  })
  .describe('limits that roll the rotation back when new-key traffic breaches them');

/** How many measurements of each kind an analysis (canary soak, hold) tolerates, as Argo Rollouts' AnalysisRun. */
export const analysisSchema = z
  .strictObject({
    failure_limit: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(0)
      .describe('failed windows tolerated; one more rolls the rotation back'),
    inconclusive_limit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(2)
      .describe('inconclusive windows tolerated; one more parks the rotation at a human gate'),
    consecutive_error_limit: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(4)
      .describe('telemetry errors in a row tolerated; one more parks the rotation at a human gate'),
  })
  .describe('three-valued analysis: pass, fail, inconclusive; inconclusive never opens a gate by itself');

export const rotationPolicySchema = z
  .strictObject({
    rotation: z.strictObject({
      credential: identifier.describe('credential name in the registry'),
      owner: z.string().min(1).max(200).describe('owning team'),
      environment: identifier.describe('environment, e.g. production'),
      reason: z.string().min(1).max(2000).describe('why the key is rotated'),
      change_ticket: z
        .strictObject({
          id: identifier.describe('ticket id; the idempotency key of the start'),
          url: z.url().optional().describe('link to the ticket'),
          webhook_url: z
            .url({ protocol: /^https?$/, error: 'webhook_url must be an https (or http) URL' })
            .optional()
            .describe(
              'where phase changes are POSTed; its host must be in the deployment’s webhook allowlist',
            ),
          rollback_owner: z.string().min(1).max(200).optional().describe('who owns a rollback'),
        })
        .optional(),
      mode: z.enum(MODES).default('scheduled').describe('emergency: the key may be exposed'),
      scope: z.strictObject({
        apps: z.array(z.string().min(1).max(200)).min(1).max(200).describe('consumers of the key'),
        gateway_base_url: z.url().describe('the gateway base URL apps call'),
        allowed_routes: z.array(z.enum(ROUTES)).min(1).describe('routes the canary must prove'),
      }),
      pre_checks: z
        .strictObject({
          inventory_confirmed: z.boolean().optional(),
          new_secret_version_created: z.boolean().optional(),
          rollback_secret_version_available: z.boolean().optional(),
          canary_request_id: z.string().max(200).optional(),
        })
        .default({})
        .describe('what the ticket claims; rekey verifies each instead of trusting it'),
      cutover: z
        .strictObject({
          deploy_method: z.string().min(1).max(200).default('standard_config_release'),
          observation_window_minutes: minutes('observation window', 1, 7 * 24 * 60, 60),
          check_interval_minutes: minutes('check interval', 0.1, 60, 5),
          drain_window_minutes: minutes('drain window', 0, 24 * 60, 30),
          max_hold_minutes: minutes('max hold', 1, 30 * 24 * 60, 24 * 60),
          revoke_old_key_after_old_key_traffic_zero: z.boolean().default(true),
          rollout_hook_url: z.url().optional().describe('deploy-system webhook called at the flip'),
        })
        .default({
          deploy_method: 'standard_config_release',
          observation_window_minutes: 60,
          check_interval_minutes: 5,
          drain_window_minutes: 30,
          max_hold_minutes: 24 * 60,
          revoke_old_key_after_old_key_traffic_zero: true,
        }),
      approvals: z
        .strictObject({
          flip_approval_required: z.boolean().default(false).describe('a release owner approves the flip'),
          flip_roles: z.array(z.enum(ROLES)).min(1).default(['approver']),
          revoke_roles: z.array(z.enum(ROLES)).min(1).default(['approver']),
          approval_timeout_minutes: minutes('approval reminder interval', 5, 7 * 24 * 60, 4 * 60),
          emergency_revoke: z
            .enum(EMERGENCY_REVOKE_RULES)
            .default('break_glass')
            .describe(
              'emergency mode: who approves the revoke gate. break_glass: a person with a revoke role (the requester too, with a breakGlassReason); alert: a verified leak alert, once the canary and a post-flip check passed',
            ),
        })
        .default({
          flip_approval_required: false,
          flip_roles: ['approver'],
          revoke_roles: ['approver'],
          approval_timeout_minutes: 4 * 60,
          emergency_revoke: 'break_glass',
        }),
      canary: z
        .strictObject({
          soak_minutes: minutes('canary soak', 0, 24 * 60, 0),
          expected_owner: z.string().min(1).max(200).optional().describe('owner usage must roll up to'),
        })
        .default({ soak_minutes: 0 }),
      thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
      analysis: analysisSchema.default(analysisSchema.parse({})),
      rollback: z
        .strictObject({
          revoke_new_key: z.boolean().default(true).describe('revoke the replacement key when rolling back'),
        })
        .default({ revoke_new_key: true }),
      key_scope: z
        .strictObject({
          min_lifetime_minutes: minutes(
            'replacement key lifetime',
            0,
            366 * 24 * 60,
            DEFAULT_MIN_LIFETIME_MINUTES,
          ),
          allow_changed: z
            .array(z.enum(SCOPE_FIELDS))
            .max(SCOPE_FIELDS.length)
            .default([])
            .describe('scope fields the replacement may differ in (never broader: that is always refused)'),
        })
        .optional()
        .describe('how strictly the replacement key must copy the old key’s scope'),
      evidence: z
        .strictObject({
          auth_error_check: z.enum(['required', 'optional']).default('required'),
          usage_owner_check: z.enum(['required', 'optional']).default('required'),
          cost_anomaly_check: z.enum(['required', 'optional']).default('required'),
          old_key_negative_test: z.enum(['required', 'optional']).default('required'),
        })
        .default({
          auth_error_check: 'required',
          usage_owner_check: 'required',
          cost_anomaly_check: 'required',
          old_key_negative_test: 'required',
        }),
    }),
  })
  .superRefine((policy, ctx) => {
    const c = policy.rotation.cutover;
    if (c.check_interval_minutes > c.observation_window_minutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['rotation', 'cutover', 'check_interval_minutes'],
        message: 'check interval must not exceed the observation window',
      });
    }
    // Each hold check adds events to the workflow history, which Temporal caps; keep a margin.
    if (c.max_hold_minutes / c.check_interval_minutes > MAX_HOLD_CHECKS) {
      ctx.addIssue({
        code: 'custom',
        path: ['rotation', 'cutover', 'check_interval_minutes'],
        message: `max hold / check interval allows at most ${MAX_HOLD_CHECKS} checks; raise the check interval`,
      });
    }
    if (c.max_hold_minutes < c.observation_window_minutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['rotation', 'cutover', 'max_hold_minutes'],
        message: 'max hold must be at least the observation window',
      });
    }
  });

export type RotationPolicy = z.infer<typeof rotationPolicySchema>;
export type Thresholds = z.infer<typeof thresholdsSchema>;
export type Mode = RotationPolicy['rotation']['mode'];

/** What the workflow runs on: the policy normalised (camelCase, milliseconds) plus who asked. */
export interface RotationInput {
  rotationId: string;
  credential: string;
  environment: string;
  owner: string;
  reason: string;
  mode: Mode;
  requestedBy: string;
  changeTicket: { id: string; url?: string; webhookUrl?: string; rollbackOwner?: string };
  apps: string[];
  gatewayBaseUrl: string;
  allowedRoutes: Route[];
  preChecks: RotationPolicy['rotation']['pre_checks'];
  deployMethod: string;
  observationWindowMs: number;
  checkIntervalMs: number;
  drainWindowMs: number;
  maxHoldMs: number;
  requireOldKeyDrain: boolean;
  rolloutHookUrl?: string;
  flipApprovalRequired: boolean;
  flipRoles: Role[];
  revokeRoles: Role[];
  approvalReminderMs: number;
  /** Emergency mode: who approves the revoke gate (absent in rotations started before: break_glass). */
  emergencyRevoke?: EmergencyRevokeRule;
  /** Not from the policy: the verified leak alert that started this rotation (set by the API). */
  exposure?: ExposureRef;
  canarySoakMs: number;
  expectedOwner: string;
  thresholds: Thresholds;
  analysis: { failureLimit: number; inconclusiveLimit: number; consecutiveErrorLimit: number };
  revokeNewKeyOnRollback: boolean;
  evidence: RotationPolicy['rotation']['evidence'];
  /** The policy's key_scope; absent when it has none (the issuing activity then uses the defaults). */
  keyScope?: KeyScopeRules;
  /**
   * Not from the policy: a run continues as new past this many history events (default
   * CONTINUE_AS_NEW_AFTER_EVENTS in workflows/continuation.ts). Tests and benchmarks lower it.
   */
  continueAsNewAfterEvents?: number;
  /**
   * Not from the policy: the public keys whose signatures prove who sent a message (the API's), and
   * whether unsigned signals count. Absent only in rotations started before rekey signed messages.
   */
  messageTrust?: MessageTrust;
}

// Ids join identifiers with ':', which an identifier cannot contain, so no two pairs collide.

/** Rotation id from credential, environment and ticket: the same ticket always maps to the same id. */
export function rotationIdFor(credential: string, environment: string, ticketId: string): string {
  return `${environment}:${credential}:${ticketId}`;
}

/** Workflow id: one active rotation per (environment, credential), enforced by Temporal itself. */
export function workflowIdFor(environment: string, credential: string): string {
  return `rekey:${environment}:${credential}`;
}

export { EMERGENCY_ACCEPTED_RISK } from './risk';

/** Normalises a validated policy into the workflow input. Emergency mode drops flip approval, soak and drain. */
export function toRotationInput(
  policy: RotationPolicy,
  requestedBy: string,
  ticketId?: string,
): RotationInput {
  const r = policy.rotation;
  const ticket = r.change_ticket?.id ?? ticketId;
  if (!ticket) throw new Error('a change ticket id is required (rotation.change_ticket.id)');
  const emergency = r.mode === 'emergency';
  return {
    rotationId: rotationIdFor(r.credential, r.environment, ticket),
    credential: r.credential,
    environment: r.environment,
    owner: r.owner,
    reason: r.reason,
    mode: r.mode,
    requestedBy,
    changeTicket: {
      id: ticket,
      ...(r.change_ticket?.url ? { url: r.change_ticket.url } : {}),
      ...(r.change_ticket?.webhook_url ? { webhookUrl: r.change_ticket.webhook_url } : {}),
      ...(r.change_ticket?.rollback_owner ? { rollbackOwner: r.change_ticket.rollback_owner } : {}),
    },
    apps: r.scope.apps,
    gatewayBaseUrl: r.scope.gateway_base_url,
    allowedRoutes: r.scope.allowed_routes,
    preChecks: r.pre_checks,
    deployMethod: r.cutover.deploy_method,
    observationWindowMs: Math.round(r.cutover.observation_window_minutes * MINUTE_MS),
    checkIntervalMs: Math.round(r.cutover.check_interval_minutes * MINUTE_MS),
    drainWindowMs: emergency ? 0 : Math.round(r.cutover.drain_window_minutes * MINUTE_MS),
    maxHoldMs: Math.round(r.cutover.max_hold_minutes * MINUTE_MS),
    requireOldKeyDrain: !emergency && r.cutover.revoke_old_key_after_old_key_traffic_zero,
    ...(r.cutover.rollout_hook_url ? { rolloutHookUrl: r.cutover.rollout_hook_url } : {}),
    flipApprovalRequired: !emergency && r.approvals.flip_approval_required,
    flipRoles: r.approvals.flip_roles,
    revokeRoles: r.approvals.revoke_roles,
    approvalReminderMs: Math.round(r.approvals.approval_timeout_minutes * MINUTE_MS),
    emergencyRevoke: r.approvals.emergency_revoke,
    canarySoakMs: emergency ? 0 : Math.round(r.canary.soak_minutes * MINUTE_MS),
    expectedOwner: r.canary.expected_owner ?? r.owner,
    thresholds: r.thresholds,
    analysis: {
      failureLimit: r.analysis.failure_limit,
      inconclusiveLimit: r.analysis.inconclusive_limit,
      consecutiveErrorLimit: r.analysis.consecutive_error_limit,
    },
    revokeNewKeyOnRollback: r.rollback.revoke_new_key,
    evidence: r.evidence,
    ...(r.key_scope
      ? {
          keyScope: {
            minLifetimeMs: Math.round(r.key_scope.min_lifetime_minutes * MINUTE_MS),
            allowChanged: r.key_scope.allow_changed,
          },
        }
      : {}),
  };
}
