// OIDC/JWT bearer tokens beside the hashed static tokens: a JWT counts when it verifies against the
// issuer's JWKS (found by discovery unless configured), with the issuer, audience, expiry and nbf (with a
// clock skew), an asymmetric algorithm from the allowed list, and a token type that is an ID or access
// token. The principal comes from one configured claim, the roles from another through a role map.
// The provider is asked lazily: static tokens work while it is down, and a JWT that cannot be checked
// then is a 503 (with Retry-After), never a 401 that would count as a guess.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from 'jose';
import { ROLES, type Role } from '../domain/policy';
import { type HttpProblem, NotAllowed, ServiceUnavailable, Unauthenticated } from './errors';
import type { Principal } from './principal';

/** Signature algorithms a deployment may allow: asymmetric only (never `none`, never HS*). */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export interface OidcOptions {
  /** The `iss` every token must carry; discovery is `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /** Accepted `aud` values: the API's resource identifier and/or the client id of its ID tokens. */
  audience: string[];
  /** The JWKS URL; discovered from the issuer when unset. */
  jwksUri?: string;
  /** The claim that names the principal (e.g. `email`, `preferred_username`); default `sub`. */
  principalClaim?: string;
  /** The claim holding group or role values (an array, or a space-separated string); default `groups`. */
  rolesClaim?: string;
  /** Claim value → the rekey roles it grants; values not listed grant nothing. */
  roleMap: Record<string, Role[]>;
  /** Leeway for exp and nbf, in seconds; default 30. */
  clockSkewSeconds?: number;
  /** Allowed `alg` values, each from OIDC_ALGORITHMS; default RS256, PS256, ES256, EdDSA. */
  algorithms?: string[];
  /** After a JWKS fetch, an unknown kid does not fetch again for this long; default 30 s. */
  jwksCooldownMs?: number;
  /** Keys are refetched once this old even when every kid is known; default 10 min. */
  jwksMaxAgeMs?: number;
  /** After a failed discovery or JWKS fetch, the provider is not asked again for this long; default 10 s. */
  retryAfterFailureMs?: number;
  /** Timeout of each discovery or JWKS request; default 5 s. */
  httpTimeoutMs?: number;
  /** A key source instead of the issuer's JWKS (unit tests sign with local keys). */
  keys?: JWTVerifyGetKey;
  now?: () => number;
}

/** What a presented JWT came to: a principal, or a problem and whether it counts as a failed guess. */
export type OidcResult =
  { ok: true; principal: Principal } | { ok: false; problem: HttpProblem; countsAsFailure: boolean };

const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** `typ` values of tokens meant as bearer tokens; a logout or DPoP proof JWT is refused. */
const BEARER_TYPES = new Set([undefined, 'jwt', 'at+jwt', 'application/at+jwt']);
/** jose error codes that mean the token is bad, as opposed to the provider being unreachable. */
const TOKEN_ERRORS = new Set([
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_EXPIRED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JWK_INVALID',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
]);
const MAX_PRINCIPAL_LENGTH = 320;

/** Whether a bearer token has the shape of a compact JWS (three base64url parts). */
export const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);

class ProviderUnavailable extends Error {}

const isTokenError = (err: unknown) =>
  err instanceof Error && TOKEN_ERRORS.has((err as Error & { code?: string }).code ?? '');

/** A claim by exact name (`https://example.com/roles`), else by dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (!value || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Verifies OIDC/JWT bearer tokens against one issuer and maps their claims to a Principal. */
export class OidcVerifier {
  readonly issuer: string;
  private readonly algorithms: string[];
  private readonly roleMap: Map<string, Role[]>;
  private remote?: RemoteJWKSet;
  private discovering?: Promise<RemoteJWKSet>;
  private failedAt = Number.NEGATIVE_INFINITY;
  private failure = '';

  constructor(private readonly opts: OidcOptions) {
    this.issuer = opts.issuer;
    this.algorithms = opts.algorithms ?? DEFAULT_ALGORITHMS;
    const unsafe = this.algorithms.filter((a) => !(OIDC_ALGORITHMS as readonly string[]).includes(a));
    if (unsafe.length || this.algorithms.length === 0) {
      throw new Error(
        `OIDC algorithms must be asymmetric (${OIDC_ALGORITHMS.join(', ')}): ${unsafe.join(', ')}`,
      );
    }
    if (opts.audience.length === 0) throw new Error('OIDC needs at least one audience');
    this.roleMap = new Map(Object.entries(opts.roleMap));
  }

  /** The principal a JWT proves, or why it proves none. */
  async verify(token: string): Promise<OidcResult> {
    let payload: JWTPayload;
    try {
      const verified = await jwtVerify(token, (header, input) => this.key(header, input), {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: this.algorithms,
        clockTolerance: this.opts.clockSkewSeconds ?? 30,
        requiredClaims: ['iss', 'aud', 'exp', 'sub'],
        ...(this.opts.now ? { currentDate: new Date(this.opts.now()) } : {}),
      });
      if (!BEARER_TYPES.has(verified.protectedHeader.typ?.toLowerCase())) {
        return this.refused('the bearer token is not an ID or access token', true);
      }
      payload = verified.payload;
    } catch (err) {
      if (err instanceof ProviderUnavailable) {
        return { ok: false, problem: this.unavailable(), countsAsFailure: false };
      }
      if (!isTokenError(err)) throw err;
      const code = (err as Error & { code?: string }).code;
      return this.refused(
        code === 'ERR_JWT_EXPIRED' ? 'the bearer token has expired' : 'the bearer token does not verify',
        true,
      );
    }
    return this.principalOf(payload);
  }

  /** The principal and roles of verified claims; a token without them proves nothing rekey can use. */
  private principalOf(payload: JWTPayload): OidcResult {
    const principalClaim = this.opts.principalClaim ?? 'sub';
    const rolesClaim = this.opts.rolesClaim ?? 'groups';
    const name = claimAt(payload, principalClaim);
    // Signed by the provider, so not a guess: a 401 that does not count toward the failure limits.
    if (typeof name !== 'string' || !name.trim() || name.length > MAX_PRINCIPAL_LENGTH) {
      return this.refused(`the bearer token has no usable ${principalClaim} claim`, false);
    }
    // Four-eyes compares principals: an address the provider says it has not verified names nobody.
    if (principalClaim === 'email' && payload.email_verified === false) {
      return this.refused('the bearer token names an email address its provider has not verified', false);
    }
    const raw = claimAt(payload, rolesClaim);
    const values = Array.isArray(raw)
      ? raw.filter((v): v is string => typeof v === 'string')
      : typeof raw === 'string'
        ? raw.split(/\s+/)
        : [];
    const granted = new Set(values.flatMap((v) => this.roleMap.get(v) ?? []));
    const roles = ROLES.filter((r) => granted.has(r));
    const principal = name.trim();
    if (roles.length === 0) {
      const detail = `${principal} holds no rekey role: no value of the ${rolesClaim} claim maps to one`;
      return { ok: false, problem: NotAllowed(detail), countsAsFailure: false };
    }
    return {
      ok: true,
      principal: {
        principal,
        roles,
        authn: { method: 'oidc', issuer: this.opts.issuer, subject: payload.sub! },
      },
    };
  }

  private refused(detail: string, countsAsFailure: boolean): OidcResult {
    return { ok: false, problem: Unauthenticated(detail), countsAsFailure };
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.opts.retryAfterFailureMs ?? 10_000) / 1000));
  }

  private unavailable(): HttpProblem {
    return ServiceUnavailable(
      `cannot verify the bearer token now: the OpenID provider ${this.opts.issuer} is unavailable (${this.failure})`,
      this.retryAfterSeconds(),
    );
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private failingRecently(): boolean {
    return this.now() - this.failedAt < (this.opts.retryAfterFailureMs ?? 10_000);
  }

  private markFailed(err: unknown): void {
    this.failedAt = this.now();
    this.failure = err instanceof Error ? err.message.slice(0, 200) : String(err);
  }

  /** The key of a token: from the cached JWKS, refetched on an unknown kid (jose's cooldown applies). */
  private async key(...args: Parameters<JWTVerifyGetKey>): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    if (this.opts.keys) return this.opts.keys(...args);
    // After a failure the provider is left alone for a while: the last keys it served still count
    // (stale beats refusing a valid token), and without any a JWT is a 503, not a fetch per request.
    if (this.failingRecently()) return this.staleKey(args);
    const remote = await this.remoteKeys();
    try {
      return await remote(...args);
    } catch (err) {
      if (isTokenError(err)) throw err;
      this.markFailed(err);
      return this.staleKey(args);
    }
  }

  /** The key from the last JWKS the provider served; none, or a kid it did not hold, is a 503. */
  private async staleKey(args: Parameters<JWTVerifyGetKey>) {
    const cached = this.remote?.jwks();
    if (!cached) throw new ProviderUnavailable(this.failure);
    try {
      return await createLocalJWKSet(cached)(...args);
    } catch (err) {
      // A kid the provider may have published since: it cannot be told from a forgery until it answers.
      if ((err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY') {
        throw new ProviderUnavailable(this.failure);
      }
      throw err;
    }
  }

  private async remoteKeys(): Promise<RemoteJWKSet> {
    if (this.remote) return this.remote;
    this.discovering ??= this.jwksUri().then(
      (uri) =>
        (this.remote = createRemoteJWKSet(new URL(uri), {
          cooldownDuration: this.opts.jwksCooldownMs ?? 30_000,
          cacheMaxAge: this.opts.jwksMaxAgeMs ?? 600_000,
          timeoutDuration: this.opts.httpTimeoutMs ?? 5000,
        })),
      (err: unknown) => {
        this.discovering = undefined;
        this.markFailed(err);
        throw new ProviderUnavailable(this.failure);
      },
    );
    return this.discovering;
  }

  /** The configured jwks_uri, else the one the issuer's discovery document names. */
  private async jwksUri(): Promise<string> {
    if (this.opts.jwksUri) return this.opts.jwksUri;
    const url = `${this.opts.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(this.opts.httpTimeoutMs ?? 5000),
    });
    if (!res.ok) throw new Error(`discovery at ${url} answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document must name the very issuer it was fetched for.
    if (doc.issuer !== this.opts.issuer) {
      throw new Error(`discovery at ${url} names issuer ${JSON.stringify(doc.issuer)}`);
    }
    if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) {
      throw new Error(`discovery at ${url} names no jwks_uri`);
    }
    return doc.jwks_uri;
  }
}
