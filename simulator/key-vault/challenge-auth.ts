// Challenge-based authentication as Key Vault does it: a request without a bearer token gets 401 with a
// WWW-Authenticate challenge naming the tenant's authority and the Key Vault resource; the SDK then asks
// its credential for a token of that resource and sends the request again. This emulator is for
// development only: ANY bearer token is accepted and nothing is authorized per principal.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The tenant a challenge names when none is configured (no real tenant has this id). */
export const EMULATOR_TENANT_ID = '00000000-0000-0000-0000-000000000000';

/** The challenge header value the service sends with its 401. */
export function challengeHeader(tenantId: string): string {
  return `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`;
}

/** An onRequest hook: 401 with the challenge unless the request carries `Authorization: Bearer <token>`. */
export function challengeAuth(tenantId: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) return;
    // Returning the reply tells Fastify the hook answered; the body is never parsed before this check.
    return reply
      .code(401)
      .header('www-authenticate', challengeHeader(tenantId))
      .send({
        error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
      });
  };
}
