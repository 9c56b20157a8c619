// What rekey needs to start a credential's rotations itself (issue 16) — schedules, expiry, leak alerts,
// fleets, staging twins — as the registry states it (config/registry.ts parses the snake_case YAML into
// this camelCase shape), and the policy such a rotation runs on: the registry's facts plus the entry's
// `rotation_policy` defaults, validated by the same schema as a change ticket's.
import { rotationPolicySchema, type Mode, type RotationPolicy } from './policy';

/** A rotation schedule: an interval or a UTC cron, a daily window, jitter, notice, pause rules. */
export interface ScheduleSpec {
  /** `30d`, `12h`, `90m`: exactly one of every and cron. */
  every?: string;
  /** 5-field cron, UTC. */
  cron?: string;
  /** Daily window (UTC) outside which a scheduled rotation does not start. */
  window?: { start: string; durationMinutes: number };
  jitterMinutes: number;
  noticeHours: number;
  paused: boolean;
  pauseOnFailure: boolean;
  catchupWindowMinutes: number;
}

/** Start a rotation a lead time before the current key or secret expires. */
export interface ExpirySpec {
  leadDays: number;
  reminderDays: number[];
  checkEveryHours: number;
}

/** A production credential's staging twin, rotated with the same policy first. */
export interface StagingTwinSpec {
  name: string;
  environment: string;
  withinDays: number;
  /** require: a successful staging rotation within the window must exist; run: rekey runs one first. */
  mode: 'require' | 'run';
}

/** One registered credential, as automation sees it: no secret values, no admin details. */
export interface CredentialAutomation {
  name: string;
  environment: string;
  owner?: string;
  tags: string[];
  readers: string[];
  /** The apps (consumers) that read it. */
  apps: string[];
  gatewayBaseUrl: string;
  /** Credentials of the same environment sharing consumers: never in HOLDING at the same time. */
  pairedWith: string[];
  stagingTwin?: StagingTwinSpec;
  schedule?: ScheduleSpec;
  expiry?: ExpirySpec;
  /** The registry's `rotation_policy`: snake_case fields of a policy's `rotation:` body. */
  policyDefaults: Record<string, unknown>;
}

/** Why and under which ticket id rekey starts this rotation. */
export interface AutoStart {
  mode: Mode;
  reason: string;
  /** The change-ticket id the rotation runs under (an identifier), e.g. `sched-20261201T0300Z`. */
  ticketId: string;
  ticketUrl?: string;
}

/** Routes a self-started rotation proves when the registry names none. */
export const DEFAULT_AUTO_ROUTES = ['chat-completions'] as const;

/** A registry entry's rotation_policy that does not make a valid policy; `path` is inside rotation:. */
export class AutoPolicyError extends Error {
  override readonly name = 'AutoPolicyError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** The raw `rotation:` body: registry facts, then the entry's defaults, then this start's own fields. */
function body(c: CredentialAutomation, start: AutoStart): Record<string, unknown> {
  const { allowed_routes, change_ticket, ...defaults } = c.policyDefaults;
  return {
    owner: c.owner ?? 'platform',
    ...defaults,
    credential: c.name,
    environment: c.environment,
    reason: start.reason,
    mode: start.mode,
    change_ticket: {
      ...((change_ticket ?? {}) as Record<string, unknown>),
      id: start.ticketId,
      ...(start.ticketUrl ? { url: start.ticketUrl } : {}),
    },
    scope: {
      apps: [...new Set(c.apps)],
      gateway_base_url: c.gatewayBaseUrl,
      allowed_routes: allowed_routes ?? [...DEFAULT_AUTO_ROUTES],
    },
  };
}

/** The policy of a rotation rekey starts itself; AutoPolicyError names the field that is wrong. */
export function autoRotationPolicy(c: CredentialAutomation, start: AutoStart): RotationPolicy {
  const parsed = rotationPolicySchema.safeParse({ rotation: body(c, start) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.slice(1).join('.');
    throw new AutoPolicyError(`rotation_policy.${path || '(root)'}: ${issue.message}`, path);
  }
  return parsed.data;
}
