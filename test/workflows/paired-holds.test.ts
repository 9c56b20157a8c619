// Paired credentials (shared consumers) are never flipped and held at the same time: the second
// rotation's flip waits until the first leaves HOLDING, through the pair's hold workflow, on the
// time-skipping server with fake activities.
import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fingerprint } from '../../domain/fingerprint';
import { TERMINAL_PHASES } from '../../domain/vocabulary';
import { pairHoldId } from '../../workflows/pair-hold';
import {
  approveUpdate,
  revokeReplacementKeyUpdate,
  rollbackUpdate,
  type RotationStatus,
} from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  runScenario,
  seedInput,
  until,
  untilPhase,
  type RotationHandle,
  teardownEnv,
} from './rotation-harness';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

async function approveRevoke(h: RotationHandle) {
  await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
  await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke', comment: 'drained' }] });
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** When the rotation entered HOLDING and when it left it (each entry, in order). */
function holds(s: RotationStatus): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  s.timeline.forEach((t, i) => {
    if (t.event !== 'holding') return;
    const left = s.timeline.slice(i + 1).find((n) => n.phase !== 'HOLDING');
    spans.push([Date.parse(t.at), left ? Date.parse(left.at) : Infinity]);
  });
  return spans;
}

const overlaps = (a: Array<[number, number]>, b: Array<[number, number]>) =>
  a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1));

/** Runs `first` to HOLDING, then `second`, which `whileWaiting` may act on once it waits for the pair. */
async function pairOfRotations(
  names: [string, string],
  history: string,
  opts: {
    secondMode?: 'emergency';
    /** Acts on the first while the second waits for the pair; `secondApproved` settles after the second's approval. */
    whileWaiting?: (
      first: RotationHandle,
      waiting: RotationStatus,
      secondApproved: Promise<void>,
    ) => Promise<void>;
  } = {},
) {
  const [a, b] = names;
  const worldA = new FakeWorld({ pairedWith: [b] });
  const worldB = new FakeWorld({ pairedWith: [a] });
  const firstHolding = deferred<void>();
  const secondWaiting = deferred<RotationStatus | undefined>();
  // The first is approved only once the second was, and neither awaits its result before it has ended:
  // a run awaiting its result lets the time-skipping server skip freely, which raced the other through
  // its gate's reminders and, on a loaded machine, past a workflow task it was running, to the test
  // server's 10-year execution timeout. Each drive instead steps time until its rotation has ended.
  const secondApproved = deferred<void>();
  const ended = (h: RotationHandle) =>
    until(env, h, (s) => (TERMINAL_PHASES as readonly string[]).includes(s.phase));
  const first = runScenario(
    env,
    worldA,
    seedInput((r) => void (r.credential = a), 'CHG-2001'),
    `${history}-first`,
    async (h) => {
      await untilPhase(env, h, 'HOLDING');
      firstHolding.resolve();
      const waiting = await secondWaiting.promise;
      if (opts.whileWaiting && waiting) await opts.whileWaiting(h, waiting, secondApproved.promise);
      else {
        await secondApproved.promise;
        await approveRevoke(h);
      }
      await ended(h);
    },
  );
  await firstHolding.promise;
  const second = runScenario(
    env,
    worldB,
    {
      ...seedInput((r) => {
        r.credential = b;
        if (opts.secondMode) {
          r.mode = opts.secondMode;
          r.approvals.emergency_revoke = 'alert';
        }
      }, 'CHG-2002'),
      // A verified leak alert approves an emergency revoke itself (the fingerprint of a made-up token).
      ...(opts.secondMode
        ? {
            exposure: {
              source: 'github-secret-scanning' as const,
              alertId: '4242',
              url: 'https://github.example/acme/app/security/secret-scanning/4242',
              fingerprint: fingerprint(`sk-${randomBytes(24).toString('hex')}`),
              receivedAt: new Date().toISOString(),
            },
          }
        : {}),
    },
    `${history}-second`,
    async (h) => {
      if (opts.secondMode) {
        secondWaiting.resolve(undefined);
        await until(env, h, (s) => s.phase === 'COMPLETED');
      } else {
        secondWaiting.resolve(await until(env, h, (s) => s.pairWait !== undefined));
        await approveRevoke(h);
      }
      secondApproved.resolve();
      await ended(h);
    },
  );
  const [x, y] = await Promise.all([first, second]);
  return { first: x.status, second: y.status };
}

describe('paired credentials', () => {
  it('are never in HOLDING at the same time: the second flip waits for the first hold to end, then goes on', async () => {
    const { first, second } = await pairOfRotations(['router-a', 'router-b'], 'paired-holds-wait');
    expect(first.outcome).toBe('completed');
    expect(second.outcome).toBe('completed');
    expect(overlaps(holds(first), holds(second))).toBe(false);
    // The second waited before its flip, said so, and flipped only after the first left HOLDING.
    const events = second.timeline.map((t) => t.event);
    expect(events.indexOf('pair-wait')).toBeGreaterThan(-1);
    expect(events.indexOf('pair-wait-over')).toBeGreaterThan(events.indexOf('pair-wait'));
    expect(events.indexOf('flipping')).toBeGreaterThan(events.indexOf('pair-wait-over'));
    const waited = second.timeline.find((t) => t.event === 'pair-wait')!;
    expect(waited.detail).toMatch(/router-a shares consumers/);
    expect(second.pairWait).toBeUndefined();
    const firstLeft = holds(first)[0]![1];
    const secondFlip = Date.parse(second.timeline.find((t) => t.event === 'flipping')!.at);
    expect(secondFlip).toBeGreaterThanOrEqual(firstLeft);
    // The first never waited; the pair's hold workflow ended with the second's release.
    expect(first.timeline.some((t) => t.event.startsWith('pair-wait'))).toBe(false);
    const pair = await env.client.workflow
      .getHandle(pairHoldId('production', 'router-b', 'router-a'))
      .describe();
    expect(pair.status.name).toBe('COMPLETED');
  });

  it('the pair is released by a rollback of the holder: the waiting rotation goes on', async () => {
    const { first, second } = await pairOfRotations(['router-c', 'router-d'], 'paired-holds-rollback', {
      whileWaiting: async (h, waiting, secondApproved) => {
        expect(waiting.pairWait?.pairedWith).toEqual(['router-c']);
        await h.executeUpdate(rollbackUpdate, {
          args: [{ ...OPERATOR, reason: 'errors on the shared app' }],
        });
        // Past the flip, the rollback keeps the replacement key until an operator revokes it.
        await secondApproved;
        await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation');
        await h.executeUpdate(revokeReplacementKeyUpdate, {
          args: [{ ...OPERATOR, reason: 'apps read the old key again' }],
        });
      },
    });
    expect(first.outcome).toBe('rolled_back');
    expect(second.outcome).toBe('completed');
    expect(overlaps(holds(first), holds(second))).toBe(false);
    expect(second.timeline.some((t) => t.event === 'pair-wait-over')).toBe(true);
  });

  it('an emergency rotation does not wait for its pair, and says so', async () => {
    const { first, second } = await pairOfRotations(['router-e', 'router-f'], 'paired-holds-emergency', {
      secondMode: 'emergency',
    });
    expect(first.outcome).toBe('completed');
    expect(second.outcome).toBe('completed');
    const skipped = second.timeline.find((t) => t.event === 'pair-wait-skipped');
    expect(skipped?.detail).toMatch(/emergency: does not wait for router-e/);
    expect(overlaps(holds(first), holds(second))).toBe(true);
  });
});
