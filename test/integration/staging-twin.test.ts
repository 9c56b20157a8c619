import { randomBytes } from 'node:crypto';
import type { RotationStatus } from '../../workflows/messages';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// Staging before production on the real stack (Temporal dev server and its visibility, reference
// gateway, Key Vault, Prometheus, worker, API). One staging credential is the twin of two production
// credentials: `first` names it with mode run, `gated` with mode require.
// - `gated` before any staging rotation: the API refuses the start (409), nothing starts. (The
//   workflow's own gate, for rotations started elsewhere, fails in PREPARING: the workflow tests.)
// - `first`: rekey runs the staging rotation first as a child workflow (same ticket, same policy),
//   which on-call approves like any other; production waits in PREPARING, then rotates to COMPLETED.
// - `gated` with another policy (a threshold changed): refused, counting the differing twin rotation.
// - `gated` with the same policy: finds the staging rotation in visibility and rotates; its evidence
//   links the staging rotation and the policy fingerprint both share.
jest.setTimeout(12 * 60_000);

const run = randomBytes(3).toString('hex');
const STAGING_ENV = 'twin-staging';
const PROD_ENV = 'twin-production';
const staging: StackCredential = {
  name: `twin-stg-${run}`,
  environment: STAGING_ENV,
  ticket: `CHG-TS${run}`,
  adapter: 'litellm',
};
const first: StackCredential = {
  name: `twin-${run}`,
  environment: PROD_ENV,
  ticket: `CHG-TR${run}`,
  adapter: 'litellm',
};
const gated: StackCredential = {
  name: `gated-${run}`,
  environment: PROD_ENV,
  ticket: `CHG-TQ${run}`,
  adapter: 'litellm',
};
const all = [staging, first, gated];
const UNTIL = { timeoutMs: 5 * 60_000, intervalMs: 1000, expectOk: true };
/** The staging rotation rekey runs for `first`: the twin's id under production's ticket. */
const childId = `${STAGING_ENV}:${staging.name}:${first.ticket}`;

let stack: RotationStack;
const apps: StackApp[] = [];
const withTicket = (c: StackCredential, suffix: string): StackCredential => ({
  ...c,
  ticket: `${c.ticket}${suffix}`,
});
const rotationUrl = (id: string, suffix = '') => `/v1/rotations/${encodeURIComponent(id)}${suffix}`;

/** A start the API refuses with 409 problem+json: its body. */
async function refusedStart(c: StackCredential, overrides?: Parameters<RotationStack['policy']>[1]) {
  const res = await stack.call('POST', '/v1/rotations', 'alice', stack.policy(c, overrides), {
    'content-type': 'application/yaml',
  });
  expect(res.statusCode).toBe(409);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  return res.json<{ detail: string; stagingTwin: string; policyFingerprint: string }>();
}

async function approveAndComplete(id: string): Promise<RotationStatus> {
  const gate = await stack.untilPhase(id, ['AWAITING_REVOKE_APPROVAL'], UNTIL);
  expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
  const approved = await stack.call('POST', rotationUrl(id, '/approvals'), 'bob', {
    gate: 'revoke',
    decision: 'approve',
    comment: 'drained',
  });
  expect(approved.statusCode).toBe(200);
  return stack.untilPhase(id, ['COMPLETED'], UNTIL);
}

/**
 * Waits until visibility lists a completed staging rotation, which is where the twin check looks:
 * visibility lags the workflow it indexes (seconds, on a loaded machine), while the status the tests
 * poll is the workflow's own.
 */
async function untilTwinCompletedInVisibility(): Promise<void> {
  const query =
    `RotationCredential = '${staging.name}' AND RotationEnvironment = '${STAGING_ENV}' ` +
    `AND RotationOutcome = 'completed'`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    for await (const _ of stack.client.workflow.list({ query, pageSize: 1 })) return;
    if (Date.now() > deadline) throw new Error('the completed staging rotation never showed in visibility');
    await new Promise((r) => setTimeout(r, 500));
  }
}

const describeStack = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeStack('staging before production', () => {
  beforeAll(async () => {
    stack = await startRotationStack(all, {
      registryFields: (c) =>
        c === first
          ? { staging_twin: { name: staging.name, environment: STAGING_ENV, within_days: 1, mode: 'run' } }
          : c === gated
            ? { staging_twin: { name: staging.name, environment: STAGING_ENV, within_days: 1 } }
            : {},
    });
    for (const c of all) apps.push(await stack.startApp(c, { requestsPerMinute: 240 }));
    await new Promise((r) => setTimeout(r, 3000));
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('require: no staging rotation yet, so the start is refused (409) and nothing starts', async () => {
    const before = await stack.readSecret(gated);
    const c = withTicket(gated, 'a');
    const res = await refusedStart(c);
    expect(res.detail).toMatch(
      new RegExp(
        `staging twin ${STAGING_ENV}/${staging.name} has no completed rotation with this policy \\(sha256:[0-9a-f]{64}\\) in the last 1 day: rotate it first`,
      ),
    );
    expect(res.stagingTwin).toBe(`${STAGING_ENV}/${staging.name}`);
    const status = await stack.call('GET', rotationUrl(stack.idOf(c)), 'dave');
    expect(status.statusCode).toBe(404);
    expect(await stack.readSecret(gated)).toBe(before);
  });

  it('run: the staging rotation runs first as a child, then production rotates; both complete', async () => {
    const started = await stack.start(first);
    // Production waits in PREPARING while its twin rotates under the same ticket.
    const waiting = await stack.untilStatus(
      started.id,
      (s) => s.stagingTwin?.state === 'running',
      'the staging twin running',
      UNTIL,
    );
    expect(waiting.phase).toBe('PREPARING');
    expect(waiting.stagingTwin).toMatchObject({ rotationId: childId, mode: 'run' });
    const child = await approveAndComplete(childId);
    expect(child.changeTicket).toBe(first.ticket);
    expect(child.negativeTest).toMatchObject({ oldKeyRejected: true });
    const done = await approveAndComplete(started.id);
    expect(done.stagingTwin).toMatchObject({ state: 'passed', rotationId: childId });
    const events = done.timeline.map((t) => t.event);
    expect(events.indexOf('staging-twin-passed')).toBeGreaterThan(events.indexOf('staging-twin-started'));
    // Production's own work began only after the twin completed.
    expect(events.indexOf('issuing')).toBeGreaterThan(events.indexOf('staging-twin-passed'));
    await untilTwinCompletedInVisibility();
  });

  it('require: a staging rotation of another policy does not count', async () => {
    const res = await refusedStart(withTicket(gated, 'b'), { thresholds: { max_auth_error_rate: 0.02 } });
    expect(res.detail).toMatch(/; 1 completed with another policy/);
  });

  it('require: the staging rotation with the same policy lets production rotate, and the evidence links it', async () => {
    const c = withTicket(gated, 'c');
    const started = await stack.start(c);
    const done = await approveAndComplete(started.id);
    expect(done.stagingTwin).toMatchObject({ mode: 'require', state: 'passed', rotationId: childId });
    const fp = done.stagingTwin!.policyFingerprint!;
    expect(fp).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Both production rotations ran the policy the staging rotation ran.
    const ran = await stack.call('GET', rotationUrl(stack.idOf(first)), 'dave');
    expect(ran.json<{ detail: RotationStatus }>().detail.stagingTwin?.policyFingerprint).toBe(fp);
    const evidence = await stack.call('GET', rotationUrl(started.id, '/evidence'), 'dave');
    expect(evidence.statusCode).toBe(200);
    const { bundle } = evidence.json<{
      bundle: {
        changeTicket: { stagingTwin: { rotationId: string; policyFingerprint: string; state: string } };
      };
    }>();
    expect(bundle.changeTicket.stagingTwin).toMatchObject({
      rotationId: childId,
      policyFingerprint: fp,
      state: 'passed',
    });
  });

  it('leaves no key value in any history, log line or response', async () => {
    await stack.assertNoKeyLeaks(all);
  });
});
