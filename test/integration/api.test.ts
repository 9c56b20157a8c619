import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadRegistry, loadSettings } from '../../config';

// The API against the real Temporal dev server the harness started. No worker runs here: started
// rotations wait in PREPARING, which is all these tests need (gates are covered by workflow tests).
const seedYaml = readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8');
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const alice = token();
const bob = token();
const dave = token();
let connection: Connection;
let client: Client;
let app: FastifyInstance;

beforeAll(async () => {
  const settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  app = buildApp({
    temporal: client,
    registry: loadRegistry(path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml')),
    auth: new Authenticator([
      { sha256: tokenHash(alice), principal: 'alice@example.com', roles: ['requester'] },
      { sha256: tokenHash(bob), principal: 'bob@example.com', roles: ['approver'] },
      { sha256: tokenHash(dave), principal: 'dave@example.com', roles: ['viewer'] },
    ]),
    taskQueue: `api-test-${randomBytes(4).toString('hex')}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
  });
  await app.ready();
});
afterAll(async () => {
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'rotation' AND ExecutionStatus = 'Running'`,
  })) {
    await client.workflow.getHandle(wf.workflowId, wf.runId).terminate('api test over');
  }
  await app?.close();
  await connection?.close();
});

const post = (body: string, headers: Record<string, string> = {}, bearer: string | null = alice) =>
  app.inject({
    method: 'POST',
    url: '/v1/rotations',
    payload: body,
    headers: {
      'content-type': 'application/yaml',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      ...headers,
    },
  });

describe('POST /v1/rotations', () => {
  it("starts a rotation from the seed's template verbatim, joins it on the same ticket, and refuses another ticket", async () => {
    const first = await post(seedYaml, { 'x-change-ticket': 'CHG-2001' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      id: 'production:flatkey-router-key:CHG-2001',
      workflowId: 'rekey:production:flatkey-router-key',
      statusUrl: '/v1/rotations/production%3Aflatkey-router-key%3ACHG-2001',
      temporalUiUrl: expect.stringContaining(
        '/namespaces/default/workflows/rekey%3Aproduction%3Aflatkey-router-key/',
      ),
    });
    const again = await post(seedYaml, { 'x-change-ticket': 'CHG-2001' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({
      id: 'production:flatkey-router-key:CHG-2001',
      runId: first.json<{ runId: string }>().runId,
    });

    const other = await post(seedYaml, { 'x-change-ticket': 'CHG-2002' });
    expect(other.statusCode).toBe(409);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.json()).toMatchObject({ status: 409, running: 'production:flatkey-router-key:CHG-2001' });
  });

  it('answers bad input with problem+json naming every bad field, never a 500', async () => {
    const malformed = await post('rotation: [unclosed', { 'x-change-ticket': 'CHG-3' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({
      title: 'Bad request',
      detail: expect.stringMatching(/not valid YAML/),
    });

    const wrong = seedYaml
      .replace('observation_window_minutes: 60', 'observation_window_minutes: sixty')
      .replace('  owner: platform-ai', '  owner: platform-ai\n  colour: blue');
    const res = await post(wrong, { 'x-change-ticket': 'CHG-3' });
    expect(res.statusCode).toBe(400);
    const paths = res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['rotation', 'rotation.cutover.observation_window_minutes']),
    );
    expect(JSON.stringify(res.json())).not.toMatch(/at .*\.ts:\d+/);

    const noTicket = await post(seedYaml);
    expect(noTicket.statusCode).toBe(400);
    expect(noTicket.json()).toMatchObject({ detail: expect.stringMatching(/change ticket is required/) });
  });

  it('answers an unregistered credential with 422 listing the registered names', async () => {
    const res = await post(seedYaml.replace('credential: flatkey-router-key', 'credential: unknown-key'), {
      'x-change-ticket': 'CHG-4',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      registered: ['flatkey-router-key', 'litellm-platform-key', 'openrouter-research-key'],
    });
  });

  it('needs a valid token with the requester role', async () => {
    expect((await post(seedYaml, { 'x-change-ticket': 'CHG-5' }, null)).statusCode).toBe(401);
    expect((await post(seedYaml, { 'x-change-ticket': 'CHG-5' }, 'rk_not_a_token')).statusCode).toBe(401);
    const viewer = await post(seedYaml, { 'x-change-ticket': 'CHG-5' }, dave);
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json()).toMatchObject({ detail: 'dave@example.com needs the requester role' });
    expect((await post(seedYaml, { 'x-change-ticket': 'CHG-5' }, bob)).statusCode).toBe(403);
  });
});

describe('GET /v1/rotations', () => {
  it('lists and shows rotations from Temporal visibility, with the phase from search attributes', async () => {
    const yaml = seedYaml
      .replace('environment: production', 'environment: staging')
      .replace('credential: flatkey-router-key', 'credential: openrouter-research-key');
    expect((await post(yaml, { 'x-change-ticket': 'CHG-6001' })).statusCode).toBe(201);
    const auth = { authorization: `Bearer ${dave}` };
    let listed: { id: string; phase: string }[] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      const res = await app.inject({
        url: '/v1/rotations?credential=openrouter-research-key',
        headers: auth,
      });
      listed = res.json<{ rotations: { id: string; phase: string }[] }>().rotations;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toEqual([
      expect.objectContaining({ id: 'staging:openrouter-research-key:CHG-6001', phase: 'PREPARING' }),
    ]);
    const shown = await app.inject({
      url: '/v1/rotations/staging:openrouter-research-key:CHG-6001',
      headers: auth,
    });
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({
      changeTicket: 'CHG-6001',
      phase: 'PREPARING',
      requestedBy: 'alice@example.com',
      status: 'RUNNING',
    });
    expect(
      (await app.inject({ url: '/v1/rotations/staging:openrouter-research-key:NOPE', headers: auth }))
        .statusCode,
    ).toBe(404);
    expect((await app.inject({ url: '/v1/rotations?phase=holding', headers: auth })).statusCode).toBe(400);
  });
});
