// The scope rule of a rotation: the replacement key may do what the old key did and nothing more, and
// keeps every limit and label the old key had. Compared field by field after the gateway answers, so a
// gateway that drops or rewrites a field on create is caught before the flip.
import type { KeyScope } from '../../domain/activity-io';
import type { KeyScopeCheck, KeyScopeRules, ScopeDiffEntry, ScopeField } from '../../domain/key-scope';

type Kind = ScopeDiffEntry['kind'];
type Num = number | null | undefined;

/** LiteLLM's key_alias rule: 2–255 characters, a-zA-Z0-9_-/.@, alphanumeric at both ends. */
export const KEY_ALIAS_MAX_LENGTH = 255;
/** Metadata keys rekey adds to a replacement; they are not part of the old key's scope. */
export const REKEY_METADATA_KEYS = ['rekey_rotation', 'rekey_replaces'] as const;
/** How far apart two expiry times may be and still count as the same (the create takes a moment). */
const EXPIRY_SLACK_MS = 5 * 60_000;

const limit = (v: Num) => (v === null || v === undefined ? Infinity : v);
const shown = (v: unknown): string => {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
};
const shownLimit = (v: Num) => (v === null || v === undefined ? 'unlimited' : String(v));
const sameJson = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}

/** The ticket part of a rotation id (`environment:credential:ticket`). */
const ticketOf = (rotationId: string) => rotationId.split(':').at(-1) ?? rotationId;
const aliasSafe = (s: string) => s.replace(/[^A-Za-z0-9_\-/.@]/g, '-');
/** A previous rotation's link is dropped, so aliases do not grow with every rotation. */
const aliasBase = (alias: string) => alias.replace(/\.rekey\/[^/]*$/, '');

/**
 * The replacement's alias: `<old alias>.rekey/<ticket>` (an earlier `.rekey/…` suffix replaced), the
 * old alias trimmed so the whole fits LiteLLM's 255 characters. Without an old alias the rotation id's
 * environment and credential stand in for it. Deterministic, so a retried issue asks for the same alias.
 */
export function linkedAlias(oldAlias: string | null | undefined, rotationId: string): string {
  const suffix = `.rekey/${aliasSafe(ticketOf(rotationId))}`.replace(/[^A-Za-z0-9]+$/, '');
  const parts = rotationId.split(':');
  const base = aliasSafe(oldAlias ? aliasBase(oldAlias) : parts.slice(0, -1).join('/') || 'key');
  const trimmed = base.slice(0, KEY_ALIAS_MAX_LENGTH - suffix.length).replace(/^[^A-Za-z0-9]+/, '');
  return `${trimmed || 'key'}${suffix}`;
}

/**
 * OpenRouter names are free text and not unique, and a key has no metadata to find it by, so the
 * replacement's name carries the whole rotation id: `<old name>.rekey/<environment:credential:ticket>`.
 */
export function linkedName(oldName: string | null | undefined, rotationId: string): string {
  return `${(oldName ? aliasBase(oldName) : '') || 'key'}.rekey/${rotationId}`;
}

/** The alias (name) a replacement on this gateway must come back with; undefined where it has none. */
export function expectedAlias(kind: string, oldAlias: string | null | undefined, rotationId: string) {
  if (kind === 'litellm') return linkedAlias(oldAlias, rotationId);
  if (kind === 'openrouter') return linkedName(oldAlias, rotationId);
  return undefined;
}

class Diff {
  readonly entries: ScopeDiffEntry[] = [];
  constructor(private readonly allowed: readonly ScopeField[]) {}

  add(field: ScopeField, kind: Kind, old: string, issued: string, detail?: string) {
    const k = kind === 'changed' && this.allowed.includes(field) ? 'allowed' : kind;
    this.entries.push({
      field,
      kind: k,
      old,
      issued,
      detail: detail ?? `${field}: ${issued} instead of ${old}`,
    });
  }

  /** A limit where absent means unlimited: higher is broader, lower narrower. */
  limit(field: ScopeField, a: Num, b: Num) {
    if (limit(a) === limit(b)) return;
    this.add(field, limit(b) > limit(a) ? 'broader' : 'narrower', shownLimit(a), shownLimit(b));
  }

  /** A value with no order (a label, a reset period): any difference is a change. */
  value(field: ScopeField, a: unknown, b: unknown) {
    if (!sameJson(a ?? null, b ?? null)) this.add(field, 'changed', shown(a), shown(b));
  }

  /** A list where empty means everything (models, routes): additions are broader, removals narrower. */
  allowList(field: ScopeField, a: string[], b: string[]) {
    if (a.length === 0 && b.length === 0) return;
    if (a.length > 0 && b.length === 0) {
      this.add(
        field,
        'broader',
        a.join(', '),
        'all',
        `${field}: all ${field.replace('_', ' ')} instead of ${a.join(', ')}`,
      );
      return;
    }
    const added = a.length === 0 ? [] : b.filter((m) => !a.includes(m));
    const removed = a.length === 0 ? ['all but ' + b.join(', ')] : a.filter((m) => !b.includes(m));
    if (added.length > 0)
      this.add(field, 'broader', a.join(', '), b.join(', '), `${field}: adds ${added.join(', ')}`);
    if (removed.length > 0)
      this.add(
        field,
        'narrower',
        a.join(', ') || 'all',
        b.join(', '),
        `${field}: drops ${removed.join(', ')}`,
      );
  }

  /** Per-model limits: a model losing its limit, or a higher one, is broader. */
  perModel(
    field: ScopeField,
    a: Record<string, number> | null | undefined,
    b: Record<string, number> | null | undefined,
  ) {
    const oldMap = a ?? {};
    const newMap = b ?? {};
    for (const model of new Set([...Object.keys(oldMap), ...Object.keys(newMap)])) {
      const [x, y] = [oldMap[model], newMap[model]];
      if (limit(x) === limit(y)) continue;
      this.add(
        field,
        limit(y) > limit(x) ? 'broader' : 'narrower',
        shownLimit(x),
        shownLimit(y),
        `${field}[${model}]: ${shownLimit(y)} instead of ${shownLimit(x)}`,
      );
    }
  }
}

/** Metadata values as JSON, so 4711 and "4711" read differently. */
const metaShown = (v: unknown) => (v === undefined ? 'none' : JSON.stringify(v));

function compareMetadata(d: Diff, a: KeyScope['metadata'], b: KeyScope['metadata']) {
  const strip = (m: Record<string, unknown> = {}) =>
    Object.fromEntries(
      Object.entries(m).filter(
        ([k]) => !(REKEY_METADATA_KEYS as readonly string[]).includes(k) && k !== 'tags',
      ),
    );
  const [x, y] = [strip(a), strip(b)];
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (!sameJson(x[k], y[k]))
      d.add(
        'metadata',
        'changed',
        metaShown(x[k]),
        metaShown(y[k]),
        `metadata.${k}: ${metaShown(y[k])} instead of ${metaShown(x[k])}`,
      );
  }
}

function compareExpiry(d: Diff, a: string | null | undefined, b: string | null | undefined) {
  const [x, y] = [a ? Date.parse(a) : Infinity, b ? Date.parse(b) : Infinity];
  if (x === y || Math.abs(x - y) <= EXPIRY_SLACK_MS) return;
  if (x === Infinity) d.add('expires', 'narrower', 'never', shown(b));
  else if (y === Infinity) d.add('expires', 'broader', shown(a), 'never', `expires: never instead of ${a}`);
  else d.add('expires', y > x ? 'changed' : 'narrower', shown(a), shown(b));
}

export interface ScopeCompareOptions {
  /** The alias the replacement must have (it links to the old one; see linkedAlias). */
  expectedAlias?: string;
  allowChanged?: readonly ScopeField[];
}

/** Every difference between the old key's scope and the issued one, classified. */
export function compareScopes(
  old: KeyScope,
  issued: KeyScope,
  opts: ScopeCompareOptions = {},
): ScopeDiffEntry[] {
  const d = new Diff(opts.allowChanged ?? []);
  d.allowList('models', old.models, issued.models);
  d.limit('max_budget', old.maxBudget, issued.maxBudget);
  d.value('budget_duration', old.budgetDuration, issued.budgetDuration);
  d.value('soft_budget', old.softBudget, issued.softBudget);
  d.limit('rpm_limit', old.rpmLimit, issued.rpmLimit);
  d.limit('tpm_limit', old.tpmLimit, issued.tpmLimit);
  d.limit('max_parallel_requests', old.maxParallelRequests, issued.maxParallelRequests);
  d.perModel('model_max_budget', old.modelMaxBudget, issued.modelMaxBudget);
  d.perModel('model_rpm_limit', old.modelRpmLimit, issued.modelRpmLimit);
  d.perModel('model_tpm_limit', old.modelTpmLimit, issued.modelTpmLimit);
  d.allowList('allowed_routes', old.allowedRoutes ?? [], issued.allowedRoutes ?? []);
  if ((old.team ?? null) !== (issued.team ?? null)) {
    const [a, b] = [old.team ?? 'none', issued.team ?? 'none'];
    d.add('team_id', 'broader', a, b, `team: ${b} instead of ${a} (usage would roll up elsewhere)`);
  }
  d.value('user_id', old.owner, issued.owner);
  compareMetadata(d, old.metadata, issued.metadata);
  d.value('tags', [...(old.tags ?? [])].sort(), [...(issued.tags ?? [])].sort());
  compareExpiry(d, old.expiresAt, issued.expiresAt);
  if (opts.expectedAlias !== undefined) d.value('key_alias', opts.expectedAlias, issued.keyAlias);
  d.value('limit_reset', old.limitReset, issued.limitReset);
  // Old usage counted BYOK against the limit; a key that does not count it may spend more.
  if (old.includeByokInLimit === true && issued.includeByokInLimit !== true)
    d.add('include_byok_in_limit', 'broader', 'true', shown(issued.includeByokInLimit ?? false));
  else if (old.includeByokInLimit !== true && issued.includeByokInLimit === true)
    d.add('include_byok_in_limit', 'narrower', 'false', 'true');
  return d.entries;
}

/** Failing entries: any broadening, and any change the policy does not allow. */
export const scopeFailures = (diff: ScopeDiffEntry[]) =>
  diff.filter((e) => e.kind === 'broader' || e.kind === 'changed');

/** The comparison as a rotation records it. */
export function checkScope(old: KeyScope, issued: KeyScope, opts: ScopeCompareOptions = {}): KeyScopeCheck {
  const diff = compareScopes(old, issued, opts);
  const verdict = scopeFailures(diff).length
    ? 'fail'
    : diff.some((e) => e.kind === 'allowed')
      ? 'changed-as-allowed'
      : diff.length
        ? 'narrower'
        : 'same';
  return { old, issued, diff, verdict };
}

/** Every way `next` is broader than `old` (or bills elsewhere), named; empty when it is not. */
export function scopeBroadening(old: KeyScope, next: KeyScope): string[] {
  return compareScopes(old, next)
    .filter((e) => e.kind === 'broader')
    .map((e) => e.detail);
}

/**
 * How long the replacement may live: the old key's remaining lifetime (never longer, which would
 * broaden it). Refused when the old key has expired, or expires sooner than the policy's minimum —
 * unless the policy allows `expires` to change, when the replacement gets the minimum.
 */
export function replacementLifetime(
  old: KeyScope,
  rules: KeyScopeRules,
  nowMs: number,
): { ok: true; durationSeconds: number | null } | { ok: false; reason: string } {
  if (!old.expiresAt) return { ok: true, durationSeconds: null };
  const remaining = Date.parse(old.expiresAt) - nowMs;
  const minimum = rules.minLifetimeMs;
  const minText = `${Math.round(minimum / 60_000)} min`;
  if (remaining < minimum && rules.allowChanged.includes('expires'))
    return { ok: true, durationSeconds: Math.ceil(minimum / 1000) };
  if (remaining <= 0)
    return {
      ok: false,
      reason: `the old key expired at ${old.expiresAt}: a copy of its scope would be issued already expired; allow key_scope.allow_changed: [expires] to issue one with ${minText}`,
    };
  if (remaining < minimum)
    return {
      ok: false,
      reason: `the old key expires at ${old.expiresAt}, in less than key_scope.min_lifetime_minutes (${minText}); extend it, lower the minimum, or allow expires to change`,
    };
  return { ok: true, durationSeconds: Math.floor(remaining / 1000) };
}
