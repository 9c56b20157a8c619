import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { OidcVerifier } from '../../api/oidc';
import { startServer, type RunningServer } from '../../api/server';
import { loadRegistry, loadSettings, type Settings } from '../../config';
import { freePort } from '../../scripts/local-stack';
import { rotationIdFor, workflowIdFor } from '../../domain/policy';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider';
import { messageRecorder, receivedQuery } from './workflows/message-recorder';

// OIDC bearer tokens against a real OpenID provider (oidc-provider, certified) on a local port: people
// log in through the authorization code flow, a service gets a JWT access token by client_credentials,
// and the API — started by startServer from REKEY_OIDC_* settings, on a real port — verifies them
// against the provider's discovery document and JWKS. Actions go to a message recorder on the harness's
// Temporal dev server, under a rotation's workflow id, so what the workflow receives is visible.
const ROOT = path.join(__dirname, '..', '..');
const RESOURCE = 'https://rekey.example/api';
const run = randomBytes(3).toString('hex');
const taskQueue = `api-oidc-${run}`;
const ticket = `CHG-O${run}`;
const seedYaml = readFileSync(path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml'), 'utf8');
const staticOperator = `rk_${randomBytes(16).toString('hex')}`;

const accounts = {
  bob: { email: 'bob@example.com', groups: ['everyone', 'rekey-approvers'] },
  dave: { email: 'dave@example.com', groups: ['rekey-viewers'] },
  mallory: { email: 'mallory@example.com', groups: ['everyone'] },
};
const roleMap = 'rekey-approvers=approver,rekey-ops=operator,rekey-viewers=viewer';

let settings: Settings;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;
let idp: TestProvider;
let otherIdp: TestProvider;
let api: RunningServer;
let dir: string;
const handles: WorkflowHandle[] = [];

beforeAll(async () => {
  // The provider warns, rightly, that its dev login forms and in-memory store are not for production.
  const warn = console.warn.bind(console);
  jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).startsWith('oidc-provider WARNING')) warn(...args);
  });
  settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: settings.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowsPath: require.resolve('./workflows/api-workflows'),
  });
  workerRun = worker.run();

  const providerOptions = {
    accounts,
    loginClients: { 'rekey-cli': {}, 'rekey-cli-short': { idTokenTtlSeconds: 1 }, 'other-app': {} },
    serviceClients: { 'deploy-bot': { email: 'deploy-bot@clients.example.com', groups: ['rekey-ops'] } },
    resource: RESOURCE,
  };
  idp = await startTestProvider(providerOptions);
  otherIdp = await startTestProvider(providerOptions);

  dir = mkdtempSync(path.join(tmpdir(), 'rekey-oidc-'));
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(
    tokensFile,
    `- sha256: ${tokenHash(staticOperator)}\n  principal: carol@example.com\n  roles: [operator]\n`,
  );
  api = await startServer(
    loadSettings({
      ...process.env,
      REKEY_API_PORT: '0',
      REKEY_API_TOKENS_FILE: tokensFile,
      REKEY_OIDC_ISSUER: idp.issuer,
      REKEY_OIDC_AUDIENCE: `${RESOURCE},rekey-cli,rekey-cli-short`,
      REKEY_OIDC_PRINCIPAL_CLAIM: 'email',
      REKEY_OIDC_ROLES_CLAIM: 'groups',
      REKEY_OIDC_ROLE_MAP: roleMap,
      REKEY_OIDC_CLOCK_SKEW_SECONDS: '1',
      REKEY_OIDC_ALGORITHMS: 'ES256',
    }),
    {
      temporal: client,
      registry: loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml')),
      taskQueue,
      logger: false,
    },
  );
});
afterAll(async () => {
  for (const h of handles) await h.terminate('oidc test over').catch(() => undefined);
  await api?.close();
  await idp?.close();
  await otherIdp?.close();
  worker?.shutdown();
  await workerRun;
  await nativeConnection?.close();
  await connection?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let recorders = 0;
/** A recorder under a rotation's workflow id and ticket, so the API takes it for a running rotation. */
async function recorder() {
  const credential = `oidc-key-${run}-${++recorders}`;
  const handle = await client.workflow.start(messageRecorder, {
    taskQueue,
    workflowId: workflowIdFor('oidctest', credential),
    args: [{}],
    typedSearchAttributes: [{ key: ChangeTicketKey, value: ticket }],
  });
  handles.push(handle);
  return { id: rotationIdFor(credential, 'oidctest', ticket), handle };
}

async function call(
  method: string,
  urlPath: string,
  token: string | undefined,
  body?: { json?: unknown; yaml?: string; ticket?: string },
  base = api.url,
) {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body?.json ? { 'content-type': 'application/json' } : {}),
      ...(body?.yaml ? { 'content-type': 'application/yaml' } : {}),
      ...(body?.ticket ? { 'x-change-ticket': body.ticket } : {}),
    },
    ...(body?.json ? { body: JSON.stringify(body.json) } : body?.yaml ? { body: body.yaml } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    retryAfter: res.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

describe('OIDC logins at a real OpenID provider', () => {
  it('lets an approver who logged in approve a gate, as the principal and role its claims name', async () => {
    const idToken = await idp.login('rekey-cli', 'bob');
    const { id, handle } = await recorder();
    const res = await call('POST', `/v1/rotations/${encodeURIComponent(id)}/approvals`, idToken, {
      json: { gate: 'revoke', comment: 'approved after an OIDC login' },
    });
    expect(res).toMatchObject({ status: 200, body: { id, accepted: true } });
    const received = await handle.query(receivedQuery);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      name: 'approve',
      args: { principal: 'bob@example.com', roles: ['approver'], gate: 'revoke' },
    });
    // The token itself never reaches the workflow.
    expect(JSON.stringify(received)).not.toContain(idToken);
  });

  it('lets a viewer who logged in read rotations, and refuses her a start with 403', async () => {
    const idToken = await idp.login('rekey-cli', 'dave');
    expect((await call('GET', '/v1/rotations', idToken)).status).toBe(200);
    const start = await call('POST', '/v1/rotations', idToken, { yaml: seedYaml, ticket: `CHG-V${run}` });
    expect(start).toMatchObject({
      status: 403,
      type: expect.stringMatching(/^application\/problem\+json/),
      body: { detail: 'dave@example.com needs the requester role' },
    });
  });

  it("accepts a service's client_credentials JWT access token for the rekey resource, with its claims' roles", async () => {
    const accessToken = await idp.serviceToken('deploy-bot');
    const { id, handle } = await recorder();
    const res = await call('POST', `/v1/rotations/${encodeURIComponent(id)}/hold-extensions`, accessToken, {
      json: { minutes: 30, reason: 'the batch window moved' },
    });
    expect(res.status).toBe(202);
    expect((await handle.query(receivedQuery))[0]).toMatchObject({
      name: 'extendHold',
      args: { principal: 'deploy-bot@clients.example.com', roles: ['operator'], minutes: 30 },
    });
  });

  it('refuses with 403 a login whose claims map to no rekey role, and still serves a static token', async () => {
    const idToken = await idp.login('rekey-cli', 'mallory');
    expect(await call('GET', '/v1/rotations', idToken)).toMatchObject({
      status: 403,
      body: { detail: 'mallory@example.com holds no rekey role: no value of the groups claim maps to one' },
    });
    expect((await call('GET', '/v1/rotations', staticOperator)).status).toBe(200);
  });

  it('refuses with 401 a token from another issuer, for another audience, expired, tampered or unsigned', async () => {
    const foreign = await otherIdp.login('rekey-cli', 'bob');
    const otherAudience = await idp.login('other-app', 'bob');
    const shortLived = await idp.login('rekey-cli-short', 'bob');
    const viewer = await idp.login('rekey-cli', 'dave');
    const [header, payload, signature] = viewer.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...claims, groups: ['rekey-approvers'] })).toString(
      'base64url',
    );
    const tampered = `${header}.${promoted}.${signature}`;
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${promoted}.`;
    // The short-lived token is valid for 1 s, plus the 1 s skew the API allows.
    expect((await call('GET', '/v1/rotations', shortLived)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));

    const { id } = await recorder();
    for (const token of [foreign, otherAudience, shortLived, tampered, unsigned]) {
      const res = await call('POST', `/v1/rotations/${encodeURIComponent(id)}/approvals`, token, {
        json: { gate: 'revoke' },
      });
      expect(res).toMatchObject({ status: 401, type: expect.stringMatching(/^application\/problem\+json/) });
    }
    expect((await call('GET', '/v1/rotations', shortLived)).body).toMatchObject({
      detail: 'the bearer token has expired',
    });
    // The genuine viewer token is still a viewer.
    expect((await call('GET', '/v1/rotations', viewer)).status).toBe(200);
  });
});

describe("the provider's keys", () => {
  const options = {
    accounts,
    loginClients: { 'rekey-cli': {} },
  };

  it('fetches the JWKS once for many tokens, again for a new kid after the cooldown, and keeps the last keys while the provider is down', async () => {
    const port = await freePort();
    let provider = await startTestProvider(options, port);
    const auth = new Authenticator([], {
      oidc: new OidcVerifier({
        issuer: provider.issuer,
        audience: ['rekey-cli'],
        principalClaim: 'email',
        roleMap: { 'rekey-approvers': ['approver'], 'rekey-viewers': ['viewer'] },
        jwksCooldownMs: 1000,
        retryAfterFailureMs: 2000,
      }),
      // The same foreign token 50 times would pass the fingerprint limit: this test is about key fetches.
      maxFailures: 1000,
    });
    const app = buildApp({
      temporal: client,
      registry: loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml')),
      auth,
      taskQueue,
      temporalUiUrl: settings.TEMPORAL_UI_URL,
      logger: false,
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const first = await provider.login('rekey-cli', 'dave');
      for (let i = 0; i < 20; i++)
        expect((await call('GET', '/v1/rotations', first, undefined, base)).status).toBe(200);
      expect(provider.jwksRequests()).toBe(1);

      // Tokens with a kid the provider never published (another provider's): at most one refetch per cooldown.
      const foreign = await otherIdp.login('rekey-cli', 'dave');
      const statuses = new Set<number>();
      for (let i = 0; i < 50; i++)
        statuses.add((await call('GET', '/v1/rotations', foreign, undefined, base)).status);
      expect([...statuses]).toEqual([401]);
      expect(provider.jwksRequests()).toBeLessThanOrEqual(2);

      // The provider restarts with a new signing key: its new tokens verify once the cooldown allows a fetch.
      await provider.close();
      provider = await startTestProvider(options, port);
      const second = await provider.login('rekey-cli', 'dave');
      await new Promise((r) => setTimeout(r, 1100));
      expect((await call('GET', '/v1/rotations', second, undefined, base)).status).toBe(200);
      expect(provider.jwksRequests()).toBe(1);

      // The provider goes down: a token whose key was fetched is still served; a new kid cannot be
      // checked, which is a 503 with Retry-After (not a 401 counted as a guess).
      await provider.close();
      await new Promise((r) => setTimeout(r, 1100));
      expect((await call('GET', '/v1/rotations', second, undefined, base)).status).toBe(200);
      const unknown = await call('GET', '/v1/rotations', foreign, undefined, base);
      expect(unknown).toMatchObject({
        status: 503,
        retryAfter: '2',
        type: expect.stringMatching(/problem\+json/),
      });
      expect((await call('GET', '/v1/rotations', second, undefined, base)).status).toBe(200);
    } finally {
      await app.close();
      await provider.close();
    }
  });

  it('answers 503 problem+json with Retry-After, not 401, while the provider cannot be reached and no keys are cached', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const app = buildApp({
      temporal: client,
      registry: loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml')),
      auth: new Authenticator([], {
        maxFailures: 1,
        oidc: new OidcVerifier({ issuer: down, audience: ['rekey-cli'], roleMap: { x: ['viewer'] } }),
      }),
      taskQueue,
      temporalUiUrl: settings.TEMPORAL_UI_URL,
      logger: false,
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const token = await idp.login('rekey-cli', 'dave');
      for (let i = 0; i < 3; i++) {
        const res = await call('GET', '/v1/rotations', token, undefined, base);
        expect(res).toMatchObject({
          status: 503,
          retryAfter: '10',
          type: expect.stringMatching(/^application\/problem\+json/),
          body: { detail: expect.stringMatching(/^cannot verify the bearer token now: the OpenID provider/) },
        });
      }
    } finally {
      await app.close();
    }
  });

  it('uses a configured jwks_uri without discovery, and trusts no discovery document naming another issuer', async () => {
    const provider = await startTestProvider({ accounts, loginClients: { 'rekey-cli': {} } });
    try {
      const token = await provider.login('rekey-cli', 'dave');
      const common = {
        audience: ['rekey-cli'],
        principalClaim: 'email',
        roleMap: { 'rekey-viewers': ['viewer' as const] },
      };
      const direct = new Authenticator([], {
        oidc: new OidcVerifier({ ...common, issuer: provider.issuer, jwksUri: `${provider.issuer}/jwks` }),
      });
      expect(await direct.authenticate(`Bearer ${token}`, '127.0.0.1')).toMatchObject({
        principal: 'dave@example.com',
        roles: ['viewer'],
        authn: { method: 'oidc', issuer: provider.issuer },
      });
      expect({ discovery: provider.discoveryRequests(), jwks: provider.jwksRequests() }).toEqual({
        discovery: 0,
        jwks: 1,
      });

      // Discovery at issuer + '/' answers the same document, whose issuer is not the configured one.
      const mismatched = new Authenticator([], {
        oidc: new OidcVerifier({ ...common, issuer: `${provider.issuer}/` }),
      });
      let refused: unknown;
      await mismatched.authenticate(`Bearer ${token}`, '127.0.0.1').catch((err: unknown) => (refused = err));
      expect(refused).toMatchObject({
        status: 503,
        message: expect.stringMatching(/discovery at .* names issuer "http:\/\/127\.0\.0\.1:\d+"/),
      });
      expect(provider.discoveryRequests()).toBe(1);
      expect(provider.jwksRequests()).toBe(1);
    } finally {
      await provider.close();
    }
  });
});
