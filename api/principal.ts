// Who an authenticated /v1 request is from, and how that was proven. A leaf module: auth.ts and oidc.ts
// produce it, routes and message signing read it.
import type { Authn } from '../domain/message-proof';
import type { Role } from '../domain/policy';

export type { Authn } from '../domain/message-proof';

/** The caller of a /v1 route: the principal the workflow records, its roles, and how it was proven. */
export interface Principal {
  principal: string;
  roles: Role[];
  /** A static token's non-secret id (never the token), or the OIDC issuer and subject. */
  authn: Authn;
}
