// The shape checks of the workflow's message validators, as plain functions over the same lists as the
// schemas in messages.ts (no zod: it would add about 70% to the workflow bundle). Messages come as
// untrusted JSON (the Temporal CLI and UI send them too), so every check takes `unknown`. Each check
// accepts everything messages.ts accepts, and everything earlier rekey versions accepted: a signal's
// handler runs again on replay, and must decide as it did. A refusal is the text the timeline records.
import { EXPOSURE_SOURCES, FINGERPRINT, GATES } from './vocabulary';

/** Every text field a message may carry (messages.ts; a unit test holds the two together). */
export const MESSAGE_TEXT_FIELDS = [
  'gate',
  'comment',
  'reason',
  'breakGlassReason',
  'riskReason',
  'version',
  'fingerprint',
] as const;
/** The fields of an exception, all text. */
export const EXCEPTION_INPUT_FIELDS = ['consumer', 'owner', 'expiresAt', 'compensatingControl'] as const;

/** Most exceptions one message may carry, and the longest text of one (both above the API's limits). */
export const MAX_MESSAGE_EXCEPTIONS = 200;
export const MAX_EXCEPTION_TEXT = 500;

/**
 * Asked about every text a message carries, in order: a refusal text, or undefined. The workflow uses it
 * to refuse anything shaped like an API key, since whatever a message carries is written to history.
 */
export type TextScreen = (text: string, field: string, where: 'message' | 'exception') => string | undefined;

const passAll: TextScreen = () => undefined;

/** Why a message's arguments are malformed, or undefined: actor, text fields, minutes, exceptions. */
export function malformedMessage(
  args: unknown,
  nowMs: number,
  screen: TextScreen = passAll,
): string | undefined {
  if (!args || typeof args !== 'object') return 'arguments must be an object with principal and roles';
  const a = args as Record<string, unknown>;
  if (typeof a.principal !== 'string' || !a.principal.trim()) return 'principal is required';
  if (!Array.isArray(a.roles) || !a.roles.every((r) => typeof r === 'string')) {
    return 'roles must be a list of role names';
  }
  for (const field of MESSAGE_TEXT_FIELDS) {
    const value = a[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return `${field} must be text`;
    const refused = screen(value, field, 'message');
    if (refused) return refused;
  }
  if (a.minutes !== undefined && typeof a.minutes !== 'number') return 'minutes must be a number';
  if (a.exceptions !== undefined) return malformedExceptions(a.exceptions, nowMs, screen);
  return undefined;
}

/** Why a message's exceptions are malformed: each names a consumer, an owner, a future expiry, a control. */
export function malformedExceptions(
  value: unknown,
  nowMs: number,
  screen: TextScreen = passAll,
): string | undefined {
  if (!Array.isArray(value) || value.length > MAX_MESSAGE_EXCEPTIONS) {
    return `exceptions must be a list (at most ${MAX_MESSAGE_EXCEPTIONS})`;
  }
  for (const e of value as unknown[]) {
    if (!e || typeof e !== 'object') return 'each exception must be an object';
    const fields = e as Record<string, unknown>;
    for (const field of EXCEPTION_INPUT_FIELDS) {
      const v = fields[field];
      if (typeof v !== 'string' || !v.trim() || v.length > MAX_EXCEPTION_TEXT) {
        return `exception ${field} is required text (${EXCEPTION_INPUT_FIELDS.join(', ')})`;
      }
      const refused = screen(v, field, 'exception');
      if (refused) return refused;
    }
    const expires = Date.parse(fields.expiresAt as string);
    if (!Number.isFinite(expires)) return `exception expiresAt ${String(fields.expiresAt)} is not a date`;
    if (expires <= nowMs) return `exception expiresAt ${String(fields.expiresAt)} is not in the future`;
  }
  return undefined;
}

/** Why a gate named in a message is not one, or undefined. */
export function unknownGate(gate: unknown): string | undefined {
  return (GATES as readonly unknown[]).includes(gate)
    ? undefined
    : `unknown gate ${String(gate)} (${GATES.join(' or ')})`;
}

/** Why a replacement-key hand-off does not name a version and a fingerprint, or undefined. */
export function malformedHandOff(a: { version?: unknown; fingerprint?: unknown }): string | undefined {
  if (typeof a.version !== 'string' || !a.version) return 'version is required';
  if (typeof a.fingerprint !== 'string' || !FINGERPRINT.test(a.fingerprint)) {
    return 'fingerprint must be sha256: followed by 12 hex characters';
  }
  return undefined;
}

/** The text fields of an exposure (domain/exposures.ts), each screened like a message's text. */
export const EXPOSURE_TEXT_FIELDS = ['alertId', 'url', 'receivedAt'] as const;

/** Why an escalation's exposure is malformed, or undefined: a known source, an alert id, a fingerprint. */
export function malformedExposure(value: unknown, screen: TextScreen = passAll): string | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object') return 'exposure must be an object';
  const e = value as Record<string, unknown>;
  if (!(EXPOSURE_SOURCES as readonly unknown[]).includes(e.source)) {
    return `exposure source must be one of ${EXPOSURE_SOURCES.join(', ')}`;
  }
  if (typeof e.alertId !== 'string' || !e.alertId.trim() || e.alertId.length > 200) {
    return 'exposure alertId is required text (at most 200 characters)';
  }
  if (typeof e.fingerprint !== 'string' || !FINGERPRINT.test(e.fingerprint)) {
    return 'exposure fingerprint must be sha256: followed by 12 hex characters';
  }
  if (typeof e.receivedAt !== 'string' || !Number.isFinite(Date.parse(e.receivedAt))) {
    return 'exposure receivedAt must be a date-time';
  }
  if (e.url !== undefined && (typeof e.url !== 'string' || e.url.length > 2000)) {
    return 'exposure url must be text';
  }
  for (const field of EXPOSURE_TEXT_FIELDS) {
    const v = e[field];
    if (typeof v !== 'string') continue;
    const refused = screen(v, `exposure ${field}`, 'message');
    if (refused) return refused;
  }
  return undefined;
}
