// Proven principals: a rotation started with message trust counts a message only with the rekey API's
// signature over it, bound to this rotation, this message and its arguments, unexpired and unused.
import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Principal } from '../../api/auth';
import { MessageSigner } from '../../api/message-signing';
import type { RotationInput } from '../../domain/policy';
import {
  approveSignal,
  approveUpdate,
  extendHoldSignal,
  refusalFailureType,
  revokeReplacementKeyUpdate,
  rollbackUpdate,
  type Actor,
} from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  REQUESTER,
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

const asPrincipal = (a: Actor, tokenId: string): Principal => ({
  ...a,
  authn: { method: 'static-token', tokenId },
});
const bob = asPrincipal(APPROVER, 'bob-token-id');
const carol = asPrincipal(OPERATOR, 'carol-token-id');

/** A signer whose clock is the workflow's (the time-skipping server runs ahead of the wall clock). */
function signerAt(env: TestWorkflowEnvironment, signer = MessageSigner.ephemeral()) {
  return {
    signer,
    sign: async <A extends Record<string, unknown>>(
      rotationId: string,
      message: string,
      args: A,
      principal: Principal,
      opts: { via?: 'api' | 'signal'; ttlMs?: number; at?: number } = {},
    ) =>
      signer.sign({
        rotationId,
        message,
        args: { ...args, principal: principal.principal, roles: principal.roles },
        principal,
        via: opts.via ?? 'api',
        at: opts.at ?? (await env.currentTimeMs()),
        ...(opts.ttlMs ? { ttlMs: opts.ttlMs } : {}),
      }),
  };
}

function trusted(input: RotationInput, signer: MessageSigner, unsigned: 'refuse' | 'allow' = 'refuse') {
  return { ...input, messageTrust: { ...signer.trust(), unsigned } };
}

async function refusedWith(promise: Promise<unknown>, message: RegExp) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect(cause.type).toBe(refusalFailureType('NotAllowed'));
  expect(cause.message).toMatch(message);
}

async function atRevokeGate(h: RotationHandle) {
  await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
}

describe('proven principals', () => {
  it('refuses a forged approval by raw signal and records it; a signed signal approves', async () => {
    const world = new FakeWorld();
    const { signer, sign } = signerAt(env);
    const input = trusted(seedInput(), signer);
    const { status } = await runScenario(env, world, input, 'proof-signal', async (h) => {
      await atRevokeGate(h);
      // Anyone with write access to the namespace can send this: a principal is only a claim.
      await h.signal(approveSignal, { ...APPROVER, gate: 'revoke', comment: 'forged' });
      // A proof for another rotation of the same credential is refused too.
      const elsewhere = await sign('prod:other:CHG-9', 'approve', { gate: 'revoke' }, bob, {
        via: 'signal',
      });
      await h.signal(approveSignal, elsewhere as never);
      const s = await until(
        env,
        h,
        (st) => st.timeline.filter((t) => t.event === 'approve-refused').length >= 2,
      );
      expect(s.phase).toBe('AWAITING_REVOKE_APPROVAL');
      const signed = await sign(input.rotationId, 'approve', { gate: 'revoke', comment: 'on call' }, bob, {
        via: 'signal',
      });
      await h.signal(approveSignal, signed as never);
    });
    expect(status.outcome).toBe('completed');
    const refused = status.timeline.filter((t) => t.event === 'approve-refused');
    expect(refused[0]).toMatchObject({
      detail: expect.stringMatching(/unsigned approve refused \(claimed principal bob@example.com\)/),
    });
    expect(refused[0]!.by).toBeUndefined();
    expect(refused[1]!.detail).toMatch(/no signature by a key this rotation trusts/);
    expect(status.approvals).toEqual([
      expect.objectContaining({
        principal: APPROVER.principal,
        comment: 'on call',
        proof: expect.objectContaining({
          method: 'signature',
          keyId: signer.keyIds()[0],
          via: 'signal',
          authn: { method: 'static-token', tokenId: 'bob-token-id' },
        }),
      }),
    ]);
    expect(status.timeline.find((t) => t.event === 'revoke-approved')?.proof).toMatch(
      /signed by the rekey API .* via signal\) for static token bob-token-id/,
    );
  });

  it('refuses unsigned, tampered, expired and reused proofs on updates, and takes a signed one', async () => {
    const world = new FakeWorld();
    const { signer, sign } = signerAt(env);
    const input = trusted(seedInput(), signer);
    const { status } = await runScenario(env, world, input, 'proof-update', async (h) => {
      await atRevokeGate(h);
      await refusedWith(
        h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] }),
        /unsigned approve refused/,
      );
      // Signed for a comment, sent with another: the signature covers every argument.
      const signed = await sign(input.rotationId, 'approve', { gate: 'revoke', comment: 'a' }, bob);
      await refusedWith(
        h.executeUpdate(approveUpdate, { args: [{ ...signed, comment: 'b' } as never] }),
        /no signature by a key this rotation trusts/,
      );
      // Signed for another message: an approval's proof is no rollback's.
      await refusedWith(
        h.executeUpdate(rollbackUpdate, { args: [{ ...signed, reason: 'x' }] }),
        /no signature/,
      );
      // Claiming a role the proof does not grant alters the arguments too.
      await refusedWith(
        h.executeUpdate(approveUpdate, {
          args: [{ ...signed, roles: ['approver', 'operator'] } as never],
        }),
        /no signature/,
      );
      // Expired: signed an hour ago with the five-minute lifetime of the API's own messages.
      const old = await sign(input.rotationId, 'approve', { gate: 'revoke' }, bob, {
        at: (await env.currentTimeMs()) - 60 * 60_000,
      });
      await refusedWith(h.executeUpdate(approveUpdate, { args: [old as never] }), /proof expired/);
      // Another API's key: not trusted by this rotation.
      const stranger = await signerAt(env).sign(input.rotationId, 'approve', { gate: 'revoke' }, bob);
      await refusedWith(h.executeUpdate(approveUpdate, { args: [stranger as never] }), /no signature/);
      // The requester cannot approve their own rotation even with a valid proof (four-eyes still holds).
      const self = await sign(
        input.rotationId,
        'approve',
        { gate: 'revoke' },
        asPrincipal(REQUESTER, 'alice-token-id'),
      );
      await expect(h.executeUpdate(approveUpdate, { args: [self as never] })).rejects.toThrow();
      await h.executeUpdate(approveUpdate, { args: [signed as never] });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals).toHaveLength(1);
    expect(status.approvals[0]!.proof).toMatchObject({ method: 'signature', via: 'api' });
  });

  it('counts a proof once: a replayed extension is refused', async () => {
    const world = new FakeWorld();
    const { signer, sign } = signerAt(env);
    const input = trusted(seedInput(), signer);
    const { status } = await runScenario(env, world, input, 'proof-replayed', async (h) => {
      await untilPhase(env, h, 'HOLDING');
      const extend = await sign(
        input.rotationId,
        'extendHold',
        { minutes: 30, reason: 'watch more' },
        carol,
        {
          via: 'signal',
        },
      );
      await h.signal(extendHoldSignal, extend);
      await h.signal(extendHoldSignal, extend);
      await until(env, h, (s) => s.timeline.some((t) => t.event === 'extendHold-refused'), { step: 1000 });
      const rollback = await sign(input.rotationId, 'rollback', { reason: 'enough' }, carol);
      await h.executeUpdate(rollbackUpdate, { args: [rollback as never] });
      // Past the flip the replacement key stays enabled until someone asks for its revocation.
      await until(env, h, (s) => s.pendingGate?.gate === 'replacement-key-revocation');
      const revoke = await sign(input.rotationId, 'revokeReplacementKey', { reason: 'drained' }, carol);
      await h.executeUpdate(revokeReplacementKeyUpdate, { args: [revoke as never] });
    });
    expect(status.outcome).toBe('rolled_back');
    expect(status.timeline.filter((t) => t.event === 'hold-extended')).toHaveLength(1);
    expect(status.timeline.find((t) => t.event === 'extendHold-refused')?.detail).toMatch(
      /this proof was already used/,
    );
    expect(status.timeline.find((t) => t.event === 'rollback-requested')?.proof).toMatch(/carol-token-id/);
  });

  it('takes unsigned signals where the deployment allows them, and records that they were unsigned', async () => {
    const world = new FakeWorld();
    const input = trusted(seedInput(), MessageSigner.ephemeral(), 'allow');
    const { status } = await runScenario(env, world, input, 'proof-unsigned-allowed', async (h) => {
      await atRevokeGate(h);
      await h.signal(approveSignal, { ...APPROVER, gate: 'revoke' });
    });
    expect(status.outcome).toBe('completed');
    expect(status.approvals[0]!.proof).toMatchObject({ method: 'unsigned-allowed' });
  });
});
