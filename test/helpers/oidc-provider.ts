// A real OpenID provider for tests: panva's certified `oidc-provider`, listening on a free local port,
// with accounts whose claims carry email and groups, and tokens got the way real clients get them — an
// ID token through the authorization code flow (PKCE, the provider's dev login and consent forms driven
// with fetch and a cookie jar), and a JWT access token through client_credentials with a resource
// indicator. Requests to its JWKS are counted, so a test can see how often a verifier fetched keys.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { freePort } from '../../scripts/local-stack';

export interface TestAccount {
  email: string;
  groups: string[];
}

export interface TestProviderOptions {
  accounts: Record<string, TestAccount>;
  /** Client ids of authorization-code clients (public redirect to a local callback), with their ID-token TTL. */
  loginClients: Record<string, { idTokenTtlSeconds?: number }>;
  /** client_credentials clients: id → the email and groups its access tokens carry. */
  serviceClients?: Record<string, TestAccount>;
  /** The resource indicator (the audience) of JWT access tokens. */
  resource?: string;
}

export interface TestProvider {
  issuer: string;
  /** How many times the JWKS was fetched. */
  jwksRequests: () => number;
  /** How many times the discovery document was fetched. */
  discoveryRequests: () => number;
  /** An ID token for an account, through the authorization code flow with PKCE. */
  login: (clientId: string, accountId: string) => Promise<string>;
  /** A JWT access token for the resource, through client_credentials. */
  serviceToken: (clientId: string) => Promise<string>;
  close: () => Promise<void>;
}

export const CLIENT_SECRET = `secret-${randomBytes(8).toString('hex')}`;
const REDIRECT_URI = 'http://127.0.0.1/callback';

/** Starts an OpenID provider on a free port (or the port given, to stand in for one that restarted). */
export async function startTestProvider(opts: TestProviderOptions, port?: number): Promise<TestProvider> {
  const listenPort = port ?? (await freePort());
  const issuer = `http://127.0.0.1:${listenPort}`;
  const resource = opts.resource ?? 'https://rekey.example/api';
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: randomBytes(6).toString('hex'),
    alg: 'ES256',
    use: 'sig',
  };
  const serviceClients = opts.serviceClients ?? {};

  const configuration: Configuration = {
    clients: [
      ...Object.keys(opts.loginClients).map((client_id): ClientMetadata => ({
        client_id,
        client_secret: CLIENT_SECRET,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      })),
      ...Object.keys(serviceClients).map((client_id): ClientMetadata => ({
        client_id,
        client_secret: CLIENT_SECRET,
        redirect_uris: [],
        grant_types: ['client_credentials'],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      })),
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    // Scope claims in the ID token itself (not only at userinfo): the API reads them from the token.
    conformIdTokenClaims: false,
    findAccount: (_ctx, sub) => {
      const account = opts.accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: () => ({ sub, email: account.email, email_verified: true, groups: account.groups }),
      };
    },
    ttl: {
      IdToken: (_ctx, _token, client) => opts.loginClients[client.clientId]?.idTokenTtlSeconds ?? 3600,
      AccessToken: 3600,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      Grant: 3600,
      Interaction: 600,
      Session: 3600,
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'rekey',
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => {
      const service = 'clientId' in token && token.clientId ? serviceClients[token.clientId] : undefined;
      return service && token.kind === 'ClientCredentials' ? { ...service } : undefined;
    },
  };
  const provider = new Provider(issuer, configuration);
  let jwksRequests = 0;
  let discoveryRequests = 0;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwksRequests++;
    if (ctx.path === '/.well-known/openid-configuration') discoveryRequests++;
    await next();
  });
  // Koa's request listener returns a promise that node:http has no use for.
  const callback = provider.callback();
  const server = http.createServer((req, res) => void callback(req, res));
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  if ((server.address() as AddressInfo).port !== listenPort) throw new Error('provider port mismatch');

  const basic = (clientId: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;

  async function tokenRequest(clientId: string, body: Record<string, string>) {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(clientId), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    });
    const json = (await res.json()) as { id_token?: string; access_token?: string; error?: string };
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }

  async function login(clientId: string, accountId: string): Promise<string> {
    const jar = new Map<string, string>();
    const send = async (url: string, form?: Record<string, string>) => {
      const res = await fetch(new URL(url, issuer), {
        method: form ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form) } : {}),
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair = ''] = c.split(';');
        const at = pair.indexOf('=');
        jar.set(pair.slice(0, at), pair.slice(at + 1));
      }
      return res;
    };
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid email groups',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    let res = await send(auth.href);
    // Redirects and the provider's forms, as a browser would follow and a person would fill them in:
    // the login form (any password: these are the provider's development interactions), then consent.
    for (let step = 0; step < 12; step++) {
      const location = res.headers.get('location');
      if (location?.startsWith(REDIRECT_URI)) {
        const code = new URL(location).searchParams.get('code');
        if (!code) throw new Error(`login ended without a code: ${location}`);
        const tokens = await tokenRequest(clientId, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT_URI,
          code_verifier: verifier,
        });
        return tokens.id_token!;
      }
      if (location) {
        res = await send(location);
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`login stuck at ${res.status}: ${html.slice(0, 300)}`);
      res = await send(
        action,
        prompt === 'login' ? { prompt, login: accountId, password: 'any' } : { prompt },
      );
    }
    throw new Error('login did not finish');
  }

  async function serviceToken(clientId: string): Promise<string> {
    const tokens = await tokenRequest(clientId, {
      grant_type: 'client_credentials',
      scope: 'rekey',
      resource,
    });
    return tokens.access_token!;
  }

  return {
    issuer,
    jwksRequests: () => jwksRequests,
    discoveryRequests: () => discoveryRequests,
    login,
    serviceToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
