// The proof of who sent a message: the API's node:crypto signature verifies with the workflow's pure-JS
// Ed25519 over the same bytes, and anything that changes what was signed breaks it.
import { generateKeyPairSync } from 'node:crypto';
import type { Principal } from '../../api/auth';
import { MessageSigner } from '../../api/message-signing';
import { canonicalJson, verifyProof, type MessageTrust } from '../../domain/message-proof';

const bob = {
  principal: 'bob@example.com',
  roles: ['approver'],
  authn: { method: 'oidc', issuer: 'https://idp.example', subject: 'bob' },
} as Principal;
const NOW = Date.parse('2026-12-01T12:00:00Z');
const ROTATION = 'prod:router:CHG-1';

function verify(
  trust: MessageTrust,
  args: Record<string, unknown>,
  over: Partial<{ rotationId: string; message: string; nowMs: number; used: string[] }> = {},
) {
  return verifyProof({
    trust,
    rotationId: over.rotationId ?? ROTATION,
    message: over.message ?? 'approve',
    args,
    nowMs: over.nowMs ?? NOW + 1000,
    nonceUsed: (n) => (over.used ?? []).includes(n),
  });
}

function signed(signer: MessageSigner, args: Record<string, unknown> = { gate: 'revoke' }, ttlMs?: number) {
  return signer.sign({
    rotationId: ROTATION,
    message: 'approve',
    args: { principal: bob.principal, roles: bob.roles, ...args },
    principal: bob,
    via: 'api',
    at: NOW,
    ...(ttlMs ? { ttlMs } : {}),
  });
}

describe('message proofs', () => {
  const signer = MessageSigner.ephemeral();
  const trust = signer.trust();

  it('verifies what the API signed, and records how it was proven', () => {
    const args = signed(signer, { gate: 'revoke', comment: 'ünïcode ✓ 🚀' });
    const verdict = verify(trust, JSON.parse(JSON.stringify(args)) as Record<string, unknown>);
    expect(verdict).toMatchObject({
      ok: true,
      nonce: args.proof.nonce,
      record: {
        method: 'signature',
        keyId: signer.keyIds()[0],
        via: 'api',
        authn: bob.authn,
      },
    });
  });

  it('refuses a change to any argument, another rotation or message, a reused nonce or an expired proof', () => {
    const args = signed(signer);
    expect(verify(trust, { ...args, gate: 'flip' })).toMatchObject({ ok: false, refusal: /no signature/ });
    expect(verify(trust, { ...args, roles: ['approver', 'operator'] })).toMatchObject({ ok: false });
    expect(verify(trust, { ...args, principal: 'mallory' })).toMatchObject({ ok: false });
    expect(verify(trust, { ...args, comment: 'added' })).toMatchObject({ ok: false });
    expect(verify(trust, args, { rotationId: 'prod:router:CHG-2' })).toMatchObject({ ok: false });
    expect(verify(trust, args, { message: 'reject' })).toMatchObject({ ok: false });
    expect(verify(trust, args, { used: [args.proof.nonce] })).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/already used/),
    });
    expect(verify(trust, args, { nowMs: NOW + 6 * 60_000 })).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/expired/),
    });
    expect(verify(trust, args, { nowMs: NOW - 10 * 60_000 })).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/in the future/),
    });
    const forgedAuthn = {
      ...args,
      proof: { ...args.proof, authn: { method: 'static-token', tokenId: 'x' } },
    };
    expect(verify(trust, forgedAuthn)).toMatchObject({ ok: false });
  });

  it('refuses unsigned messages unless the trust allows them, and keys it does not trust', () => {
    const unsigned = { principal: 'bob@example.com', roles: ['approver'], gate: 'revoke' };
    expect(verify(trust, unsigned)).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/unsigned approve refused \(claimed principal bob@example.com\)/),
    });
    expect(verify({ ...trust, unsigned: 'allow' }, unsigned)).toMatchObject({
      ok: true,
      record: { method: 'unsigned-allowed' },
    });
    expect(verify(MessageSigner.ephemeral().trust(), signed(signer))).toMatchObject({ ok: false });
    expect(verify(trust, { ...signed(signer), proof: { v: 2 } })).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/proof must be v 1/),
    });
  });

  it('signs with every key it holds, so rotations started under the previous key still verify', () => {
    const previous = generateKeyPairSync('ed25519').privateKey;
    const current = generateKeyPairSync('ed25519').privateKey;
    const before = new MessageSigner([previous]);
    const after = new MessageSigner([current, previous]);
    expect(verify(before.trust(), signed(after))).toMatchObject({ ok: true });
    expect(verify(after.trust(), signed(after))).toMatchObject({ ok: true });
    expect(signed(after).proof.signatures).toHaveLength(2);
  });

  it('caps a proof at an hour', () => {
    const long = signed(signer, { gate: 'revoke' }, 5 * 60 * 60_000);
    expect(Date.parse(long.proof.expiresAt) - NOW).toBe(60 * 60_000);
  });

  it('serialises canonically: keys sorted at every depth, undefined dropped', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"z":1}]},"b":1}',
    );
  });
});
