// The API's authentication settings: which proxies to trust for the client address, the failure
// limits, and the OpenID provider whose JWTs count beside the static tokens. Spread into settingsSchema.
import { isIP } from 'node:net';
import { z } from 'zod';
import { ROLES, type Role } from '../domain/policy';

/** proxy-addr's names for address ranges, accepted in a trusted-proxy list. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

const isAddressOrCidr = (entry: string) => {
  const [address = '', bits, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
};

/** Fastify's trustProxy: false, true, a hop count, or the addresses/CIDRs of trusted proxies. */
const trustProxy = z
  .string()
  .trim()
  .transform((value, ctx): boolean | number | string[] => {
    if (value === 'false') return false;
    if (value === 'true') return true;
    if (/^\d+$/.test(value)) return Number(value);
    const entries = value.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => !PROXY_RANGE_NAMES.includes(e) && !isAddressOrCidr(e));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `expected false, true, a hop count or comma-separated addresses/CIDRs; not ${bad.join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  });

/** A comma-separated list of non-empty values. */
const list = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()).min(1, 'expected at least one value'));

/**
 * Claim value → rekey roles: `value=role,value=role` (repeat a value to grant it several roles), or a
 * JSON object `{"value": "role" | ["role", …]}` for values that contain `,` or `=` (LDAP DNs).
 */
const roleMap = z.string().transform((value, ctx): Record<string, Role[]> => {
  const pairs: [string, unknown][] = [];
  if (value.trim().startsWith('{')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(value) as Record<string, unknown>)) {
        for (const role of [v].flat()) pairs.push([k, role]);
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a JSON object' });
      return z.NEVER;
    }
  } else {
    for (const entry of value.split(',').filter((e) => e.trim())) {
      const at = entry.lastIndexOf('=');
      pairs.push([entry.slice(0, at).trim(), at < 0 ? undefined : entry.slice(at + 1).trim()]);
    }
  }
  const map: Record<string, Role[]> = Object.create(null) as Record<string, Role[]>;
  for (const [claimValue, role] of pairs) {
    if (!claimValue || !(ROLES as readonly unknown[]).includes(role)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected claim-value=role with a role of ${ROLES.join(', ')}; not ${JSON.stringify(claimValue)}=${JSON.stringify(role)}`,
      });
      return z.NEVER;
    }
    map[claimValue] = [...new Set([...(map[claimValue] ?? []), role as Role])];
  }
  if (Object.keys(map).length === 0) {
    ctx.addIssue({ code: 'custom', message: 'maps no claim value to a role' });
    return z.NEVER;
  }
  return map;
});

/** The auth settings, by variable name; their meaning is in each description. */
export const authSettings = {
  REKEY_API_TRUST_PROXY: trustProxy
    .prefault('false')
    .describe(
      'which proxies may name the client address (X-Forwarded-For): false, true (any: only when every request comes through your proxy), a hop count, or comma-separated addresses/CIDRs',
    ),
  REKEY_API_AUTH_MAX_FAILURES: z.coerce
    .number()
    .int()
    .min(1)
    .default(20)
    .describe(
      'failed authentications a client or a presented credential may have per window before 429 (a valid credential is always served)',
    ),
  REKEY_API_AUTH_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(60)
    .describe('the window REKEY_API_AUTH_MAX_FAILURES counts in'),
  REKEY_OIDC_ISSUER: z
    .url()
    .optional()
    .describe('OpenID provider whose JWT bearer tokens are accepted beside static tokens; unset: none'),
  REKEY_OIDC_AUDIENCE: list
    .optional()
    .describe(
      'accepted `aud` values, comma-separated: the API resource and/or the client id; required with an issuer',
    ),
  REKEY_OIDC_JWKS_URI: z
    .url()
    .optional()
    .describe('the JWKS URL; unset: from the issuer’s discovery document'),
  REKEY_OIDC_PRINCIPAL_CLAIM: z
    .string()
    .min(1)
    .default('sub')
    .describe('the claim that names the principal, e.g. email or preferred_username'),
  REKEY_OIDC_ROLES_CLAIM: z
    .string()
    .min(1)
    .default('groups')
    .describe(
      'the claim holding group/role values (array or space-separated); a dotted path reaches nested claims',
    ),
  REKEY_OIDC_ROLE_MAP: roleMap
    .optional()
    .describe(
      'claim value → rekey role: `rekey-approvers=approver,rekey-ops=operator` or JSON; required with an issuer',
    ),
  REKEY_OIDC_CLOCK_SKEW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .default(30)
    .describe('leeway for exp and nbf of OIDC tokens'),
  REKEY_OIDC_ALGORITHMS: list
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/,
            'asymmetric JWS algorithms only (no none, no HS*)',
          ),
      ),
    )
    .prefault('RS256,PS256,ES256,EdDSA')
    .describe('allowed JWS algorithms of OIDC tokens, comma-separated'),
};
