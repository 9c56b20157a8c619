// What the demo writes for the worker and the API: the credential registry with one credential, the API
// token file (hashes only: the tokens live in the demo's memory), and the rotation policy, which is the
// seed's template with the demo's credential, gateway and a cutover short enough to watch.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { tokenHash } from '../../api/auth';
import { ROOT } from '../local-stack';

/** The demo credential, as registered and as the policy names it. */
export const DEMO_CREDENTIAL = {
  name: 'router-key',
  environment: 'demo',
  secretName: 'router-key',
  adminKeySecret: 'gateway-master-key',
  owner: 'platform-ai',
  app: 'customer-chat-api',
} as const;

/** The seed's rotation policy template, as the tests use it. */
export const SEED_POLICY_FILE = path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml');

/** Where the worker reads the demo credential's traffic (the registry's `telemetry` entry). */
export type DemoTelemetry = { adapter: 'prometheus'; url: string } | { adapter: 'litellm-spend-logs' };

/**
 * The credential registry (REKEY_CREDENTIALS_FILE): an automated LiteLLM key on the reference gateway.
 * `make demo` reads its traffic from a Prometheus scraping the gateway's per-key /metrics, where 401s
 * carry the key hash too, so every signal the seed's evidence section requires is observable per key;
 * the gateway's spend logs cannot show per-key 401/403.
 */
export function registryYaml(
  secret: Record<string, string>,
  gatewayBase: string,
  telemetry: DemoTelemetry,
): string {
  const c = DEMO_CREDENTIAL;
  return (
    '# Written by the rekey demo (scripts/demo/): the demo credential on the reference gateway.\n' +
    stringify({
      credentials: [
        {
          name: c.name,
          environment: c.environment,
          secret,
          gateway: {
            base_url: `${gatewayBase}/v1`,
            admin_adapter: 'litellm',
            admin_base_url: gatewayBase,
            admin_key_secret: c.adminKeySecret,
          },
          telemetry,
          consumers: [{ app: c.app, environment: c.environment, reload: 'dynamic', owner: c.owner }],
          approval_roles: { revoke: ['approver'] },
        },
      ],
    })
  );
}

/** Two principals with tokens made now; only their SHA-256 goes to the file the API reads. */
export function makeTokens() {
  const token = () => `rkd_${randomBytes(24).toString('hex')}`;
  return {
    // alice may approve too, so the demo can show four-eyes refusing her own rotation.
    alice: { principal: 'alice@demo', roles: ['requester', 'approver'] as const, token: token() },
    bob: { principal: 'bob@demo', roles: ['approver'] as const, token: token() },
  };
}
export type DemoTokens = ReturnType<typeof makeTokens>;

/** The API token file (REKEY_API_TOKENS_FILE). */
export function tokensYaml(tokens: DemoTokens): string {
  return (
    '# Written by the rekey demo (scripts/demo.ts): SHA-256 of tokens that exist only in its memory.\n' +
    stringify(
      Object.values(tokens).map((t) => ({
        sha256: tokenHash(t.token),
        principal: t.principal,
        roles: t.roles,
      })),
    )
  );
}

/** The seed's template for the demo credential: short observation, checks every 15 s, no drain wait. */
export function policyYaml(gatewayBase: string, ticket: string): string {
  const seed = parse(readFileSync(SEED_POLICY_FILE, 'utf8')) as { rotation: Record<string, unknown> };
  const r = seed.rotation;
  const c = DEMO_CREDENTIAL;
  const scope = r.scope as Record<string, unknown>;
  const cutover = r.cutover as Record<string, unknown>;
  const rotation = {
    ...r,
    credential: c.name,
    owner: c.owner,
    environment: c.environment,
    reason: 'scheduled security rotation (rekey demo)',
    change_ticket: { id: ticket, rollback_owner: 'bob@demo' },
    scope: { ...scope, apps: [c.app], gateway_base_url: `${gatewayBase}/v1` },
    cutover: {
      ...cutover,
      observation_window_minutes: 1,
      check_interval_minutes: 0.25,
      drain_window_minutes: 0,
      max_hold_minutes: 3,
    },
  };
  return (
    "# The seed's rotation policy template (test/fixtures/seed-policy.yaml) for the demo credential,\n" +
    '# with a cutover short enough to watch. Posted to the API by `rekey start -f` as alice@demo.\n' +
    stringify({ rotation })
  );
}
