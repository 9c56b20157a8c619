// Fleet rotations (issue 16): many registered credentials rotated under one parent workflow, e.g.
// everything a departing person could read. Pure and zod-free, so the fleet workflow imports it: which
// credentials a selector picks, the states a member goes through, how many may start now (the
// concurrency limit counts members that work, not members waiting for a person), the counts the status
// shows, and when one approval may stand for the whole fleet.
import type { CredentialAutomation } from './automation';
import { IDENTIFIER } from './vocabulary';

/** One approval for the fleet (the API approves each member under it), or one per rotation. */
export const FLEET_APPROVALS = ['per-rotation', 'fleet'] as const;
export type FleetApproval = (typeof FLEET_APPROVALS)[number];

/** What a fleet rotates: every registered credential matching all the fields given. */
export interface FleetSelector {
  environment?: string;
  owner?: string;
  tag?: string;
  /** An explicit list of credential names. */
  names?: string[];
  /** Credentials this principal can read (the registry's `readers`): an offboarding. */
  reader?: string;
}

const SELECTOR_FIELDS = ['environment', 'owner', 'tag', 'names', 'reader'] as const;

/** A selector term the CLI or API was given that is not one. */
export class FleetSelectorError extends Error {
  override readonly name = 'FleetSelectorError';
}

/**
 * `owner=platform-ai`, `environment=prod,tag=llm`, `names=a+b+c`: terms joined by commas, each
 * `field=value`; names are joined by `+`. Terms may also come one per argument (repeated --selector).
 */
export function parseSelector(terms: string | string[]): FleetSelector {
  const out: FleetSelector = {};
  const parts = (Array.isArray(terms) ? terms : [terms])
    .flatMap((t) => t.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new FleetSelectorError('a selector needs at least one field=value term');
  for (const part of parts) {
    const eq = part.indexOf('=');
    const field = eq < 0 ? part : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(SELECTOR_FIELDS as readonly string[]).includes(field)) {
      throw new FleetSelectorError(`selector field "${field}" is not one of ${SELECTOR_FIELDS.join(', ')}`);
    }
    if (!value) throw new FleetSelectorError(`selector term "${part}" has no value`);
    const f = field as (typeof SELECTOR_FIELDS)[number];
    if (out[f] !== undefined) throw new FleetSelectorError(`selector field "${f}" is given twice`);
    if (f === 'names')
      out.names = value
        .split('+')
        .map((n) => n.trim())
        .filter(Boolean);
    else out[f] = value;
  }
  return out;
}

/** The selector as one line, `owner=platform-ai,tag=llm`. */
export function formatSelector(s: FleetSelector): string {
  return SELECTOR_FIELDS.filter((f) => s[f] !== undefined)
    .map((f) => `${f}=${f === 'names' ? s.names!.join('+') : (s[f] as string)}`)
    .join(',');
}

/** Whether the selector names at least one field (an empty one would pick the whole registry). */
export function selectorIsEmpty(s: FleetSelector): boolean {
  return SELECTOR_FIELDS.every((f) => s[f] === undefined || (f === 'names' && s.names!.length === 0));
}

/** The registered credentials a selector picks, in a stable order (environment, then name). */
export function selectCredentials(
  entries: readonly CredentialAutomation[],
  s: FleetSelector,
): CredentialAutomation[] {
  const names = s.names && new Set(s.names);
  return entries
    .filter(
      (c) =>
        (s.environment === undefined || c.environment === s.environment) &&
        (s.owner === undefined || c.owner === s.owner) &&
        (s.tag === undefined || c.tags.includes(s.tag)) &&
        (names === undefined || names.has(c.name)) &&
        (s.reader === undefined || c.readers.includes(s.reader)),
    )
    .sort((a, b) => a.environment.localeCompare(b.environment) || a.name.localeCompare(b.name));
}

/** The names of an explicit list that are not registered (in the selector's environment, if it has one). */
export function unknownNames(entries: readonly CredentialAutomation[], s: FleetSelector): string[] {
  if (!s.names) return [];
  const known = new Set(
    entries.filter((c) => s.environment === undefined || c.environment === s.environment).map((c) => c.name),
  );
  return s.names.filter((n) => !known.has(n));
}

/** A fleet id: an identifier (it is part of every member's ticket id, `fleet-<id>`). */
export function isFleetId(id: string): boolean {
  return IDENTIFIER.test(id) && id.length <= 100;
}

/** The change ticket every member rotation runs under. */
export const fleetTicketId = (fleetId: string) => `fleet-${fleetId}`;
/** The parent workflow's id. */
export const fleetWorkflowId = (fleetId: string) => `rekey-fleet:${fleetId}`;

export const MEMBER_STATES = ['pending', 'running', 'completed', 'failed', 'skipped'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

/** A member as the fleet tracks it: no policy, no key, only where its rotation is. */
export interface FleetMember {
  credential: string;
  environment: string;
  rotationId: string;
  workflowId: string;
  state: MemberState;
  /** The rotation's phase as last seen (its RotationPhase search attribute). */
  phase?: string;
  /** Why it failed or was skipped. */
  why?: string;
  startedAt?: string;
  endedAt?: string;
}

/** One fleet approval as the API recorded it: who approved which gate, and what each member answered. */
export interface FleetApprovalRecord {
  by: string;
  gate: keyof typeof GATE_PHASE;
  at: string;
  comment?: string;
  accepted: string[];
  refused: { rotationId: string; why: string }[];
}

/** What a fleet is and where its members are (the fleet workflow's fleetStatus query). */
export interface FleetStatus {
  fleetId: string;
  requestedBy: string;
  reason: string;
  selector: FleetSelector;
  approval: FleetApproval;
  concurrency: number;
  startsPerMinute: number;
  startedAt: string;
  finished: boolean;
  counts: ReturnType<typeof fleetCounts>;
  members: FleetMember[];
  approvals: FleetApprovalRecord[];
  /** The fleet workflow's run (continue-as-new), from 1. */
  run: number;
}

/** Phases in which a rotation waits for a person: it holds no slot of the concurrency limit. */
export const WAITING_PHASES = [
  'AWAITING_REPLACEMENT_KEY',
  'AWAITING_FLIP_APPROVAL',
  'AWAITING_REVOKE_APPROVAL',
] as const;

const isWaiting = (phase: string | undefined) =>
  (WAITING_PHASES as readonly (string | undefined)[]).includes(phase);

/** A running member that works (issues, canaries, holds, revokes): one slot. */
export const holdsSlot = (m: FleetMember) => m.state === 'running' && !isWaiting(m.phase);

/** How many pending members may start now under the concurrency limit. */
export function startableCount(members: readonly FleetMember[], concurrency: number): number {
  const busy = members.filter(holdsSlot).length;
  const pending = members.filter((m) => m.state === 'pending').length;
  return Math.max(0, Math.min(pending, concurrency - busy));
}

export const isFinished = (m: FleetMember) =>
  m.state === 'completed' || m.state === 'failed' || m.state === 'skipped';

/** Counts per member state and per phase of the running ones, as the status shows them. */
export function fleetCounts(members: readonly FleetMember[]): {
  total: number;
  byState: Record<MemberState, number>;
  byPhase: Record<string, number>;
} {
  const byState = Object.fromEntries(MEMBER_STATES.map((s) => [s, 0])) as Record<MemberState, number>;
  const byPhase: Record<string, number> = {};
  for (const m of members) {
    byState[m.state] += 1;
    const phase =
      m.state === 'running'
        ? (m.phase ?? 'PREPARING')
        : m.state === 'pending'
          ? 'PENDING'
          : m.state === 'completed'
            ? 'COMPLETED'
            : m.state === 'skipped'
              ? 'SKIPPED'
              : (m.phase ?? 'FAILED');
    byPhase[phase] = (byPhase[phase] ?? 0) + 1;
  }
  return { total: members.length, byState, byPhase };
}

/** The phase a gate waits in. */
export const GATE_PHASE = { flip: 'AWAITING_FLIP_APPROVAL', revoke: 'AWAITING_REVOKE_APPROVAL' } as const;

/**
 * Whether one approval may stand for the fleet at this gate: only when every member not finished (nor
 * rolling back) waits at it, none still pending or working, so the approver sees the whole fleet's
 * evidence at once.
 */
export function fleetApprovalReadiness(
  members: readonly FleetMember[],
  gate: keyof typeof GATE_PHASE,
): { ready: true; rotationIds: string[] } | { ready: false; why: string } {
  // A member rolling back will never reach the gate (and may wait for a person to revoke the key it
  // kept): it does not hold the others back.
  const open = members.filter((m) => !isFinished(m) && m.phase !== 'ROLLING_BACK');
  if (open.length === 0)
    return { ready: false, why: 'no member can reach the gate: all finished or rolling back' };
  const notThere = open.filter((m) => m.state !== 'running' || m.phase !== GATE_PHASE[gate]);
  if (notThere.length > 0) {
    const counts = fleetCounts(notThere).byPhase;
    const listed = Object.entries(counts)
      .map(([p, n]) => `${n} ${p}`)
      .join(', ');
    return {
      ready: false,
      why: `${notThere.length} of ${open.length} unfinished members are not at ${GATE_PHASE[gate]} (${listed})`,
    };
  }
  return { ready: true, rotationIds: open.map((m) => m.rotationId) };
}
