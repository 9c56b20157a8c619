import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadRegistry, loadSettings } from '../../config';
import { rotationPolicySchema, toRotationInput, workflowIdFor } from '../../domain/policy';
import type { CredentialRegistry } from '../../domain/ports';
import { CHANGE_TICKETS_MEMO, rotationStartOptions } from '../../workflows/start-options';
import { terminateRunning } from '../helpers/terminate-running';

// POST /v1/rotations against the real Temporal dev server the harness started, through a listening API
// (real HTTP, so concurrent requests really are concurrent). No worker polls the task queue: runs wait in
// PREPARING. Each test rotates credentials of its own (start-<run>-<n> in the environment `starttest`),
// so its workflow ids never meet another test's.
const ROOT = path.join(__dirname, '..', '..');
const seedYaml = readFileSync(path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml'), 'utf8');
const run = randomBytes(4).toString('hex');
const ENV = 'starttest';
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const alice = token(); // requester
const olga = token(); // requester and operator
const REGISTERED = ['flatkey-router-key', 'litellm-platform-key', 'openrouter-research-key'];

let n = 0;
const credential = () => `start-${run}-${++n}`;
const policyYaml = (cred: string) =>
  seedYaml
    .replace('credential: flatkey-router-key', `credential: ${cred}`)
    .replace('environment: production', `environment: ${ENV}`);

// Every gRPC method the API's Temporal client calls, in order: what a start costs on the server.
const calls: string[] = [];
type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];
const recordCalls: Interceptor = (options, nextCall) => {
  calls.push(options.method_definition.path.split('/').pop() ?? '?');
  // grpc-js types the next call as its interface; at run time it is the InterceptingCall itself.
  return nextCall(options) as ReturnType<Interceptor>;
};

let connection: Connection;
let client: Client;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  const settings = loadSettings();
  connection = await Connection.connect({
    address: settings.TEMPORAL_ADDRESS,
    interceptors: [recordCalls],
  });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
  const example = loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml'));
  // The example registry, plus this file's credentials (each the seed's flatkey entry under another name).
  const registry: CredentialRegistry = {
    lookup: (name, environment) =>
      name.startsWith(`start-${run}-`) && environment === ENV
        ? example.lookup('flatkey-router-key', 'production')
        : example.lookup(name, environment),
    names: () => example.names(),
  };
  app = buildApp({
    temporal: client,
    registry,
    auth: new Authenticator([
      { sha256: tokenHash(alice), principal: 'alice@example.com', roles: ['requester'] },
      { sha256: tokenHash(olga), principal: 'olga@example.com', roles: ['requester', 'operator'] },
    ]),
    taskQueue: `api-start-${run}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
    logger: false,
    metrics: new Registry(),
  });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await terminateRunning(
    client,
    `RotationEnvironment = '${ENV}' AND ExecutionStatus = 'Running'`,
    'api start test over',
    (id) => id.startsWith(`rekey:${ENV}:start-${run}-`),
  );
  await app?.close();
  await connection?.close();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}
const post = async (cred: string, ticket: string, bearer = alice): Promise<Answer> => {
  const res = await fetch(`${base}/v1/rotations`, {
    method: 'POST',
    body: policyYaml(cred),
    headers: {
      'content-type': 'application/yaml',
      'x-change-ticket': ticket,
      authorization: `Bearer ${bearer}`,
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const startedTotal = async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(
    `^rekey_rotations_started_total\\{environment="${ENV}",mode="scheduled"\\} (\\d+)$`,
    'm',
  ).exec(text);
  return m ? Number(m[1]) : 0;
};
const latestRun = (cred: string) => client.workflow.getHandle(workflowIdFor(ENV, cred)).describe();
const terminate = async (cred: string) =>
  client.workflow.getHandle(workflowIdFor(ENV, cred)).terminate('closed by the test');

describe('POST /v1/rotations under concurrency', () => {
  it('answers 10 concurrent starts of one ticket with one 201 and nine 200 of the same run, counted once', async () => {
    const cred = credential();
    const before = await startedTotal();
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(cred, 'CHG-C1')));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const runIds = new Set(answers.map((a) => a.body.runId));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toBe((await latestRun(cred)).runId);
    expect((await startedTotal()) - before).toBe(1);
  });

  it('lets exactly one of 6 concurrent tickets start, and answers the others 409 naming it', async () => {
    const cred = credential();
    const before = await startedTotal();
    const tickets = ['CHG-D1', 'CHG-D2', 'CHG-D3', 'CHG-D4', 'CHG-D5', 'CHG-D6'];
    const answers = await Promise.all(tickets.map((t) => post(cred, t)));
    const winners = answers.filter((a) => a.status === 201);
    expect(winners).toHaveLength(1);
    const winner = `${ENV}:${cred}:${tickets[answers.indexOf(winners[0]!)]}`;
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused.map((a) => a.status)).toEqual([409, 409, 409, 409, 409]);
    for (const a of refused) expect(a.body).toMatchObject({ status: 409, running: winner });
    expect((await startedTotal()) - before).toBe(1);
  });
});

describe('POST /v1/rotations and tickets that already ran', () => {
  it('refuses a ticket that already ran with 409, from the latest run or from the ticket list it carries', async () => {
    const cred = credential();
    expect((await post(cred, 'CHG-R1')).status).toBe(201);
    await terminate(cred);
    const again = await post(cred, 'CHG-R1');
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/change ticket CHG-R1 already ran \(TERMINATED\); open a new ticket/);

    expect((await post(cred, 'CHG-R2')).status).toBe(201);
    expect((await latestRun(cred)).memo?.[CHANGE_TICKETS_MEMO]).toEqual(['CHG-R1', 'CHG-R2']);
    await terminate(cred);
    // CHG-R1 is no longer the latest run's ticket: the list in the latest run's memo still holds it.
    const older = await post(cred, 'CHG-R1');
    expect(older.status).toBe(409);
    expect(older.body.detail).toMatch(/change ticket CHG-R1 already ran; open a new ticket/);
    expect((await post(cred, 'CHG-R3')).status).toBe(201);
  });

  it('starts a credential whose earlier runs carry a ticket list with one describe and one start', async () => {
    const cred = credential();
    expect((await post(cred, 'CHG-P1')).status).toBe(201);
    await terminate(cred);
    calls.length = 0;
    expect((await post(cred, 'CHG-P2')).status).toBe(201);
    expect(calls).toEqual(['DescribeWorkflowExecution', 'StartWorkflowExecution']);

    calls.length = 0;
    expect((await post(cred, 'CHG-P2')).status).toBe(200);
    expect(calls).toEqual(['DescribeWorkflowExecution']);
  });

  it('asks visibility for the tickets of runs started without a ticket list, then carries the list on', async () => {
    const cred = credential();
    // Two earlier runs started by a starter that did not know the history (no ticket list in the memo).
    for (const ticket of ['CHG-L1', 'CHG-L2']) {
      const policy = rotationPolicySchema.parse(parseYaml(policyYaml(cred)));
      const input = toRotationInput(policy, 'alice@example.com', ticket);
      const handle = await client.workflow.start('rotation', rotationStartOptions(input, `api-start-${run}`));
      expect((await handle.describe()).memo).not.toHaveProperty(CHANGE_TICKETS_MEMO);
      await handle.terminate('closed by the test');
    }
    calls.length = 0;
    const spent = await post(cred, 'CHG-L1');
    expect(spent.status).toBe(409);
    expect(spent.body.detail).toMatch(/change ticket CHG-L1 already ran/);
    expect(calls).toContain('ListWorkflowExecutions');

    expect((await post(cred, 'CHG-L3')).status).toBe(201);
    expect((await latestRun(cred)).memo?.[CHANGE_TICKETS_MEMO]).toEqual(
      expect.arrayContaining(['CHG-L1', 'CHG-L2', 'CHG-L3']),
    );
  });
});

describe('POST /v1/rotations for an unregistered credential', () => {
  it('answers a requester 422 without the registered names', async () => {
    const res = await post('unknown-key', 'CHG-U1', alice);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      status: 422,
      detail:
        'credential unknown-key is not registered for starttest; an operator can list the registered credentials',
    });
    expect(res.body).not.toHaveProperty('registered');
    for (const name of REGISTERED) expect(JSON.stringify(res.body)).not.toContain(name);
  });

  it('answers an operator 422 listing the registered names', async () => {
    const res = await post('unknown-key', 'CHG-U2', olga);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      status: 422,
      detail: 'credential unknown-key is not registered for starttest',
      registered: REGISTERED,
    });
  });
});
