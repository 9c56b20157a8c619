import { randomBytes } from 'node:crypto';
import { waitFor } from '../../scripts/local-stack';
import {
  rotationStackUnavailableReason,
  stackAutoPolicy,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// A fleet of N (12 by default, 50 with REKEY_FLEET_TEST_N=50) on the real stack (Temporal dev server, reference gateway, Key Vault, Prometheus, worker,
// API): an operator starts it by selector (owner and tag), at most 25 members work at once, one member fails
// (its current key was deleted at the gateway, so its rotation fails in PREPARING) and the others go
// on to the revoke gate, where one fleet approval (bob, not the requester carol) approves each member;
// every completed member's old key is then refused by the gateway, and the fleet completes with the
// failure listed. Refusals: an empty selection (422), a requester who is not an operator (403), a fleet
// approval before every member waits at the gate (409), a second fleet under the same id (409).
jest.setTimeout(15 * 60_000);

const run = randomBytes(3).toString('hex');
// The owner is the gateway team the stack's keys belong to (usage attribution checks it); the tag picks
// this test's credentials.
const OWNER = 'platform-ai';
const TAG = `fleet-${run}`;
// How many credentials: 12 in `make test` (a two-core CI machine runs the gateway, every app, Prometheus,
// the API and the worker in one process); REKEY_FLEET_TEST_N=50 is the fleet of 50.
const N = Number(process.env.REKEY_FLEET_TEST_N ?? 12);
const credentials: StackCredential[] = Array.from({ length: N }, (_, i) => ({
  name: `fleet-${run}-${String(i).padStart(2, '0')}`,
  environment: 'e2e',
  ticket: `CHG-F${run}${i}`,
  adapter: 'litellm',
}));
const broken = credentials[Math.min(7, N - 1)]!;
const CONCURRENCY = Math.max(2, Math.min(25, Math.ceil(N / 2)));
const HEALTHY = N - 1;

// 100 requests a minute per app: about 25 in each 15 s window (what bench/fleet runs 50 with).
const POLICY = stackAutoPolicy({ flipApproval: false });

interface FleetView {
  id: string;
  status: string;
  finished: boolean;
  counts: { total: number; byState: Record<string, number>; byPhase: Record<string, number> };
  members: { rotationId: string; credential: string; state: string; phase?: string; why?: string }[];
  approvals: { by: string; gate: string; accepted: string[]; refused: unknown[] }[];
}

let stack: RotationStack;
const rotationUrl = (id: string, suffix = '') => `/v1/rotations/${encodeURIComponent(id)}${suffix}`;
const oldKeys = new Map<string, string>();
const apps: StackApp[] = [];

const describeStack = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeStack(`fleet rotation of ${N}`, () => {
  beforeAll(async () => {
    stack = await startRotationStack(credentials, {
      registryFields: () => ({ owner: OWNER, tags: [TAG, 'llm'], rotation_policy: POLICY }),
    });
    for (const c of credentials) {
      oldKeys.set(c.name, (await stack.readSecret(c))!);
      apps.push(await stack.startApp(c, { requestsPerMinute: 100 }));
    }
    // The broken member: someone deleted its current key at the gateway, so no rotation can scope it.
    const res = await fetch(`${stack.gatewayBase}/key/delete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.gatewayAdminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keys: [oldKeys.get(broken.name)] }),
    });
    expect(res.status).toBe(200);
    // Its app stops: every stack app is the same consumer, whose 401s on a deleted key would make every
    // other member's auth-error check inconclusive (as they should: unattributed errors are no evidence).
    await apps[credentials.indexOf(broken)]!.stop();
  });

  afterAll(async () => {
    await stack?.close();
  });

  const fleetOf = async (id: string) => {
    const res = await stack.call('GET', `/v1/fleets/${id}`, 'dave');
    expect(res.statusCode).toBe(200);
    return res.json<FleetView>();
  };

  it('refuses a selection that matches nothing, and a requester who is not an operator', async () => {
    const none = await stack.call('POST', '/v1/fleets', 'carol', {
      selector: { owner: OWNER, tag: `nobody-${run}` },
      reason: 'offboarding',
    });
    expect(none.statusCode).toBe(422);
    expect(none.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(none.json<{ detail: string }>().detail).toMatch(/matches no registered credential/);
    const notOperator = await stack.call('POST', '/v1/fleets', 'alice', {
      selector: { owner: OWNER },
      reason: 'offboarding',
    });
    expect(notOperator.statusCode).toBe(403);
    const unknown = await stack.call('POST', '/v1/fleets', 'carol', {
      selector: { names: [credentials[0]!.name, `ghost-${run}`] },
      reason: 'offboarding',
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json<{ detail: string }>().detail).toContain(`ghost-${run}`);
  });

  it(`rotates ${N} by owner and tag, isolates the one failure, and approves the rest with one fleet approval`, async () => {
    const fleetId = `offboard-${run}`;
    const started = await stack.call('POST', '/v1/fleets', 'carol', {
      id: fleetId,
      selector: { owner: OWNER, tag: TAG },
      reason: 'offboarding: dana left the platform team',
      approval: 'fleet',
      concurrency: CONCURRENCY,
      startsPerMinute: 120,
      pollSeconds: 2,
    });
    expect(started.statusCode).toBe(201);
    const body = started.json<{ id: string; members: { rotationId: string }[]; temporalUiUrl: string }>();
    expect(body.members).toHaveLength(N);
    expect(body.temporalUiUrl).toContain(encodeURIComponent(`rekey-fleet:${fleetId}`));

    const again = await stack.call('POST', '/v1/fleets', 'carol', {
      id: fleetId,
      selector: { owner: OWNER, tag: TAG },
      reason: 'again',
    });
    expect(again.statusCode).toBe(409);

    const early = await stack.call('POST', `/v1/fleets/${fleetId}/approvals`, 'bob', { gate: 'revoke' });
    expect(early.statusCode).toBe(409);
    expect(early.json<{ detail: string }>().detail).toMatch(/not at AWAITING_REVOKE_APPROVAL/);

    // Every member at the gate or failed, sampled: never more than CONCURRENCY working at once. A member
    // whose own hold failed (a busy two-core machine can starve an app's traffic) rolls back on its
    // own evidence; that is the isolation under test too, so it is handled, not hidden: it is counted,
    // its kept replacement key is revoked as on-call would, and it must stay rare.
    let peakWorking = 0;
    let fleet: FleetView | undefined;
    const deadline = Date.now() + 10 * 60_000;
    const settled = (f: FleetView) =>
      f.members.every(
        (m) =>
          m.state === 'failed' ||
          (m.state === 'running' && (m.phase === 'AWAITING_REVOKE_APPROVAL' || m.phase === 'ROLLING_BACK')),
      );
    for (;;) {
      fleet = await fleetOf(fleetId);
      const working = fleet.members.filter(
        (m) => m.state === 'running' && m.phase !== 'AWAITING_REVOKE_APPROVAL',
      ).length;
      peakWorking = Math.max(peakWorking, working);
      if (settled(fleet) && (fleet.counts.byPhase['AWAITING_REVOKE_APPROVAL'] ?? 0) > 0) break;
      if (Date.now() > deadline) {
        const why = fleet.members.filter((m) => m.why).map((m) => `${m.credential}: ${m.why}`);
        throw new Error(
          `every member at AWAITING_REVOKE_APPROVAL, rolling back or failed: ${JSON.stringify(fleet.counts.byPhase)}; ${why.join('; ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(peakWorking).toBeLessThanOrEqual(CONCURRENCY);
    expect(peakWorking).toBeGreaterThan(1);
    const failedMembers = fleet.members.filter((m) => m.state === 'failed');
    expect(failedMembers.map((m) => m.credential)).toEqual([broken.name]);
    expect(failedMembers[0]!.why).toMatch(/failed/);
    const rollingBack = fleet.members.filter((m) => m.phase === 'ROLLING_BACK');
    const atGate = fleet.members.filter((m) => m.phase === 'AWAITING_REVOKE_APPROVAL');
    expect(rollingBack.length).toBeLessThanOrEqual(Math.ceil(HEALTHY / 10));
    expect(atGate.length + rollingBack.length).toBe(HEALTHY);

    // The requester cannot approve her own fleet: every member refuses her (four-eyes), nothing moves.
    const own = await stack.call('POST', `/v1/fleets/${fleetId}/approvals`, 'carol', { gate: 'revoke' });
    expect(own.statusCode).toBe(403);

    // One approval for the fleet. Each member's validator judges the approve it is sent: a gate without
    // positive evidence (a window the busy machine starved of traffic) refuses it (400), which is the
    // first rule at work; on-call rolls such a member back. Most must pass on their own evidence.
    const approved = await stack.call('POST', `/v1/fleets/${fleetId}/approvals`, 'bob', {
      gate: 'revoke',
      comment: 'every member passed its hold',
    });
    expect({ status: approved.statusCode, body: approved.body }).toEqual({
      status: 200,
      body: expect.any(String) as unknown,
    });
    const record = approved.json<{
      by: string;
      accepted: string[];
      refused: { rotationId: string; why: string }[];
    }>();
    expect(record.by).toBe('bob@example.com');
    expect([...record.accepted, ...record.refused.map((r) => r.rotationId)].sort()).toEqual(
      atGate.map((m) => m.rotationId).sort(),
    );
    for (const r of record.refused) expect(r.why).toMatch(/lacks positive evidence/);
    expect(record.accepted.length).toBeGreaterThanOrEqual(Math.ceil(HEALTHY * 0.8));
    for (const r of record.refused) {
      const res = await stack.call('POST', rotationUrl(r.rotationId, '/rollback'), 'carol', {
        reason: 'no positive evidence at the revoke gate',
      });
      expect(res.statusCode).toBe(202);
    }
    const rolledBack = [...rollingBack.map((m) => m.rotationId), ...record.refused.map((r) => r.rotationId)];

    // On-call revokes the replacement key each rolled-back member kept (the workflow checks its drain).
    for (const id of rolledBack) {
      // A rollback that kept no key ends by itself (untilStatus then throws, and the POST answers 409).
      await stack
        .untilStatus(
          id,
          (st) => st.pendingGate?.gate === 'replacement-key-revocation',
          'the kept key revocation gate',
          {
            timeoutMs: 3 * 60_000,
          },
        )
        .catch(() => undefined);
      await stack.call('POST', rotationUrl(id, '/replacement-key-revocations'), 'carol', {
        reason: 'consumers are back on the old key',
      });
    }

    await waitFor('the fleet finished', async () => (await fleetOf(fleetId)).finished, 5 * 60_000);
    const done = await fleetOf(fleetId);
    expect(done.counts.byState).toMatchObject({
      completed: record.accepted.length,
      failed: 1 + rolledBack.length,
      running: 0,
      pending: 0,
    });
    expect(done.approvals).toEqual([
      expect.objectContaining({ by: 'bob@example.com', gate: 'revoke', accepted: record.accepted }),
    ]);
    const summary = (await stack.client.workflow.getHandle(`rekey-fleet:${fleetId}`).result()) as {
      failures: { rotationId: string; state: string; why: string }[];
    };
    expect(summary.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rotationId: `e2e:${broken.name}:fleet-${fleetId}`, state: 'failed' }),
        ...rollingBack.map((m): unknown =>
          expect.objectContaining({ rotationId: m.rotationId, why: expect.stringMatching(/rolled_back/) }),
        ),
      ]),
    );
    expect(summary.failures).toHaveLength(1 + rolledBack.length);

    // Every completed member's old key is refused by the gateway; each has its own evidence bundle.
    const completed = atGate.filter((m) => record.accepted.includes(m.rotationId));
    for (const m of completed) {
      expect(await stack.gatewayStatus(oldKeys.get(m.credential)!)).toBe(401);
    }
    const evidence = await stack.call('GET', rotationUrl(completed[0]!.rotationId, '/evidence'), 'dave');
    expect(evidence.statusCode).toBe(200);
    expect(evidence.body).toContain(`fleet-${fleetId}`);

    const fleetHistory = JSON.stringify(
      await stack.client.workflow.getHandle(`rekey-fleet:${fleetId}`).fetchHistory(),
    );
    await stack.assertNoKeyLeaks(credentials, { 'fleet history': [fleetHistory] });
  });
});
