import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RotationActivities } from '../../activities';
import { FailureTypes } from '../../domain/failure-types';
import type { KeyScopeCheck } from '../../domain/key-scope';
import { approveUpdate } from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld, type WorldActivities } from './fake-world';
import { APPROVER, runScenario, seedInput, untilPhase, teardownEnv } from './rotation-harness';

// The rotation's status carries the scope comparison the issuing activity returns (or refuses on).
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
});

const OLD = { models: ['gpt-4o-mini'], maxBudget: 100, budgetDuration: '30d', team: 'platform-ai' };

/** A fake world whose issuing activity reports `check`, or refuses with it like the real one. */
class ScopeWorld extends FakeWorld {
  readonly issueInputs: Parameters<RotationActivities['issueReplacementKey']>[0][] = [];
  constructor(
    private readonly check: KeyScopeCheck,
    private readonly refuse = false,
  ) {
    super();
  }
  override activities(): WorldActivities {
    const base = super.activities();
    return {
      ...base,
      preflight: async (input) => ({ ...(await base.preflight(input)), oldScope: OLD }),
      issueReplacementKey: async (input) => {
        this.issueInputs.push(input);
        const issued = await base.issueReplacementKey(input);
        if (this.refuse) {
          throw ApplicationFailure.nonRetryable(
            "replacement key does not keep the old key's scope: budget_duration: none instead of 30d",
            FailureTypes.ScopeNotCopied,
            this.check,
          );
        }
        return { ...issued, scope: this.check.issued, scopeCheck: this.check };
      },
    };
  }
}

describe('key scope in the rotation status', () => {
  it('shows the old scope, the issued scope and their diff, and passes the policy’s key_scope to the activity', async () => {
    const check: KeyScopeCheck = { old: OLD, issued: OLD, diff: [], verdict: 'same' };
    const world = new ScopeWorld(check);
    const input = {
      ...seedInput(),
      keyScope: { minLifetimeMs: 7_200_000, allowChanged: ['soft_budget' as const] },
    };
    const { status } = await runScenario(env, world, input, 'key-scope-same', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke', comment: 'ok' }] });
    });
    expect(status.phase).toBe('COMPLETED');
    expect(status.keyScope).toEqual(check);
    expect(world.issueInputs[0]?.keyScope).toEqual(input.keyScope);
    const quota = status.gateEvidence.revoke?.rows.find((r) => r.signal === 'quotaAndBudget');
    expect(quota?.state).toBe('green');
    expect(quota?.evidence).toContain(
      'key scope: every field of the old key read back unchanged on the new key',
    );
  });

  it('keeps the refused diff in status when the issue step fails, and rolls back with the new key revoked', async () => {
    const issued = { ...OLD, budgetDuration: null };
    const check: KeyScopeCheck = {
      old: OLD,
      issued,
      diff: [
        {
          field: 'budget_duration',
          kind: 'changed',
          old: '30d',
          issued: 'none',
          detail: 'budget_duration: none instead of 30d',
        },
      ],
      verdict: 'fail',
    };
    const world = new ScopeWorld(check, true);
    const { status } = await runScenario(env, world, seedInput(), 'key-scope-refused');
    expect(status.keyScope).toEqual(check);
    expect(status.phase).toBe('ROLLED_BACK');
    expect(`${status.rollbackCause ?? ''} ${status.failure?.reason ?? ''}`).toMatch(
      /budget_duration: none instead of 30d/,
    );
    expect(world.calls).toEqual(expect.arrayContaining([`revokeIssuedKey:gk-${status.rotationId}`]));
    expect(world.calls).not.toContain('promote');
  });
});
