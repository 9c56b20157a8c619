// bench/leak-to-revoked: how long from a signed leak alert to the leaked key refused by the gateway on
// every replica. On the real stack the integration tests use (reference gateway with replicas, Key Vault,
// Prometheus, Temporal dev server, worker, API), for N LiteLLM credentials: an app sends traffic on the
// credential's key, a signed GitHub partner-program alert names that key, and the bench polls the
// primary and each replica every 100 ms until all answer 401. The policy is the registry's
// rotation_policy with emergency_revoke: alert (the verified alert approves the revoke once the canary
// and the first post-flip check pass) and a 0.1-minute check interval. Not a test: it measures.
//   npx tsx bench/leak-to-revoked.ts [--n 20] [--concurrency 4] [--replica-delay-ms 1000]
// Last line: `leak-to-revoked: n=20 p50_s=… max_s=…`.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createExposureRecordStore } from '../api/exposures/record-store';
import { parseGithubPublicKeys } from '../api/exposures/signatures';
import globalSetup from '../test/harness/global-setup';
import globalTeardown from '../test/harness/global-teardown';
import { applyNodeExtraCaCerts } from '../scripts/local-stack';
import { startRotationStack, type StackCredential } from '../test/helpers/rotation-stack';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg('n', 20);
const CONCURRENCY = arg('concurrency', 4);
const REPLICA_DELAY_MS = arg('replica-delay-ms', 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

const POLICY = {
  change_ticket: { rollback_owner: 'carol@example.com' },
  allowed_routes: ['chat-completions', 'responses'],
  pre_checks: { inventory_confirmed: true },
  cutover: {
    observation_window_minutes: 1,
    check_interval_minutes: 0.1,
    drain_window_minutes: 0,
    max_hold_minutes: 5,
  },
  thresholds: { min_requests: 5 },
  approvals: { emergency_revoke: 'alert' },
  evidence: {
    auth_error_check: 'required',
    usage_owner_check: 'required',
    cost_anomaly_check: 'required',
    old_key_negative_test: 'required',
  },
};

async function main() {
  await globalSetup();
  // The harness set the CA bundle of its Key Vault after this process started: trust it now.
  applyNodeExtraCaCerts();

  const run = randomBytes(3).toString('hex');
  const credentials: StackCredential[] = Array.from({ length: N }, (_, i) => ({
    name: `bench-leak-${i}-${run}`,
    environment: 'bench',
    ticket: `CHG-B${i}${run}`,
    adapter: 'litellm',
  }));
  const keyId = randomBytes(32).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keys = parseGithubPublicKeys(
    JSON.stringify({
      public_keys: [
        { key_identifier: keyId, key: publicKey.export({ format: 'pem', type: 'spki' }), is_current: true },
      ],
    }),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-exposures-'));
  const stack = await startRotationStack(credentials, {
    replicas: [{ revocationDelayMs: 0 }, { revocationDelayMs: REPLICA_DELAY_MS }],
    registryFields: () => ({ owner: 'platform-ai', rotation_policy: POLICY }),
    apiDeps: { exposures: { records: createExposureRecordStore(dir), githubPublicKeys: keys } },
  });
  const bases = [stack.gatewayBase, ...stack.replicas.map((r) => r.base)];
  const statusOn = async (base: string, key: string) => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  const seconds: number[] = [];
  const failures: string[] = [];
  async function one(c: StackCredential, i: number) {
    const oldKey = (await stack.readSecret(c))!;
    const app = await stack.startApp(c, { requestsPerMinute: 180 });
    await sleep(3000);
    const body = JSON.stringify([
      {
        token: oldKey,
        type: 'litellm_virtual_key',
        url: `https://github.com/example/app/blob/${i}/.env`,
        source: 'content',
      },
    ]);
    const t0 = performance.now();
    const res = await stack.call('POST', '/v1/exposures/github', null, body, {
      'content-type': 'application/json',
      'GITHUB-PUBLIC-KEY-IDENTIFIER': keyId,
      'GITHUB-PUBLIC-KEY-SIGNATURE': sign('sha256', Buffer.from(body), {
        key: privateKey,
        dsaEncoding: 'der',
      }).toString('base64'),
    });
    const alert =
      res.statusCode === 202
        ? res.json<{ alerts: { action: string; rotationId?: string }[] }>().alerts[0]
        : undefined;
    const action = alert?.action;
    if (action !== 'started') {
      failures.push(`${c.name}: ${res.statusCode} ${action ?? res.body.slice(0, 200)}`);
      await app.stop();
      return;
    }
    const deadline = t0 + 5 * 60_000;
    for (;;) {
      const statuses = await Promise.all(bases.map((b) => statusOn(b, oldKey)));
      if (statuses.every((s) => s === 401)) break;
      if (performance.now() > deadline) {
        failures.push(
          `${c.name}: old key still answered ${statuses.join('/')} after 5 minutes; ` +
            (await whereItStands(alert?.rotationId)),
        );
        await app.stop();
        return;
      }
      await sleep(100);
    }
    const s = (performance.now() - t0) / 1000;
    seconds.push(s);
    console.log(`alert ${String(i + 1).padStart(2)}: ${s.toFixed(2)} s (${c.name})`);
    await app.stop();
  }

  /** Where a rotation that did not revoke in time stands: its phase, gate and latest timeline entries. */
  async function whereItStands(rotationId: string | undefined): Promise<string> {
    if (!rotationId) return 'no rotation id';
    const res = await stack.call('GET', `/v1/rotations/${encodeURIComponent(rotationId)}`, 'dave');
    const s = res.json<{
      detail?: {
        phase: string;
        pendingGate?: { gate: string; blockers?: string[] };
        timeline: { event: string; detail?: string }[];
      } | null;
    }>().detail;
    if (!s) return `rotation ${rotationId}: ${res.statusCode}, no status`;
    const last = s.timeline
      .slice(-4)
      .map((t) => `${t.event}${t.detail ? ` (${t.detail.slice(0, 120)})` : ''}`);
    return (
      `rotation ${rotationId} in ${s.phase}` +
      (s.pendingGate ? `, gate ${s.pendingGate.gate}: ${(s.pendingGate.blockers ?? []).join('; ')}` : '') +
      `; last: ${last.join(' | ')}`
    );
  }

  const started = performance.now();
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, N) }, async () => {
        while (next < N) {
          const i = next++;
          await one(credentials[i]!, i);
        }
      }),
    );
  } finally {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    await globalTeardown();
  }
  for (const f of failures) console.log(`failed: ${f}`);
  console.log(
    `replicas=${stack.replicas.length} slowest_replica_revocation_delay_s=${(REPLICA_DELAY_MS / 1000).toFixed(1)} ` +
      `concurrency=${CONCURRENCY} wall_s=${((performance.now() - started) / 1000).toFixed(1)} failed=${failures.length}`,
  );
  console.log(
    `leak-to-revoked: n=${seconds.length} p50_s=${percentile(seconds, 0.5).toFixed(2)} max_s=${Math.max(...seconds).toFixed(2)}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
