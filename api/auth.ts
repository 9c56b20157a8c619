// Bearer-token auth: tokens are configured as SHA-256 hashes with a principal and roles; the principal
// (never a body field) is who the workflow records. Comparison is constant-time, and failed attempts
// are rate-limited per client address.
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ROLES, type Role } from '../domain/policy';
import { NotAllowed, TooManyRequests, Unauthenticated } from './errors';

export const tokenConfigSchema = z.array(
  z.strictObject({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the token, hex'),
    principal: z.string().min(1),
    roles: z.array(z.enum(ROLES)).min(1),
  }),
);
export type TokenConfig = z.infer<typeof tokenConfigSchema>;

export interface Principal {
  principal: string;
  roles: Role[];
}

/** SHA-256 hex of a token, as configured. */
export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Verifies bearer tokens; remembers failures per client to slow down guessing. */
export class Authenticator {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly tokens: TokenConfig,
    private readonly opts: { maxFailures: number; windowMs: number; now?: () => number } = {
      maxFailures: 20,
      windowMs: 60_000,
    },
  ) {}

  /** The principal behind an Authorization header, or a 401/429 problem. */
  authenticate(authorization: string | undefined, client: string): Principal {
    const now = (this.opts.now ?? Date.now)();
    const f = this.failures.get(client);
    if (f && now - f.since < this.opts.windowMs && f.count >= this.opts.maxFailures) {
      throw TooManyRequests('too many failed authentication attempts; try again later');
    }
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const presented = Buffer.from(tokenHash(token ?? ''), 'hex');
    // Compare against every configured hash so timing does not tell which one (if any) matched.
    let match: TokenConfig[number] | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(presented, Buffer.from(t.sha256, 'hex')) && token) match = t;
    }
    if (!match) {
      const fresh = !f || now - f.since >= this.opts.windowMs;
      this.failures.set(client, { count: fresh ? 1 : f.count + 1, since: fresh ? now : f.since });
      throw Unauthenticated();
    }
    return { principal: match.principal, roles: match.roles };
  }
}

/** Refuses a principal that holds none of the roles. */
export function requireRole(who: Principal, ...roles: Role[]): void {
  if (!who.roles.some((r) => roles.includes(r))) {
    throw NotAllowed(`${who.principal} needs the ${roles.join(' or ')} role`);
  }
}

/** The principal the /v1 onRequest hook authenticated; a route outside /v1 has none. */
export function principalOf(req: { principal: Principal | null }): Principal {
  if (!req.principal) throw Unauthenticated();
  return req.principal;
}
