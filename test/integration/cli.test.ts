import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadRegistry, loadSettings } from '../../config';
import { REKEY_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { ROOT, runRekey, type CliRun } from '../helpers/cli';
import { terminateRunning } from '../helpers/terminate-running';

// The real `rekey` bin, run as a child process against the API listening on a port, backed by the
// Temporal dev server the harness started. No worker runs: rotations wait in PREPARING, and the status
// query goes unanswered (the API says so with `detail: null`).
//
// The app is built as in api.test.ts, but on a namespace of its own: both files start the seed's
// credential (one active rotation per credential), jest runs them in parallel, and api.test.ts
// terminates every running rotation of its namespace when it ends.
const SEED = path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml');
const TICKET = 'CHG-7001';
const ID = `production:flatkey-router-key:${TICKET}`;

const token = () => `rk_${randomBytes(16).toString('hex')}`;
const alice = token();
const bob = token();
const dave = token();
const namespace = `rekey-cli-test-${randomBytes(4).toString('hex')}`;
const scratch = mkdtempSync(path.join(tmpdir(), 'rekey-cli-test-'));
let connection: Connection;
let client: Client;
let app: FastifyInstance;
let api: string;

type Run = CliRun;

/** Runs the bin against this file's API; alice's token unless told otherwise. */
function rekey(
  args: string[],
  opts: { token?: string | null; api?: string; stdin?: string } = {},
): Promise<Run> {
  return runRekey(args, {
    api: opts.api ?? api,
    token: opts.token === undefined ? alice : opts.token,
    ...(opts.stdin === undefined ? {} : { stdin: opts.stdin }),
  });
}

/** Visibility is eventually consistent: retries a listing until it shows what the test waits for. */
async function eventually(args: string[], done: (r: Run) => boolean): Promise<Run> {
  let last = await rekey(args);
  for (let i = 0; i < 40 && !done(last); i++) {
    await new Promise((r) => setTimeout(r, 250));
    last = await rekey(args);
  }
  return last;
}

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  const settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      REKEY_SEARCH_ATTRIBUTES.map((k) => [
        k.name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  client = new Client({ connection, namespace });
  // A fresh namespace takes a moment to answer visibility queries on its search attributes.
  for (let i = 0; ; i++) {
    try {
      for await (const _ of client.workflow.list({ query: `ChangeTicket = 'none'` })) break;
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  app = buildApp({
    temporal: client,
    registry: loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml')),
    auth: new Authenticator([
      { sha256: tokenHash(alice), principal: 'alice@example.com', roles: ['requester'] },
      { sha256: tokenHash(bob), principal: 'bob@example.com', roles: ['approver'] },
      { sha256: tokenHash(dave), principal: 'dave@example.com', roles: ['viewer'] },
    ]),
    taskQueue: `cli-test-${randomBytes(4).toString('hex')}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (client) {
    await terminateRunning(
      client,
      `WorkflowType = 'rotation' AND ExecutionStatus = 'Running'`,
      'cli test over',
    );
  }
  await app?.close();
  await connection?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('rekey CLI against a live API', () => {
  it('starts the seed policy and prints its id, and starting it again with the same ticket gives the same id', async () => {
    const first = await rekey(['start', '-f', SEED, '--ticket', TICKET]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout.split('\n')[0]).toBe(ID);
    expect(first.stdout).toMatch(/result +started/);
    expect(first.stdout).toMatch(
      new RegExp(`status +${api}/v1/rotations/production%3Aflatkey-router-key%3A${TICKET}`),
    );

    const again = await rekey(['start', '-f', SEED, '--ticket', TICKET]);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout.split('\n')[0]).toBe(ID);
    expect(again.stdout).toMatch(/already running with this change ticket/);
  });

  it("prints the API's JSON with --json, for scripts", async () => {
    const started = await rekey(['start', '-f', SEED, '--ticket', TICKET, '--json']);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({
      id: ID,
      workflowId: 'rekey:production:flatkey-router-key',
      runId: expect.any(String),
      temporalUiUrl: expect.stringContaining(`/namespaces/${namespace}/workflows/`),
    });

    const listed = await eventually(['list', '--json'], (r) => r.stdout.includes(ID));
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({
      rotations: expect.arrayContaining([expect.objectContaining({ id: ID, phase: 'PREPARING' })]),
    });
  });

  it('lists the rotation with its filters, and shows its status by id', async () => {
    const listed = await eventually(
      ['list', '--credential', 'flatkey-router-key', '--phase', 'preparing'],
      (r) => r.stdout.includes(ID),
    );
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID +PHASE +OUTCOME +STATUS +REQUESTED BY +STARTED\n/);
    expect(listed.stdout).toMatch(new RegExp(`${ID} +PREPARING +- +RUNNING +alice@example.com`));

    const none = await rekey(['list', '--credential', 'flatkey-router-key', '--outcome', 'completed']);
    expect(none).toMatchObject({ code: 0, stdout: 'no rotations match\n' });

    const shown = await rekey(['status', ID], { token: dave });
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout.split('\n')[0]).toBe(ID);
    expect(shown.stdout).toMatch(/ticket +CHG-7001, requested by alice@example.com/);
    expect(shown.stdout).toMatch(/phase +PREPARING \(RUNNING\)/);
    expect(shown.stdout).toMatch(/pending gate +unknown: no worker answered/);
  });

  it('starts from a policy on stdin (-f -) and from a .json file', async () => {
    const seed = readFileSync(SEED, 'utf8');
    const fromStdin = await rekey(['start', '-f', '-', '--ticket', 'CHG-7002'], {
      stdin: seed.replace('credential: flatkey-router-key', 'credential: litellm-platform-key'),
    });
    expect(fromStdin).toMatchObject({ code: 0, stderr: '' });
    expect(fromStdin.stdout.split('\n')[0]).toBe('production:litellm-platform-key:CHG-7002');

    const policy = parseYaml(seed) as { rotation: Record<string, unknown> };
    const jsonFile = path.join(scratch, 'policy.json');
    writeFileSync(
      jsonFile,
      JSON.stringify({
        rotation: { ...policy.rotation, credential: 'openrouter-research-key', environment: 'staging' },
      }),
    );
    const fromJson = await rekey(['start', '-f', jsonFile, '--ticket', 'CHG-7003']);
    expect(fromJson).toMatchObject({ code: 0, stderr: '' });
    expect(fromJson.stdout.split('\n')[0]).toBe('staging:openrouter-research-key:CHG-7003');
  });

  it("exits 1 with the API's refusal: another ticket for a busy credential, a bad policy, an unknown id", async () => {
    const busy = await rekey(['start', '-f', SEED, '--ticket', 'CHG-7099']);
    expect(busy.code).toBe(1);
    expect(busy.stdout).toBe('');
    expect(busy.stderr).toMatch(
      /^rekey: 409 Conflict: another rotation of flatkey-router-key \(production\) is running/,
    );
    expect(busy.stderr).toContain(`  running: ${ID}`);

    const bad = path.join(scratch, 'bad.yaml');
    writeFileSync(
      bad,
      readFileSync(SEED, 'utf8').replace(
        'observation_window_minutes: 60',
        'observation_window_minutes: sixty',
      ),
    );
    const invalid = await rekey(['start', '-f', bad, '--ticket', 'CHG-7098']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^rekey: 400 Invalid request: /);
    expect(invalid.stderr).toMatch(/\n {2}rotation\.cutover\.observation_window_minutes: /);

    const unknown = await rekey(['status', 'production:flatkey-router-key:NOPE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^rekey: 404 Not found: no rotation production:flatkey-router-key:NOPE/);
  });

  it("exits 1 with the API's 401 detail when REKEY_TOKEN is not set", async () => {
    const res = await rekey(['list'], { token: null });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^rekey: 401 Unauthenticated: a valid bearer token is required\n/);
    expect(res.stderr).toMatch(/hint: REKEY_TOKEN is not set/);
  });

  it('exits 1 with a 403 when a viewer tries to approve a gate', async () => {
    const res = await rekey(['approve', ID, '--gate', 'revoke', '--comment', 'looks fine'], { token: dave });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^rekey: 403 Forbidden: dave@example.com needs the /);
  });

  it('exits 2 with the usage on an unknown flag, before contacting the API', async () => {
    // An unreachable API would exit 3: exit 2 shows the line was refused before any request.
    const res = await rekey(['list', '--bogus'], { api: `http://127.0.0.1:${await closedPort()}` });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/Unknown option '--bogus'/);
    expect(res.stderr).toMatch(/Usage: rekey list \[options\]/);
  });

  it('exits 3 when the API is down', async () => {
    const res = await rekey(['list'], { api: `http://127.0.0.1:${await closedPort()}` });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(
      /^rekey: cannot reach the rekey API at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
  });

  it('exits 3 with the problem detail when the API answers 5xx', async () => {
    const failing: Server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          title: 'Service unavailable',
          status: 503,
          detail: 'no rekey worker answered in time',
        }),
      );
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    try {
      const port = (failing.address() as AddressInfo).port;
      const res = await rekey(['rollback', ID, '--reason', 'errors'], { api: `http://127.0.0.1:${port}` });
      expect(res.code).toBe(3);
      expect(res.stderr).toBe('rekey: 503 Service unavailable: no rekey worker answered in time\n');
    } finally {
      await new Promise((r) => failing.close(r));
    }
  });

  it('prints the package version with --version', async () => {
    const res = await rekey(['--version']);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(res).toEqual({ code: 0, stdout: `rekey ${pkg.version}\n`, stderr: '' });
  });
});
