import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { MessageSigner } from '../../api/message-signing';
import { verifyProof } from '../../domain/message-proof';
import { rotationIdFor, rotationPolicySchema, toRotationInput, workflowIdFor } from '../../domain/policy';
import { loadRegistry, loadSettings } from '../../config';
import { invalid, notAllowed, notOpen, OUTCOME_FAILURE_TYPES, type Refusal } from '../../workflows/messages';
import { ChangeTicketKey } from '../../workflows/search-attributes';
import { rotationStartOptions } from '../../workflows/start-options';
import {
  finishSignal,
  messageRecorder,
  receivedQuery,
  type RecorderInput,
} from './workflows/message-recorder';
import { terminateRunning } from '../helpers/terminate-running';

// The API against the real Temporal dev server the harness started. No worker polls the app's task
// queue: rotations it starts wait in PREPARING, which is all these tests need (gates are covered by
// workflow tests). The action routes are driven against a worker of their own (see below).
const seedYaml = readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8');
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const alice = token();
const bob = token();
const carol = token();
const dave = token();
let connection: Connection;
let client: Client;
let app: FastifyInstance;
const signer = MessageSigner.ephemeral();
/** The proof the API attaches to every message it sends, for a static-token caller. */
const apiProof = expect.objectContaining({
  via: 'api',
  authn: { method: 'static-token', tokenId: expect.stringMatching(/^[0-9a-f]{12}$/) },
  signatures: [expect.objectContaining({ keyId: signer.keyIds()[0] })],
});

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
      { sha256: tokenHash(carol), principal: 'carol@example.com', roles: ['operator'] },
      { sha256: tokenHash(dave), principal: 'dave@example.com', roles: ['viewer'] },
    ]),
    taskQueue: `api-test-${randomBytes(4).toString('hex')}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
    signer,
  });
  await app.ready();
});
afterAll(async () => {
  await terminateRunning(
    client,
    `WorkflowType = 'rotation' AND ExecutionStatus = 'Running'`,
    'api test over',
  );
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

  it('answers an unregistered credential with 422, naming the registered ones only to an operator (api-start.test.ts)', async () => {
    const res = await post(seedYaml.replace('credential: flatkey-router-key', 'credential: unknown-key'), {
      'x-change-ticket': 'CHG-4',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ detail: expect.stringMatching(/unknown-key is not registered/) });
    expect(res.json()).not.toHaveProperty('registered');
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

// The action routes against a worker with the message recorder (the same message definitions as the
// rotation, recording what arrives) and the real rotation, parked in PREPARING since no activity is
// polled: what they show depends only on a message being delivered, or refused by a validator.
describe('approvals, hold extensions and replacement-key revocations', () => {
  const run = randomBytes(3).toString('hex');
  const taskQueue = `api-messages-${run}`;
  const ticket = `CHG-M${run}`;
  let nativeConnection: NativeConnection;
  let worker: Worker;
  let workerRun: Promise<void>;
  const handles: WorkflowHandle[] = [];
  let recorders = 0;

  beforeAll(async () => {
    const settings = loadSettings();
    nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    worker = await Worker.create({
      connection: nativeConnection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./workflows/api-workflows'),
    });
    workerRun = worker.run();
  });
  afterAll(async () => {
    for (const h of handles) await h.terminate('api test over').catch(() => undefined);
    worker?.shutdown();
    await workerRun;
    await nativeConnection?.close();
  });

  /** A recorder under a rotation's workflow id and ticket, so the API takes it for a running rotation. */
  async function recorder(refuse?: Record<string, Refusal>, failWith?: RecorderInput['failWith']) {
    const credential = `msg-key-${run}-${++recorders}`;
    const handle = await client.workflow.start(messageRecorder, {
      taskQueue,
      workflowId: workflowIdFor('apitest', credential),
      args: [{ refuse, failWith }],
      typedSearchAttributes: [{ key: ChangeTicketKey, value: ticket }],
    });
    handles.push(handle);
    return { id: rotationIdFor(credential, 'apitest', ticket), handle };
  }
  const send = (id: string, action: string, who: string, payload: unknown) =>
    app.inject({
      method: 'POST',
      url: `/v1/rotations/${encodeURIComponent(id)}/${action}`,
      headers: { authorization: `Bearer ${who}` },
      payload: payload as Record<string, unknown>,
    });
  const exception = {
    consumer: 'batch-export',
    owner: 'data-team@example.com',
    expiresAt: '2026-12-31',
    compensatingControl: 'egress restricted to the batch subnet',
  };

  it('hands riskReason and exceptions of an approval to the workflow as its ApproveArgs, principal from the token', async () => {
    const { id, handle } = await recorder();
    const res = await send(id, 'approvals', bob, {
      gate: 'revoke',
      comment: 'batch export moves next sprint',
      riskReason: 'no usage telemetry for batch-export; its owner confirmed the move by phone',
      exceptions: [exception, { ...exception, consumer: 'nightly-eval', expiresAt: '2027-01-15T08:00:00Z' }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id, accepted: true, phase: 'HOLDING' });
    expect(await handle.query(receivedQuery)).toEqual([
      {
        name: 'approve',
        args: {
          principal: 'bob@example.com',
          roles: ['approver'],
          gate: 'revoke',
          comment: 'batch export moves next sprint',
          riskReason: 'no usage telemetry for batch-export; its owner confirmed the move by phone',
          exceptions: [
            exception,
            { ...exception, consumer: 'nightly-eval', expiresAt: '2027-01-15T08:00:00Z' },
          ],
          proof: apiProof,
        },
      },
    ]);
  });

  it('hands the exceptions of a hold extension and the reason of a replacement-key revocation to the workflow, 202', async () => {
    const { id, handle } = await recorder();
    const extended = await send(id, 'hold-extensions', carol, {
      minutes: 60,
      reason: 'batch job runs tonight',
      exceptions: [exception],
    });
    expect(extended.statusCode).toBe(202);
    const revoked = await send(id, 'replacement-key-revocations', bob, { reason: 'consumers drained' });
    expect(revoked.statusCode).toBe(202);
    expect(revoked.json()).toEqual({ id, accepted: true, phase: 'HOLDING' });
    expect(await handle.query(receivedQuery)).toEqual([
      {
        name: 'extendHold',
        args: {
          principal: 'carol@example.com',
          roles: ['operator'],
          minutes: 60,
          reason: 'batch job runs tonight',
          exceptions: [exception],
          proof: apiProof,
        },
      },
      {
        name: 'revokeReplacementKey',
        args: {
          principal: 'bob@example.com',
          roles: ['approver'],
          reason: 'consumers drained',
          proof: apiProof,
        },
      },
    ]);
  });

  it('prints a signed signal input for on-call, bound to the rotation, and sends nothing', async () => {
    const { id, handle } = await recorder();
    const res = await send(id, 'signal-inputs', bob, {
      message: 'approve',
      args: { gate: 'revoke', comment: 'via temporal' },
      ttlMinutes: 10,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ input: Record<string, unknown>; command: string; expiresAt: string }>();
    expect(body).toMatchObject({
      id,
      workflowId: handle.workflowId,
      signal: 'approve',
      input: { principal: 'bob@example.com', roles: ['approver'], gate: 'revoke', comment: 'via temporal' },
    });
    expect(body.command).toContain(`--workflow-id '${handle.workflowId}' --name approve --input '{`);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000);
    const verify = (rotationId: string) =>
      verifyProof({
        trust: signer.trust(),
        rotationId,
        message: 'approve',
        args: body.input,
        nowMs: Date.now(),
        nonceUsed: () => false,
      });
    expect(verify(id)).toMatchObject({ ok: true, record: { via: 'signal' } });
    expect(verify(`${id}x`)).toMatchObject({ ok: false });
    expect(await handle.query(receivedQuery)).toEqual([]);
    // A viewer may not act, a body must be a message the workflow takes, and the rotation must run.
    expect(
      (await send(id, 'signal-inputs', dave, { message: 'approve', args: { gate: 'revoke' } })).statusCode,
    ).toBe(403);
    const bad = await send(id, 'signal-inputs', bob, { message: 'terminate', args: {} });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(
      (await send(id, 'signal-inputs', bob, { message: 'approve', args: { gate: 'nope' } })).statusCode,
    ).toBe(400);
    expect(
      (await send(id, 'signal-inputs', bob, { message: 'approve', args: { gate: 'revoke' }, ttlMinutes: 61 }))
        .statusCode,
    ).toBe(400);
    const gone = await send(rotationIdFor('no-such-key', 'apitest', 'CHG-0'), 'signal-inputs', bob, {
      message: 'rollback',
      args: { reason: 'x' },
    });
    expect(gone.statusCode).toBe(404);
  });

  it("answers a workflow's refusal of a replacement-key revocation by its kind: NotOpen 409, NotAllowed 403, Invalid 400", async () => {
    for (const [refusal, status] of [
      [notOpen('no replacement key was kept: nothing to revoke'), 409],
      [notAllowed('alice@example.com lacks the operator or approver role'), 403],
      [invalid('a revocation needs a reason'), 400],
    ] as const) {
      const { id, handle } = await recorder({ revokeReplacementKey: refusal });
      const res = await send(id, 'replacement-key-revocations', carol, { reason: 'drained' });
      expect([refusal.kind, res.statusCode]).toEqual([refusal.kind, status]);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status, title: 'Refused', detail: refusal.message });
      expect(await handle.query(receivedQuery)).toEqual([]);
    }
  });

  it('refuses a replacement-key revocation with 409 in the real rotation, which kept no key', async () => {
    const credential = `msg-rotation-${run}`;
    const policy = rotationPolicySchema.parse(
      parseYaml(
        seedYaml
          .replace('credential: flatkey-router-key', `credential: ${credential}`)
          .replace('environment: production', 'environment: apitest'),
      ),
    );
    const input = toRotationInput(policy, 'alice@example.com', ticket);
    const handle = await client.workflow.start('rotation', rotationStartOptions(input, taskQueue));
    handles.push(handle);
    const res = await send(input.rotationId, 'replacement-key-revocations', carol, { reason: 'drained' });
    // 'Refused' is the workflow's validator answering, not the API finding the rotation closed.
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ status: 409, title: 'Refused' });
  });

  it('answers malformed bodies with 400 naming the fields, before anything reaches the workflow', async () => {
    const { id, handle } = await recorder();
    const { owner: _owner, ...noOwner } = exception;
    for (const [action, body, path] of [
      ['approvals', { gate: 'revoke', exceptions: [noOwner] }, 'exceptions.0.owner'],
      [
        'approvals',
        { gate: 'revoke', exceptions: [{ ...exception, expiresAt: 'next week' }] },
        'exceptions.0.expiresAt',
      ],
      [
        'approvals',
        { gate: 'revoke', exceptions: [{ ...exception, expiresAt: '2026-02-30' }] },
        'exceptions.0.expiresAt',
      ],
      ['approvals', { gate: 'revoke', exceptions: [{ ...exception, team: 'x' }] }, 'exceptions.0'],
      ['approvals', { gate: 'revoke', exceptions: [] }, 'exceptions'],
      ['approvals', { gate: 'revoke', riskReason: '   ' }, 'riskReason'],
      ['approvals', { gate: 'revoke', decision: 'reject', reason: 'no', riskReason: 'r' }, 'riskReason'],
      [
        'approvals',
        { gate: 'revoke', decision: 'reject', reason: 'no', exceptions: [exception] },
        'exceptions',
      ],
      ['hold-extensions', { minutes: 5, reason: 'r', exceptions: [{ consumer: 'c' }] }, 'exceptions.0.owner'],
      ['replacement-key-revocations', {}, 'reason'],
      ['replacement-key-revocations', { reason: 'r', key: 'sk-not-here' }, ''],
    ] as const) {
      const res = await send(id, action, carol, body);
      expect([action, body, res.statusCode]).toEqual([action, body, 400]);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const paths = res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path);
      expect([action, body, paths]).toEqual([action, body, expect.arrayContaining([path])]);
    }
    expect(await handle.query(receivedQuery)).toEqual([]);
  });

  it('refuses a viewer before Temporal is asked, and a finished rotation with 409', async () => {
    const { id, handle } = await recorder();
    const viewer = await send(id, 'replacement-key-revocations', dave, { reason: 'drained' });
    expect(viewer.statusCode).toBe(403);
    expect(await handle.query(receivedQuery)).toEqual([]);
    await handle.signal(finishSignal);
    await handle.result();
    const late = await send(id, 'replacement-key-revocations', carol, { reason: 'drained' });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ detail: expect.stringMatching(/has finished/) });
  });

  it('shows a rotation that ended with its typed failure as FAILED, its final status from the failure details', async () => {
    const final = {
      rotationId: 'from-the-failure',
      phase: 'ROLLED_BACK',
      outcome: 'rolled_back',
      timeline: [],
    };
    const { id, handle } = await recorder(undefined, {
      type: OUTCOME_FAILURE_TYPES.rolled_back,
      status: final,
    });
    await handle.signal(finishSignal);
    await expect(handle.result()).rejects.toThrow();
    let shown: { status: string; detail: unknown } | undefined;
    for (let i = 0; i < 50 && shown?.status !== 'FAILED'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      const res = await app.inject({
        url: `/v1/rotations/${encodeURIComponent(id)}`,
        headers: { authorization: `Bearer ${dave}` },
      });
      expect(res.statusCode).toBe(200);
      shown = res.json();
    }
    // The recorder answers no status query: the detail can only come from the close event.
    expect(shown).toMatchObject({ status: 'FAILED', detail: final });
  });
});
