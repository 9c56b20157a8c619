// Bearer-token auth. Two kinds of credential: static tokens configured as SHA-256 hashes with a
// principal and roles, and (when configured) OIDC/JWT tokens verified against the issuer's JWKS
// (oidc.ts). The principal (never a body field) is who the workflow records; `authn` says how it was
// proven. The presented credential is always verified first: a valid one is served however many
// failures came before, and only failures are counted (per client and per credential fingerprint) and,
// past a limit, answered 429 with Retry-After instead of 401 (auth-failures.ts).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ROLES, type Role } from '../domain/policy';
import { DEFAULT_FAILURE_LIMITS, FailureCounter, type FailureLimits } from './auth-failures';
import { HttpProblem, NotAllowed, Unauthenticated } from './errors';
import { looksLikeJwt, type OidcVerifier } from './oidc';
import type { Principal } from './principal';

export type { Authn, Principal } from './principal';

export const tokenConfigSchema = z.array(
  z.strictObject({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the token, hex'),
    principal: z.string().min(1),
    roles: z.array(z.enum(ROLES)).min(1),
  }),
);
export type TokenConfig = z.infer<typeof tokenConfigSchema>;

/** SHA-256 hex of a token, as configured. */
export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** The non-secret id of a configured static token: the first 12 hex of its SHA-256. */
export const tokenIdOf = (sha256: string) => sha256.slice(0, 12);

export interface AuthenticatorOptions extends Partial<FailureLimits> {
  /** Verifies JWT bearer tokens; without it only static tokens authenticate. */
  oidc?: OidcVerifier;
  now?: () => number;
}

/** A bearer token longer than this is refused unread (a JWT with many groups stays well below). */
const MAX_TOKEN_LENGTH = 16_384;

/** Verifies bearer tokens; counts failures per client and per credential to slow down guessing. */
export class Authenticator {
  private readonly failures: FailureCounter;
  // Fingerprints are keyed with a per-process secret: what the failure table holds cannot be tested
  // against guesses offline, and is not the configured SHA-256 of any token.
  private readonly fingerprintKey = randomBytes(32);

  constructor(
    private readonly tokens: TokenConfig,
    private readonly opts: AuthenticatorOptions = {},
  ) {
    this.failures = new FailureCounter({
      maxFailures: opts.maxFailures ?? DEFAULT_FAILURE_LIMITS.maxFailures,
      windowMs: opts.windowMs ?? DEFAULT_FAILURE_LIMITS.windowMs,
      maxTracked: opts.maxTracked ?? DEFAULT_FAILURE_LIMITS.maxTracked,
    });
  }

  /** Whether JWT bearer tokens are accepted (an OIDC issuer is configured). */
  get oidcIssuer(): string | undefined {
    return this.opts.oidc?.issuer;
  }

  /** How many clients and credential fingerprints the failure table holds now (bounded). */
  get trackedFailures(): { clients: number; fingerprints: number } {
    return this.failures.tracked;
  }

  /**
   * The principal behind an Authorization header from a client address; else a 401 (429 with
   * Retry-After past the failure limits), a 403 for a verified token without a rekey role, or a 503
   * when a JWT cannot be checked because the OpenID provider is unreachable.
   */
  async authenticate(authorization: string | undefined, client: string): Promise<Principal> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (token && token.length <= MAX_TOKEN_LENGTH) {
      const known = this.staticToken(token);
      if (known) return known;
      if (this.opts.oidc && looksLikeJwt(token)) {
        const result = await this.opts.oidc.verify(token);
        if (result.ok) return result.principal;
        if (!result.countsAsFailure) throw result.problem;
        throw this.failed(client, token, result.problem);
      }
    }
    throw this.failed(client, token, Unauthenticated());
  }

  private staticToken(token: string): Principal | undefined {
    const presented = Buffer.from(tokenHash(token), 'hex');
    // Compare against every configured hash so timing does not tell which one (if any) matched.
    let match: TokenConfig[number] | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(presented, Buffer.from(t.sha256, 'hex'))) match = t;
    }
    if (!match) return undefined;
    return {
      principal: match.principal,
      roles: match.roles,
      authn: { method: 'static-token', tokenId: tokenIdOf(match.sha256) },
    };
  }

  /** Counts a failed credential; past a limit the answer is 429 with Retry-After instead of the 401. */
  private failed(client: string, token: string | undefined, problem: HttpProblem): HttpProblem {
    const fingerprint = token
      ? createHmac('sha256', this.fingerprintKey).update(token, 'utf8').digest('hex').slice(0, 32)
      : undefined;
    const wait = this.failures.record(client, fingerprint, (this.opts.now ?? Date.now)());
    if (!wait) return problem;
    return new HttpProblem(
      429,
      'Too many requests',
      `too many failed authentication attempts from this client or with this credential; retry in ${wait} s (a valid credential is still served)`,
      {},
      { 'retry-after': String(wait) },
    );
  }
}

/** Refuses a principal that holds none of the roles. */
export function requireRole(who: Pick<Principal, 'principal' | 'roles'>, ...roles: Role[]): void {
  if (!who.roles.some((r) => roles.includes(r))) {
    throw NotAllowed(`${who.principal} needs the ${roles.join(' or ')} role`);
  }
}

/** The principal the /v1 onRequest hook authenticated; a route outside /v1 has none. */
export function principalOf(req: { principal: Principal | null }): Principal {
  if (!req.principal) throw Unauthenticated();
  return req.principal;
}
