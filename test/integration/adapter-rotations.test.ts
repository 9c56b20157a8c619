import { randomBytes } from 'node:crypto';
import type { AdminAdapterKind } from '../../domain/activity-io';
import type { RotationStatus } from '../../workflows/messages';
import { STACK_OPENAI_PROJECT } from '../helpers/adapter-keys';
import {
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// A full rotation through each admin adapter the reference gateway has an admin API for besides
// LiteLLM (whose full rotations are in api-rotation.test.ts and backend-rotation.test.ts): OpenRouter,
// Portkey, OpenAI project keys, and a manual gateway (a person hands the key over and revokes the old
// one). Each runs on the real stack (Key Vault, Temporal, Prometheus, worker, API) with an app on the
// stable secret, to COMPLETED on positive evidence; the old key answers 2xx until rekey revokes it
// and 401 afterwards.
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const ADAPTERS = ['openrouter', 'portkey', 'openai-admin', 'manual'] as const;
type Adapter = (typeof ADAPTERS)[number];
const credentials = Object.fromEntries(
  ADAPTERS.map((adapter, i) => [
    adapter,
    { name: `${adapter}-${run}`, environment: 'adapters', ticket: `CHG-AD${i}${run}`, adapter },
  ]),
) as Record<Adapter, StackCredential>;
const all = Object.values(credentials);
/** How each adapter revokes: a reversible disable first only where the gateway has one. */
const METHOD: Record<Adapter, string> = {
  openrouter: 'disable-then-delete',
  portkey: 'delete-only',
  'openai-admin': 'delete-only',
  manual: 'manual',
};

let stack: RotationStack;
const apps = new Map<StackCredential, StackApp>();
const oldValues = new Map<StackCredential, string>();
const UNTIL = { timeoutMs: 5 * 60_000, intervalMs: 1000, expectOk: true };
const until = (c: StackCredential, done: (s: RotationStatus) => boolean, what: string) =>
  stack.untilStatus(stack.idOf(c), done, what, UNTIL);
const untilPhase = (c: StackCredential, phases: string[]) =>
  until(c, (s) => phases.includes(s.phase), phases.join('|'));
const rotationUrl = (c: StackCredential, suffix: string) =>
  `/v1/rotations/${encodeURIComponent(stack.idOf(c))}${suffix}`;

/** Whether the gateway's admin API still lists the key (by its admin id). */
async function adminKnows(adapter: AdminAdapterKind, keyId: string): Promise<boolean> {
  const path =
    adapter === 'portkey'
      ? `/v1/api-keys/${keyId}`
      : adapter === 'openai-admin'
        ? `/v1/organization/projects/${STACK_OPENAI_PROJECT}/api_keys/${keyId}`
        : `/api/v1/keys/${keyId}`;
  const headers: Record<string, string> =
    adapter === 'portkey'
      ? { 'x-portkey-api-key': stack.gatewayAdminKey }
      : { authorization: `Bearer ${stack.gatewayAdminKey}` };
  const res = await fetch(`${stack.gatewayBase}${path}`, { headers });
  await res.arrayBuffer();
  return res.status === 200;
}

beforeAll(async () => {
  stack = await startRotationStack(all);
  for (const c of all) {
    oldValues.set(c, (await stack.readSecret(c))!);
    apps.set(c, await stack.startApp(c, { requestsPerMinute: 240 }));
  }
  await new Promise((r) => setTimeout(r, 3000));
  for (const c of all) await stack.start(c, { thresholds: { min_requests: 15 } });
});

afterAll(async () => {
  await stack?.close();
});

describe.each(ADAPTERS)('a full rotation through the %s adapter', (adapter) => {
  it('reaches COMPLETED; the old key answers until rekey revokes it, then is refused', async () => {
    const c = credentials[adapter];
    const app = apps.get(c)!;
    const oldValue = oldValues.get(c)!;
    if (adapter === 'manual') {
      // A person issues the replacement at the gateway and hands it over through the API.
      await untilPhase(c, ['AWAITING_REPLACEMENT_KEY']);
      const replacement = await stack.newGatewayKey();
      const handed = await stack.call('PUT', rotationUrl(c, '/replacement-key'), 'alice', {
        key: replacement,
      });
      expect(handed.statusCode).toBe(202);
    }
    const gate = await untilPhase(c, ['AWAITING_REVOKE_APPROVAL']);
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
    const { old: oldFp, new: newFp } = gate.fingerprints;
    expect(app.fingerprint).toBe(newFp);
    if (adapter !== 'manual') {
      expect(gate.gatewayKeys.old).toBeTruthy();
      expect(gate.gatewayKeys.new).not.toBe(gate.gatewayKeys.old);
    }
    // Up to the revoke the old key kept working: every call the app made with it, and one now.
    expect(app.stats(oldFp!)!.answers).toEqual({ '200': expect.any(Number) });
    expect(await stack.gatewayStatus(oldValue)).toBe(200);

    const approved = await stack.call('POST', rotationUrl(c, '/approvals'), 'bob', {
      gate: 'revoke',
      decision: 'approve',
      comment: `${adapter}: drain is clean`,
    });
    expect(approved.statusCode).toBe(200);
    // The person revokes the old key at the gateway, then says so.
    if (adapter === 'manual') await stack.revokeByHand(c, oldValue, UNTIL);

    const done = await untilPhase(c, ['COMPLETED']);
    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    expect(done.revocation).toMatchObject({ method: METHOD[adapter] });
    expect(done.versions.retired).toMatchObject({ fingerprint: oldFp, enabled: false });
    expect(await stack.gatewayStatus(oldValue)).toBe(401);
    const current = (await stack.readSecret(c))!;
    stack.secrets.add(current);
    expect(await stack.gatewayStatus(current)).toBe(200);
    if (adapter !== 'manual') {
      expect(await adminKnows(adapter, done.gatewayKeys.old!)).toBe(false);
      expect(await adminKnows(adapter, done.gatewayKeys.new!)).toBe(true);
    }
  });
});

it('leaves no key value in any history, log line or response', async () => {
  await stack.assertNoKeyLeaks(all);
});
