// Proof on every replica (issue 15 item 3). A gateway behind a load balancer answers each call from one
// replica, and each replica caches keys (LiteLLM #9820: a blocked key kept working on other pods; #2149:
// a deleted key on a second instance). One call through the balancer proves one replica only, so the
// canary, the negative test and the grace check address each replica's base URL directly.
import { lookup } from 'node:dns/promises';
import type { Route } from '../../domain/policy';
import type { GatewayProbe } from '../../domain/ports';
import type {
  CanaryReport,
  CredentialRef,
  NegativeTestResult,
  OldKeyGrace,
  ReplicaNegativeTest,
} from '../../domain/activity-io';
import { runNegativeTest, type NegativeTestOptions } from './negative-test';

/** Every address a name resolves to (A and AAAA, as the system resolver and /etc/hosts answer). */
export type ResolveAll = (name: string) => Promise<string[]>;

export const resolveAll: ResolveAll = async (name) =>
  (await lookup(name, { all: true, verbatim: true })).map((a) => a.address);

/** `base` with its host replaced by an address (IPv6 in brackets), port and path kept. */
function withHost(base: string, address: string): string {
  const url = new URL(base);
  url.hostname = address.includes(':') ? `[${address}]` : address;
  return url.toString().replace(/\/+$/, '');
}

/**
 * The base URLs to prove a key on: the registry's replica list, each address of its replica name, or
 * (no replicas registered) the base URL alone, which leaves single-gateway behaviour unchanged.
 */
export async function replicaBaseUrls(
  credential: Pick<CredentialRef, 'gatewayBaseUrl' | 'gatewayReplicas' | 'gatewayReplicasDns'>,
  resolve: ResolveAll = resolveAll,
): Promise<{ replicated: boolean; urls: string[] }> {
  if (credential.gatewayReplicas?.length) return { replicated: true, urls: credential.gatewayReplicas };
  if (!credential.gatewayReplicasDns) return { replicated: false, urls: [credential.gatewayBaseUrl] };
  const addresses = [...new Set(await resolve(credential.gatewayReplicasDns))];
  // An empty answer is retried like any lookup failure: proving "every replica" of none proves nothing.
  if (addresses.length === 0) throw new Error(`${credential.gatewayReplicasDns} resolves to no address`);
  return { replicated: true, urls: addresses.map((a) => withHost(credential.gatewayBaseUrl, a)) };
}

/** The canary on each replica in turn; every request names its replica, and one failing replica fails it. */
export async function canaryOnReplicas(
  probe: GatewayProbe,
  replicas: { replicated: boolean; urls: string[] },
  key: string,
  routes: Route[],
): Promise<CanaryReport> {
  if (!replicas.replicated) return probe.canary(replicas.urls[0]!, key, routes);
  const reports: CanaryReport[] = [];
  for (const replica of replicas.urls) {
    const report = await probe.canary(replica, key, routes);
    reports.push({ ...report, requests: report.requests.map((r) => ({ ...r, replica })) });
  }
  return { passed: reports.every((r) => r.passed), requests: reports.flatMap((r) => r.requests) };
}

/**
 * The negative test on every replica at once (each waits out its own propagation); it passes only when
 * every replica refuses the old key and accepts the new one. The top-level statuses are those of the
 * first replica that failed, else of the last, so a single-URL reader still sees the worst case.
 */
export async function negativeTestOnReplicas(
  probe: GatewayProbe,
  replicas: { replicated: boolean; urls: string[] },
  oldKey: string,
  newKey: string,
  opts: NegativeTestOptions,
): Promise<NegativeTestResult> {
  if (!replicas.replicated) return runNegativeTest(probe, replicas.urls[0]!, oldKey, newKey, opts);
  const results = await Promise.all(
    replicas.urls.map(async (replica) => ({
      replica,
      result: await runNegativeTest(probe, replica, oldKey, newKey, opts),
    })),
  );
  const perReplica: ReplicaNegativeTest[] = results.map(({ replica, result: r }) => ({
    replica,
    oldKeyStatus: r.oldKeyStatus,
    oldKeyRejected: r.oldKeyRejected,
    newKeyStatus: r.newKeyStatus,
    newKeyAccepted: r.newKeyAccepted,
    attempts: r.attempts,
  }));
  const worst = perReplica.find((r) => !r.oldKeyRejected || !r.newKeyAccepted) ?? perReplica.at(-1)!;
  return {
    oldKeyStatus: worst.oldKeyStatus,
    oldKeyRejected: perReplica.every((r) => r.oldKeyRejected),
    newKeyStatus: worst.newKeyStatus,
    newKeyAccepted: perReplica.every((r) => r.newKeyAccepted),
    attempts: Math.max(...perReplica.map((r) => r.attempts)),
    at: results.at(-1)!.result.at,
    replicas: perReplica,
  };
}

/** Just before revoke: does the old key still answer 2xx on every replica (its grace kept)? */
export async function oldKeyGraceOnReplicas(
  probe: GatewayProbe,
  replicas: { urls: string[] },
  oldKey: string,
  now: () => number = Date.now,
): Promise<OldKeyGrace> {
  const checked = await Promise.all(
    replicas.urls.map(async (replica) => {
      // No answer at all is not 2xx either: apps on that replica get nothing with the old key.
      const status = await probe.status(replica, oldKey).catch(() => 0);
      return { replica, status, ok: status >= 200 && status < 300 };
    }),
  );
  return { passed: checked.every((c) => c.ok), at: new Date(now()).toISOString(), replicas: checked };
}
