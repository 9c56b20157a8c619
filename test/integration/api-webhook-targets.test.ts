import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parse, stringify } from 'yaml';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadSettings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { workflowIdFor } from '../../domain/policy';
import { webhookAllowlist } from '../../domain/webhook-targets';
import { terminateRunning, workflowExists } from '../helpers/terminate-running';

// POST /v1/rotations against the real Temporal dev server the harness started: a change ticket's
// webhook or a rollout hook outside the allowlist is refused before anything starts. No worker polls
// the task queue.
const seed = parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
  rotation: Record<string, unknown>;
};
const token = `rk_${randomBytes(16).toString('hex')}`;
const run = randomBytes(3).toString('hex');
// A credential of this run's own (the seed's, renamed), so no other test file's rotation shares its workflow id.
const credential = `webhook-targets-${run}`;
const example = parse(
  readFileSync(path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml'), 'utf8'),
) as { credentials: Record<string, unknown>[] };
const registryText = stringify({ credentials: [{ ...example.credentials[0], name: credential }] });
let connection: Connection;
let client: Client;
const apps: FastifyInstance[] = [];

/** An API whose allowlist is these settings' values (none when undefined). */
async function api(lists?: { allowed?: string; private?: string }): Promise<FastifyInstance> {
  const settings = loadSettings();
  const app = buildApp({
    temporal: client,
    registry: parseRegistry(registryText, 'webhook test registry'),
    auth: new Authenticator([
      { sha256: tokenHash(token), principal: 'alice@example.com', roles: ['requester'] },
    ]),
    taskQueue: `api-webhook-test-${run}`,
    temporalUiUrl: settings.TEMPORAL_UI_URL,
    ...(lists ? { webhookTargets: webhookAllowlist(lists) } : {}),
  });
  apps.push(app);
  await app.ready();
  return app;
}

const policy = (webhook_url: string) =>
  stringify({
    rotation: { ...seed.rotation, credential, change_ticket: { id: `CHG-${run}`, webhook_url } },
  });
const start = (app: FastifyInstance, body: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/rotations',
    payload: body,
    headers: { 'content-type': 'application/yaml', authorization: `Bearer ${token}` },
  });
const handle = () => client.workflow.getHandle(workflowIdFor(String(seed.rotation.environment), credential));
/** Whether a rotation of the test's credential was ever started. */
const started = () => workflowExists(client, handle().workflowId);

beforeAll(async () => {
  const settings = loadSettings();
  connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
});
afterAll(async () => {
  await terminateRunning(
    client,
    `TaskQueue = 'api-webhook-test-${run}' AND ExecutionStatus = 'Running'`,
    'test over',
  );
  for (const app of apps) await app.close();
  await connection?.close();
});

describe('POST /v1/rotations with a change-ticket webhook', () => {
  it('answers 422 problem+json naming the host and the setting, and starts nothing, for a host not in the allowlist', async () => {
    const app = await api({ allowed: 'hooks.example.com' });
    const res = await start(app, policy('https://metadata.internal.example.net/latest'));
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      status: 422,
      detail: expect.stringMatching(
        /webhook host metadata\.internal\.example\.net is not in REKEY_WEBHOOK_ALLOWED_HOSTS/,
      ),
    });
    expect(await started()).toBe(false);
  });

  it('refuses every ticket webhook when no allowlist is configured', async () => {
    const app = await api();
    const res = await start(app, policy('https://hooks.example.com/rekey'));
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      detail: expect.stringMatching(/REKEY_WEBHOOK_ALLOWED_HOSTS is not set/),
    });
    expect(await started()).toBe(false);
  });

  it('refuses a literal private address, e.g. the cloud metadata service', async () => {
    const app = await api({ allowed: 'hooks.example.com' });
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:127.0.0.1]:8080/']) {
      const res = await start(app, policy(url));
      expect(res.statusCode).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await started()).toBe(false);
  });

  it('answers 422 naming rotation.cutover.rollout_hook_url for a rollout hook outside the allowlist', async () => {
    const app = await api({ allowed: 'hooks.example.com' });
    const withHook = (rollout_hook_url: string) =>
      stringify({
        rotation: {
          ...seed.rotation,
          credential,
          change_ticket: { id: `CHG-${run}`, webhook_url: 'https://hooks.example.com/rekey' },
          cutover: { ...(seed.rotation.cutover as object), rollout_hook_url },
        },
      });
    const res = await start(app, withHook('http://169.254.169.254/latest/meta-data/'));
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      status: 422,
      detail: expect.stringMatching(
        /^rotation\.cutover\.rollout_hook_url: webhook host 169\.254\.169\.254 is not in REKEY_WEBHOOK_ALLOWED_HOSTS/,
      ),
    });
    expect(await started()).toBe(false);
  });

  it('starts the rotation when the webhook host is allowlisted', async () => {
    const app = await api({ allowed: 'hooks.example.com' });
    const res = await start(app, policy('https://hooks.example.com/rekey'));
    expect(res.statusCode).toBe(201);
    expect(await started()).toBe(true);
    await handle().terminate('test over');
  });
});
