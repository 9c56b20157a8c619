import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { Authenticator, requireRole, tokenHash, tokenIdOf } from '../../api/auth';
import { FailureCounter } from '../../api/auth-failures';
import { clientKey, trustProxyOption } from '../../api/client-address';
import { HttpProblem } from '../../api/errors';
import { OidcVerifier, type OidcOptions } from '../../api/oidc';

const ISSUER = 'https://idp.example.com/realms/rekey';
const AUDIENCE = 'rekey-api';
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const bob = token();
const dave = token();
const tokens = [
  { sha256: tokenHash(bob), principal: 'bob@example.com', roles: ['approver' as const] },
  { sha256: tokenHash(dave), principal: 'dave@example.com', roles: ['viewer' as const] },
];
const bearer = (t: string) => `Bearer ${t}`;

/** The problem an authentication attempt ends in (fails the test if it authenticated). */
async function refusal(p: Promise<unknown>): Promise<HttpProblem> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpProblem) return err;
    throw err;
  }
  throw new Error('authenticated, but a refusal was expected');
}

describe('static bearer tokens', () => {
  it('authenticates a configured token as its principal, saying which entry proved it, never the token', async () => {
    const auth = new Authenticator(tokens);
    const who = await auth.authenticate(bearer(bob), '10.0.0.1');
    expect(who).toEqual({
      principal: 'bob@example.com',
      roles: ['approver'],
      authn: { method: 'static-token', tokenId: tokenHash(bob).slice(0, 12) },
    });
    expect(tokenIdOf(tokenHash(bob))).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(who)).not.toContain(bob);
    expect(JSON.stringify(who)).not.toContain(tokenHash(bob));
  });

  it('refuses a missing, malformed or unknown token with 401', async () => {
    const auth = new Authenticator(tokens);
    for (const header of [undefined, '', 'Basic Ym9iOng=', `Bearer ${bob} extra`, bearer(token())]) {
      const problem = await refusal(auth.authenticate(header, '10.0.0.2'));
      expect(problem.status).toBe(401);
    }
  });

  it('does not take a JWT for a static token when no OpenID provider is configured', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const jwt = await sign(privateKey, { sub: 'x', email: 'bob@example.com', groups: ['rekey-approvers'] });
    expect((await refusal(new Authenticator(tokens).authenticate(bearer(jwt), '10.0.0.3'))).status).toBe(401);
  });
});

describe('brute-force protection that never refuses a valid credential', () => {
  it('answers 429 with Retry-After past the limit, and still serves the valid token from the same address', async () => {
    const auth = new Authenticator(tokens, { maxFailures: 20, windowMs: 60_000 });
    const statuses: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const problem = await refusal(auth.authenticate(bearer(token()), '203.0.113.9'));
      statuses.push(problem.status);
      if (problem.status === 429) expect(Number(problem.headers['retry-after'])).toBeGreaterThan(0);
      if (i % 50 === 0) {
        expect((await auth.authenticate(bearer(bob), '203.0.113.9')).principal).toBe('bob@example.com');
      }
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    expect((await auth.authenticate(bearer(bob), '203.0.113.9')).principal).toBe('bob@example.com');
    // Another client is not slowed by that flood.
    expect((await refusal(auth.authenticate(bearer(token()), '198.51.100.1'))).status).toBe(401);
  });

  it('counts one wrong credential across addresses, by its fingerprint', async () => {
    const auth = new Authenticator(tokens, { maxFailures: 5, windowMs: 60_000 });
    const leaked = token();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await refusal(auth.authenticate(bearer(leaked), `192.0.2.${i + 1}`))).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // A fresh wrong token from a fresh address is a plain 401: the fingerprint, not the address, was slowed.
    expect((await refusal(auth.authenticate(bearer(token()), '192.0.2.100'))).status).toBe(401);
  });

  it('forgets failures when the window ends', async () => {
    let now = 1_000_000;
    const auth = new Authenticator(tokens, { maxFailures: 2, windowMs: 10_000, now: () => now });
    const statuses = async () => (await refusal(auth.authenticate(bearer(token()), '10.1.1.1'))).status;
    expect([await statuses(), await statuses(), await statuses()]).toEqual([401, 401, 429]);
    now += 4_000;
    const late = await refusal(auth.authenticate(bearer(token()), '10.1.1.1'));
    expect(late.headers['retry-after']).toBe('6');
    now += 6_000;
    expect(await statuses()).toBe(401);
  });

  it('keeps at most maxTracked clients and fingerprints, however many attack', async () => {
    const auth = new Authenticator(tokens, { maxTracked: 100 });
    for (let i = 0; i < 1000; i++) {
      await refusal(auth.authenticate(bearer(token()), `10.2.${i >> 8}.${i & 255}`));
    }
    expect(auth.trackedFailures).toEqual({ clients: 100, fingerprints: 100 });
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    const counter = new FailureCounter({ maxFailures: 1, windowMs: 60_000, maxTracked: 10 });
    expect(counter.record('2001:db8:1:2::a', undefined, 0)).toBe(0);
    expect(counter.record('2001:db8:1:2::b', undefined, 0)).toBe(60);
  });

  it('turns a hop count into a trust function for that many proxies, and passes the rest through', () => {
    const hops = trustProxyOption(2) as (address: string, hop: number) => boolean;
    expect([hops('10.0.0.1', 0), hops('10.0.0.2', 1), hops('203.0.113.1', 2)]).toEqual([true, true, false]);
    expect(trustProxyOption(0)).toBe(false);
    expect(trustProxyOption(undefined)).toBe(false);
    expect(trustProxyOption(true)).toBe(true);
    expect(trustProxyOption(['10.0.0.0/8'])).toEqual(['10.0.0.0/8']);
  });
});

// JWTs signed with local keys: the claim checks and mapping. The real provider, discovery and the JWKS
// over HTTP are in test/integration/api-auth-oidc.test.ts.
let keys: { privateKey: CryptoKey; jwk: JWK };
beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  keys = {
    privateKey: pair.privateKey,
    jwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' },
  };
});

const nowS = () => Math.floor(Date.now() / 1000);
function sign(key: CryptoKey, claims: JWTPayload, header: Record<string, unknown> = {}) {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: nowS() + 300, iat: nowS(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header })
    .sign(key);
}
function verifier(extra: Partial<OidcOptions> = {}) {
  return new OidcVerifier({
    issuer: ISSUER,
    audience: [AUDIENCE],
    principalClaim: 'email',
    rolesClaim: 'groups',
    roleMap: { 'rekey-approvers': ['approver'], 'rekey-ops': ['operator', 'viewer'] },
    clockSkewSeconds: 30,
    keys: createLocalJWKSet({ keys: [keys.jwk] }),
    ...extra,
  });
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('OIDC/JWT bearer tokens', () => {
  it('maps the principal claim and the role claim, and says the issuer and subject proved it', async () => {
    const auth = new Authenticator(tokens, { oidc: verifier() });
    const jwt = await sign(keys.privateKey, {
      sub: 'u-123',
      email: 'erin@example.com',
      groups: ['everyone', 'rekey-ops', 'rekey-approvers'],
    });
    expect(await auth.authenticate(bearer(jwt), '10.3.0.1')).toEqual({
      principal: 'erin@example.com',
      roles: ['approver', 'operator', 'viewer'],
      authn: { method: 'oidc', issuer: ISSUER, subject: 'u-123' },
    });
    // Static tokens still work beside it.
    expect((await auth.authenticate(bearer(dave), '10.3.0.1')).principal).toBe('dave@example.com');
  });

  it('reads roles from a space-separated string or a dotted path to a nested claim', async () => {
    const nested = new Authenticator([], { oidc: verifier({ rolesClaim: 'realm_access.roles' }) });
    const jwt = await sign(keys.privateKey, {
      sub: 'u-1',
      email: 'a@example.com',
      realm_access: { roles: ['rekey-approvers'] },
    });
    expect((await nested.authenticate(bearer(jwt), '10.3.0.2')).roles).toEqual(['approver']);
    const spaced = new Authenticator([], { oidc: verifier({ rolesClaim: 'scope' }) });
    const scoped = await sign(keys.privateKey, {
      sub: 'u-2',
      email: 'b@example.com',
      scope: 'openid rekey-ops',
    });
    expect((await spaced.authenticate(bearer(scoped), '10.3.0.2')).roles).toEqual(['operator', 'viewer']);
  });

  it('honours the clock skew for exp and nbf, and refuses beyond it with 401', async () => {
    const claims = { sub: 'u-3', email: 'c@example.com', groups: ['rekey-approvers'] };
    const justExpired = await sign(keys.privateKey, { ...claims, exp: nowS() - 10 });
    const notYet = await sign(keys.privateKey, { ...claims, nbf: nowS() + 10 });
    const lenient = new Authenticator([], { oidc: verifier({ clockSkewSeconds: 30 }) });
    expect((await lenient.authenticate(bearer(justExpired), '10.3.0.3')).principal).toBe('c@example.com');
    expect((await lenient.authenticate(bearer(notYet), '10.3.0.3')).principal).toBe('c@example.com');
    const strict = new Authenticator([], { oidc: verifier({ clockSkewSeconds: 0 }) });
    const expired = await refusal(strict.authenticate(bearer(justExpired), '10.3.0.3'));
    expect({ status: expired.status, detail: expired.message }).toEqual({
      status: 401,
      detail: 'the bearer token has expired',
    });
    expect((await refusal(strict.authenticate(bearer(notYet), '10.3.0.3'))).status).toBe(401);
  });

  it('refuses with 401 another issuer, another audience, no exp, a tampered payload, alg none and HS256', async () => {
    const auth = new Authenticator([], { oidc: verifier() });
    const claims = { sub: 'u-4', email: 'd@example.com', groups: ['rekey-ops'] };
    const good = await sign(keys.privateKey, claims);
    const [header, , signature] = good.split('.');
    const tampered = `${header}.${b64({ ...claims, groups: ['rekey-approvers'], iss: ISSUER, aud: AUDIENCE, exp: nowS() + 300 })}.${signature}`;
    const none = `${b64({ alg: 'none' })}.${b64({ ...claims, iss: ISSUER, aud: AUDIENCE, exp: nowS() + 300 })}.`;
    const hs256 = await new SignJWT({ ...claims, iss: ISSUER, aud: AUDIENCE, exp: nowS() + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode('a shared secret nobody should trust'));
    const noExp = await new SignJWT({ ...claims, iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(keys.privateKey);
    const bad = [
      await sign(keys.privateKey, { ...claims, iss: 'https://evil.example.com' }),
      await sign(keys.privateKey, { ...claims, aud: 'some-other-api' }),
      noExp,
      tampered,
      none,
      hs256,
      await sign(keys.privateKey, claims, { typ: 'logout+jwt' }),
    ];
    for (const jwt of bad) {
      expect((await refusal(auth.authenticate(bearer(jwt), '10.3.0.4'))).status).toBe(401);
    }
    expect((await auth.authenticate(bearer(good), '10.3.0.4')).roles).toEqual(['operator', 'viewer']);
  });

  it('refuses a verified token without a usable principal (no claim, an unverified email) with 401 and one without a mapped role with 403, neither counted as a guess', async () => {
    const auth = new Authenticator([], { oidc: verifier(), maxFailures: 2 });
    const noEmail = await sign(keys.privateKey, { sub: 'u-5', groups: ['rekey-approvers'] });
    const noRole = await sign(keys.privateKey, { sub: 'u-6', email: 'f@example.com', groups: ['everyone'] });
    const unverified = await sign(keys.privateKey, {
      sub: 'u-7',
      email: 'bob@example.com',
      email_verified: false,
      groups: ['rekey-approvers'],
    });
    for (let i = 0; i < 5; i++) {
      const missing = await refusal(auth.authenticate(bearer(noEmail), '10.3.0.5'));
      expect({ status: missing.status, detail: missing.message }).toEqual({
        status: 401,
        detail: 'the bearer token has no usable email claim',
      });
      const roleless = await refusal(auth.authenticate(bearer(noRole), '10.3.0.5'));
      expect({ status: roleless.status, detail: roleless.message }).toEqual({
        status: 403,
        detail: 'f@example.com holds no rekey role: no value of the groups claim maps to one',
      });
      const claimed = await refusal(auth.authenticate(bearer(unverified), '10.3.0.5'));
      expect({ status: claimed.status, detail: claimed.message }).toEqual({
        status: 401,
        detail: 'the bearer token names an email address its provider has not verified',
      });
    }
  });

  it('answers 503 with Retry-After, not counted, when the provider cannot be reached for keys', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const auth = new Authenticator([], {
      oidc: verifier({ keys: undefined, issuer: `http://127.0.0.1:${closed}`, retryAfterFailureMs: 5000 }),
      maxFailures: 1,
    });
    const jwt = await sign(keys.privateKey, {
      iss: `http://127.0.0.1:${closed}`,
      sub: 'u',
      email: 'g@example.com',
    });
    for (let i = 0; i < 3; i++) {
      const problem = await refusal(auth.authenticate(bearer(jwt), '10.3.0.6'));
      expect({ status: problem.status, retryAfter: problem.headers['retry-after'] }).toEqual({
        status: 503,
        retryAfter: '5',
      });
      expect(problem.message).toMatch(
        /^cannot verify the bearer token now: the OpenID provider .* is unavailable/,
      );
    }
  });

  it('refuses to be configured with a symmetric algorithm or alg none', () => {
    expect(() => verifier({ algorithms: ['HS256'] })).toThrow(/asymmetric/);
    expect(() => verifier({ algorithms: ['none'] })).toThrow(/asymmetric/);
    expect(() => verifier({ algorithms: [] })).toThrow(/asymmetric/);
  });
});

describe('requireRole', () => {
  it('refuses with 403 a principal holding none of the roles', () => {
    let refused: unknown;
    try {
      requireRole({ principal: 'dave@example.com', roles: ['viewer'] }, 'requester');
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ status: 403, message: 'dave@example.com needs the requester role' });
    expect(() =>
      requireRole({ principal: 'bob@example.com', roles: ['approver'] }, 'approver'),
    ).not.toThrow();
  });
});
