import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  parseGithubPublicKeys,
  SignatureRefused,
  verifyGitguardian,
  verifyGithubPartner,
  verifyGithubWebhook,
} from '../../api/exposures/signatures';

const body = Buffer.from(JSON.stringify([{ token: 'x', type: 't', url: 'https://github.com/a' }]));
const secret = randomBytes(16).toString('hex');
const hmac = (key: string, data: Buffer) => createHmac('sha256', key).update(data).digest('hex');

describe('GitHub webhook signatures (X-Hub-Signature-256)', () => {
  it('accepts the HMAC-SHA256 of the raw body with the secret', () => {
    expect(() => verifyGithubWebhook(secret, body, `sha256=${hmac(secret, body)}`)).not.toThrow();
  });
  it('refuses another secret, another body, a missing or malformed header', () => {
    const good = `sha256=${hmac(secret, body)}`;
    expect(() => verifyGithubWebhook('other-secret', body, good)).toThrow(SignatureRefused);
    expect(() => verifyGithubWebhook(secret, Buffer.from(`${body.toString()} `), good)).toThrow(
      SignatureRefused,
    );
    expect(() => verifyGithubWebhook(secret, body, undefined)).toThrow(/missing/);
    expect(() => verifyGithubWebhook(secret, body, hmac(secret, body))).toThrow(/missing or not/);
    expect(() => verifyGithubWebhook(secret, body, 'sha256=abc')).toThrow(SignatureRefused);
  });
});

describe('GitHub partner-program signatures (ECDSA P-256)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const id = randomBytes(32).toString('hex');
  const keys = parseGithubPublicKeys(
    JSON.stringify({
      public_keys: [
        { key_identifier: id, key: publicKey.export({ format: 'pem', type: 'spki' }), is_current: true },
      ],
    }),
  );
  const sig = (data: Buffer, key = privateKey) =>
    sign('sha256', data, { key, dsaEncoding: 'der' }).toString('base64');

  it('accepts a signature by the named key over the raw body', () => {
    expect(() => verifyGithubPartner(keys, body, id, sig(body))).not.toThrow();
  });
  it('refuses an unknown key id, another signer, a changed body and missing headers', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => verifyGithubPartner(keys, body, 'f'.repeat(64), sig(body))).toThrow(
      /names no configured key/,
    );
    expect(() => verifyGithubPartner(keys, body, id, sig(body, other))).toThrow(/does not verify/);
    expect(() => verifyGithubPartner(keys, Buffer.from('[]'), id, sig(body))).toThrow(/does not verify/);
    expect(() => verifyGithubPartner(keys, body, id, 'not base64 at all!')).toThrow(SignatureRefused);
    expect(() => verifyGithubPartner(keys, body, undefined, sig(body))).toThrow(/required/);
  });
  it('refuses a keys file that is not GitHub’s shape', () => {
    expect(() => parseGithubPublicKeys('{"public_keys": []}')).toThrow();
    expect(() => parseGithubPublicKeys('nope')).toThrow();
  });
});

describe('GitGuardian signatures (HMAC keyed with Timestamp + token)', () => {
  const nowMs = Date.UTC(2026, 11, 2, 10, 0, 0);
  const at = String(nowMs / 1000);
  const header = (ts: string, token = secret) => `sha256=${hmac(`${ts}${token}`, body)}`;
  const opts = { nowMs, toleranceSeconds: 300 };

  it('accepts a fresh signature', () => {
    expect(() => verifyGitguardian(secret, body, at, header(at), opts)).not.toThrow();
  });
  it('refuses a stale or future timestamp beyond the tolerance, even when signed', () => {
    const old = String(nowMs / 1000 - 301);
    const future = String(nowMs / 1000 + 301);
    expect(() => verifyGitguardian(secret, body, old, header(old), opts)).toThrow(/stale/);
    expect(() => verifyGitguardian(secret, body, future, header(future), opts)).toThrow(/stale/);
    const edge = String(nowMs / 1000 - 299);
    expect(() => verifyGitguardian(secret, body, edge, header(edge), opts)).not.toThrow();
  });
  it('refuses another token, a timestamp the signature was not made with, and missing headers', () => {
    const other = String(nowMs / 1000 - 1);
    expect(() => verifyGitguardian(secret, body, at, header(at, 'other'), opts)).toThrow(/does not match/);
    expect(() => verifyGitguardian(secret, body, other, header(at), opts)).toThrow(/does not match/);
    expect(() => verifyGitguardian(secret, body, undefined, header(at), opts)).toThrow(/Timestamp/);
    expect(() => verifyGitguardian(secret, body, at, undefined, opts)).toThrow(/Gitguardian-Signature/);
  });
});
