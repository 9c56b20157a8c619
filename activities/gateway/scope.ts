// The scope rule of a rotation: the replacement key may do what the old key did and nothing more.
import type { KeyScope } from '../../domain/activity-io';

const limit = (v: number | null | undefined) => (v === null || v === undefined ? Infinity : v);
const shown = (v: number | null | undefined) => (v === null || v === undefined ? 'unlimited' : String(v));

/** Every way `next` is broader than `old` (or bills elsewhere), named; empty when it is not. */
export function scopeBroadening(old: KeyScope, next: KeyScope): string[] {
  const out: string[] = [];
  if (old.models.length > 0) {
    if (next.models.length === 0) out.push(`models: all models instead of ${old.models.join(', ')}`);
    const added = next.models.filter((m) => !old.models.includes(m));
    if (added.length > 0) out.push(`models: adds ${added.join(', ')}`);
  }
  for (const [name, a, b] of [
    ['max_budget', old.maxBudget, next.maxBudget],
    ['rpm_limit', old.rpmLimit, next.rpmLimit],
    ['tpm_limit', old.tpmLimit, next.tpmLimit],
  ] as const) {
    if (limit(b) > limit(a)) out.push(`${name}: ${shown(b)} instead of ${shown(a)}`);
  }
  if ((old.team ?? null) !== (next.team ?? null)) {
    out.push(`team: ${next.team ?? 'none'} instead of ${old.team ?? 'none'} (usage would roll up elsewhere)`);
  }
  return out;
}
