// Summaries both telemetry adapters build from per-group counts: old-key requests per registered
// consumer (the canary's own excluded) and usage attribution by team.
import type { AttributionReport, ConsumerUsage, CredentialRef } from '../../domain/activity-io';

export interface GroupCount {
  group: string;
  count: number;
}

/** Requests per consumer: every registered consumer listed (zero when silent), unknown end users added. */
export function perConsumer(
  credential: CredentialRef,
  counts: GroupCount[],
  canaryUser: string,
): ConsumerUsage[] {
  const byConsumer = new Map(credential.consumers.map((c) => [c.app, 0]));
  for (const { group, count } of counts) {
    if (group === canaryUser) continue;
    // LiteLLM writes the literal "None" for a request without an end user: nobody's, not a consumer.
    const name = group && group !== 'None' ? group : 'unattributed';
    byConsumer.set(name, (byConsumer.get(name) ?? 0) + count);
  }
  return [...byConsumer].map(([consumer, requests]) => ({ consumer, requests }));
}

/**
 * Attribution from requests per team. No usage recorded yet is `inconclusive` (no owner to name): the
 * workflow decides whether to look again or ask a human, it never counts as a pass.
 */
export function attributionFrom(teams: GroupCount[], expectedOwner: string): AttributionReport {
  const seen = teams.filter((t) => t.count > 0).sort((a, b) => b.count - a.count);
  if (seen.length === 0) return { verdict: 'inconclusive', passed: false, expectedOwner, anomalies: [] };
  const owner = seen[0]!.group;
  const anomalies = seen
    .filter((t) => t.group !== expectedOwner)
    .map((t) => `${t.count} request(s) attributed to team "${t.group || 'none'}"`);
  const passed = anomalies.length === 0;
  return { verdict: passed ? 'pass' : 'fail', passed, owner, team: owner, expectedOwner, anomalies };
}
