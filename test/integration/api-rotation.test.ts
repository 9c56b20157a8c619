import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { stringify } from 'yaml';
import { createActivities } from '../../activities';
import { createFilesystemEvidenceStore } from '../../activities/evidence';
import { webhookSignature } from '../../activities/notify';
import { createSecretClient } from '../../activities/secrets';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadSettings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { buildSimulator, type Simulator } from '../../simulator/app';
import { buildActivityDeps, createRotationWorker } from '../../worker';
import type { RotationStatus } from '../../workflows/messages';
import { runRekey } from '../helpers/cli';
import { decodedHistoryText } from '../workflows/rotation-harness';

// A whole rotation through the API, on the real Temporal dev server, with the real worker and real
// activities: the reference gateway, Key Vault (Lowkey Vault, or the reference Key Vault where its jar
// is not served), the filesystem evidence store. Two rotations run side by side: an automated LiteLLM
// key approved through to COMPLETED, and a manual one handed over through the API and rolled back.
jest.setTimeout(6 * 60_000);

const vaultUrl = process.env.AZURE_KEYVAULT_URL;
const run = randomBytes(3).toString('hex');
const token = () => `rk_${randomBytes(16).toString('hex')}`;
const tokens = { alice: token(), bob: token(), carol: token(), dave: token() };
const masterKey = `sk-master-${randomBytes(12).toString('hex')}`;
/** Every key value this file creates or learns; none may appear in a history, a log or a response. */
const secrets = new Set<string>([masterKey]);

let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;
let app: FastifyInstance;
let gateway: Simulator;
let gatewayBase: string;
let vault: SecretClient;
let evidenceDir: string;
let apiUrl: string;
const logLines: string[] = [];
const responses: string[] = [];

const automated = { name: `auto-key-${run}`, environment: 'e2e', ticket: `CHG-A${run}` };
const manual = { name: `manual-key-${run}`, environment: 'e2e', ticket: `CHG-M${run}` };
const idOf = (c: typeof automated) => `${c.environment}:${c.name}:${c.ticket}`;

async function newGatewayKey(): Promise<string> {
  const res = await fetch(`${gatewayBase}/key/generate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ models: ['gpt-4o-mini', 'text-embedding-3-small'], team_id: 'platform-ai' }),
  });
  const { key } = (await res.json()) as { key: string };
  secrets.add(key);
  return key;
}

function policy(c: typeof automated) {
  return stringify({
    rotation: {
      credential: c.name,
      owner: 'platform-ai',
      environment: c.environment,
      reason: 'scheduled security rotation',
      change_ticket: {
        id: c.ticket,
        rollback_owner: 'carol@example.com',
        ...(c === automated ? { webhook_url: `${hooks.url}/ticket-hook` } : {}),
      },
      scope: {
        apps: ['customer-chat-api'],
        gateway_base_url: `${gatewayBase}/v1`,
        allowed_routes: ['chat-completions', 'responses'],
      },
      pre_checks: { inventory_confirmed: true },
      cutover: {
        observation_window_minutes: 1,
        check_interval_minutes: 0.25,
        drain_window_minutes: 0,
        max_hold_minutes: 3,
      },
      evidence: {
        auth_error_check: 'required',
        usage_owner_check: 'required',
        cost_anomaly_check: 'required',
        old_key_negative_test: 'required',
      },
    },
  });
}

async function call(
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  who: keyof typeof tokens | null,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method,
    url,
    headers: { ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...headers },
    ...(payload === undefined ? {} : { payload: payload as string }),
  });
  responses.push(res.body);
  return res;
}
/** The real `rekey` bin against this file's listening API; its output counts as a response. */
async function cli(args: string[], who: keyof typeof tokens) {
  const run = await runRekey(args, { api: apiUrl, token: tokens[who] });
  responses.push(run.stdout, run.stderr);
  return run;
}
const rotationUrl = (id: string, suffix = '') => `/v1/rotations/${encodeURIComponent(id)}${suffix}`;

async function status(id: string): Promise<RotationStatus> {
  const res = await call('GET', rotationUrl(id), 'dave');
  expect(res.statusCode).toBe(200);
  const detail = res.json<{ detail: RotationStatus | null }>().detail;
  if (!detail) throw new Error(`no status for ${id}`);
  return detail;
}

async function untilPhase(id: string, phases: string[], timeoutMs = 4 * 60_000): Promise<RotationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(id);
    if (phases.includes(s.phase)) return s;
    if (['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED'].includes(s.phase) || Date.now() > deadline) {
      throw new Error(
        `${id} is ${s.phase}, expected ${phases.join('|')}: ${JSON.stringify(s.failure ?? s.timeline.slice(-5))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const webhookSecret = `whsec-${randomBytes(16).toString('hex')}`;
interface Delivery {
  id: string;
  event: string;
  phase: string;
  signed: boolean;
  answered: number;
}
let hooks: { url: string; deliveries: Delivery[]; close: () => Promise<void> };

/** The change ticket's webhook: refuses the first attempt of every delivery, so each is retried. */
async function startTicketWebhook(): Promise<typeof hooks> {
  const deliveries: Delivery[] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const id = String(req.headers['x-rekey-delivery']);
      const signature = String(req.headers['x-rekey-signature']);
      const signed =
        signature === webhookSignature(webhookSecret, String(req.headers['x-rekey-timestamp']), body);
      const answered = seen.has(id) ? 204 : 503;
      seen.add(id);
      const event = JSON.parse(body) as { event: string; phase: string };
      deliveries.push({ id, event: event.event, phase: event.phase, signed, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const describeVault = vaultUrl ? describe : describe.skip;

describeVault('a rotation through the API with the real worker', () => {
  beforeAll(async () => {
    const settings = loadSettings();
    evidenceDir = mkdtempSync(path.join(tmpdir(), 'rekey-evidence-'));
    hooks = await startTicketWebhook();
    gateway = buildSimulator({
      masterKey,
      provisioningKey: `sk-or-${randomBytes(8).toString('hex')}`,
      now: Date.now,
    });
    gatewayBase = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    vault = createSecretClient(vaultUrl!, { emulator: true });

    const adminSecret = `rekey-e2e-admin-${run}`;
    await vault.setSecret(adminSecret, masterKey);
    await vault.setSecret(automated.name, await newGatewayKey());
    await vault.setSecret(manual.name, await newGatewayKey());
    const entry = (c: typeof automated, adapter: 'litellm' | 'manual') => ({
      name: c.name,
      environment: c.environment,
      vault_url: vaultUrl,
      secret_name: c.name,
      gateway: {
        base_url: `${gatewayBase}/v1`,
        admin_adapter: adapter,
        // The manual gateway has no key admin in rekey; its admin key only reads the spend log.
        admin_base_url: gatewayBase,
        admin_key_secret: adminSecret,
      },
      telemetry: { adapter: 'litellm-spend-logs' },
      consumers: [{ app: 'customer-chat-api', environment: 'e2e', reload: 'dynamic' }],
    });
    const registry = parseRegistry(
      stringify({ credentials: [entry(automated, 'litellm'), entry(manual, 'manual')] }),
      'e2e registry',
    );

    const taskQueue = `api-e2e-${run}`;
    const deps = buildActivityDeps(
      { ...settings, REKEY_EVIDENCE_DIR: evidenceDir, REKEY_WEBHOOK_SIGNING_SECRET: webhookSecret },
      { registry, secretClientFor: () => vault },
    );
    nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    worker = await createRotationWorker({
      connection: nativeConnection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue,
      activities: createActivities(deps),
    });
    workerRun = worker.run();

    connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    app = buildApp({
      temporal: client,
      registry,
      auth: new Authenticator([
        { sha256: tokenHash(tokens.alice), principal: 'alice@example.com', roles: ['requester', 'approver'] },
        { sha256: tokenHash(tokens.bob), principal: 'bob@example.com', roles: ['approver'] },
        { sha256: tokenHash(tokens.carol), principal: 'carol@example.com', roles: ['operator'] },
        { sha256: tokenHash(tokens.dave), principal: 'dave@example.com', roles: ['viewer'] },
      ]),
      taskQueue,
      temporalUiUrl: settings.TEMPORAL_UI_URL,
      secretStoreFor: (c) => deps.secretStoreFor(c),
      evidence: createFilesystemEvidenceStore(evidenceDir),
      logger: { level: 'info', stream: capture },
    });
    apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });

    // Both rotations start now and run side by side.
    for (const c of [automated, manual]) {
      const res = await call('POST', '/v1/rotations', 'alice', policy(c), {
        'content-type': 'application/yaml',
      });
      expect(res.statusCode).toBe(201);
    }
  });

  afterAll(async () => {
    for (const c of [automated, manual]) {
      await client?.workflow
        .getHandle(`rekey:${c.environment}:${c.name}`)
        .terminate('e2e test over')
        .catch(() => undefined);
    }
    worker?.shutdown();
    await workerRun;
    await nativeConnection?.close();
    await app?.close();
    await connection?.close();
    await gateway?.app.close();
    await hooks?.close();
    rmSync(evidenceDir, { recursive: true, force: true });
  });

  it('runs an automated rotation to COMPLETED through the gates: roles, four-eyes and closed gates refused, the approver accepted', async () => {
    const id = idOf(automated);
    const approve = (who: keyof typeof tokens, gate: string) =>
      call('POST', rotationUrl(id, '/approvals'), who, {
        gate,
        decision: 'approve',
        comment: 'drain is clean',
      });

    await untilPhase(id, ['HOLDING']);
    expect((await approve('bob', 'revoke')).statusCode).toBe(409);

    await untilPhase(id, ['AWAITING_REVOKE_APPROVAL']);
    // Visibility may lag the status query by a moment.
    const line = `rekey_rotation_phase{credential="${automated.name}",environment="e2e",phase="AWAITING_REVOKE_APPROVAL"} 1`;
    let scraped = '';
    for (let i = 0; i < 20 && !scraped.includes(line); i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      scraped = (await app.inject({ url: '/metrics' })).body;
    }
    expect(scraped).toContain(line);
    expect(scraped).toMatch(/rekey_approvals_pending\{gate="revoke"\} [1-9]/);
    const viewer = await approve('dave', 'revoke');
    expect(viewer.statusCode).toBe(403);
    expect(viewer.headers['content-type']).toMatch(/application\/problem\+json/);
    const requester = await approve('alice', 'revoke');
    expect(requester.statusCode).toBe(403);
    expect(requester.json<{ detail: string }>().detail).toMatch(/four-eyes/);
    expect((await approve('bob', 'flip')).statusCode).toBe(409);
    // The approver uses the CLI, as on-call would.
    const ok = await cli(['approve', id, '--gate', 'revoke', '--comment', 'drain is clean', '--json'], 'bob');
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(ok.stdout)).toMatchObject({ id, accepted: true, phase: 'AWAITING_REVOKE_APPROVAL' });

    const done = await untilPhase(id, ['COMPLETED']);
    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    secrets.add((await vault.getSecret(automated.name)).value!);

    const late = await call('POST', rotationUrl(id, '/rollback'), 'carol', { reason: 'second thoughts' });
    expect(late.statusCode).toBe(409);
    const lateCli = await cli(['rollback', id, '--reason', 'second thoughts'], 'carol');
    expect(lateCli.code).toBe(1);
    expect(lateCli.stderr).toMatch(/409|finished/);

    const evidence = await call('GET', rotationUrl(id, '/evidence'), 'dave');
    expect(evidence.statusCode).toBe(200);
    expect(evidence.json()).toMatchObject({
      rotationId: id,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      bundle: {
        schemaVersion: 1,
        rotationId: id,
        changeTicket: {
          approvals: [expect.objectContaining({ gate: 'revoke', principal: 'bob@example.com' })],
        },
        secretVersions: { source: 'secret-store-history' },
        negativeTest: { ran: true, oldKeyRejected: true, newKeyAccepted: true },
        outcome: { outcome: 'completed', oldKeyRevoked: true },
      },
    });
    // The reference Key Vault's history: the old version retired, the promoted one current.
    const versions = evidence.json<{
      bundle: { secretVersions: { versions: { roles: string[]; enabled: boolean }[] } };
    }>().bundle.secretVersions.versions;
    expect(versions.find((v) => v.roles.includes('retired'))).toMatchObject({ enabled: false });
    expect(versions.find((v) => v.roles.includes('current'))).toMatchObject({ enabled: true });
    const markdown = await call('GET', rotationUrl(id, '/evidence'), 'dave', undefined, {
      accept: 'text/markdown',
    });
    expect(markdown.headers['content-type']).toMatch(/text\/markdown/);
    for (const row of [
      'Change ticket',
      'Secret version history',
      'Gateway logs',
      'Negative test',
      'Exception list',
      'Post-change review',
    ]) {
      expect(markdown.body).toContain(`## ${row}\n`);
    }
    expect(markdown.body).toMatch(/bob@example.com/);
    const fromCli = await cli(['evidence', id, '--markdown'], 'dave');
    expect(fromCli.code).toBe(0);
    expect(fromCli.stdout).toContain(`# Key rotation evidence — ${id}`);
  });

  it("tells the ticket's webhook about every phase with a valid signature, retrying a refused delivery", async () => {
    // The workflow closes only after its last notification settled.
    await client.workflow.getHandle(`rekey:${automated.environment}:${automated.name}`).result();
    const phases = hooks.deliveries.filter((d) => d.event === 'phase-changed').map((d) => d.phase);
    expect(phases).toEqual(
      expect.arrayContaining(['CANARY', 'FLIPPING', 'HOLDING', 'REVOKING', 'COMPLETED']),
    );
    expect(hooks.deliveries.some((d) => d.event === 'gate-opened')).toBe(true);
    expect(hooks.deliveries.every((d) => d.signed)).toBe(true);
    // Every delivery was refused once and answered on its retry, under the same delivery id.
    const byId = new Map<string, number[]>();
    for (const d of hooks.deliveries) byId.set(d.id, [...(byId.get(d.id) ?? []), d.answered]);
    expect(byId.size).toBeGreaterThanOrEqual(5);
    for (const [id, answers] of byId) expect([id, answers.slice(0, 2)]).toEqual([id, [503, 204]]);
  });

  it('hands a manual replacement key over through the API, flips, and rolls back to the old key on request', async () => {
    const id = idOf(manual);
    const oldValue = (await vault.getSecret(manual.name)).value;
    await untilPhase(id, ['AWAITING_REPLACEMENT_KEY']);
    const replacement = await newGatewayKey();

    expect(
      (await call('PUT', rotationUrl(id, '/replacement-key'), 'dave', { key: replacement })).statusCode,
    ).toBe(403);
    const same = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: oldValue });
    expect(same.statusCode).toBe(422);
    expect(same.json<{ detail: string }>().detail).toMatch(/the key being replaced/);
    const handed = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: replacement });
    expect(handed.statusCode).toBe(202);
    expect(handed.json()).toEqual({
      id,
      version: expect.stringMatching(/\S/),
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
      phase: 'AWAITING_REPLACEMENT_KEY',
    });
    const again = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: replacement });
    expect(again.statusCode).toBe(409);

    await untilPhase(id, ['HOLDING']);
    // An app reading the stable path now gets the new key …
    expect((await vault.getSecret(manual.name)).value).toBe(replacement);
    const rollback = await cli(['rollback', id, '--reason', 'consumer errors'], 'carol');
    expect(rollback).toMatchObject({ code: 0, stderr: '' });
    const after = await untilPhase(id, ['ROLLED_BACK']);
    expect(after.rollbackCause).toMatch(/carol@example.com/);
    // … and the old key again after the rollback.
    expect((await vault.getSecret(manual.name)).value).toBe(oldValue);
  });

  it('never lets a key reach a workflow history, a log line or an API response', async () => {
    expect(secrets.size).toBeGreaterThanOrEqual(5);
    const histories: string[] = [];
    for (const c of [automated, manual]) {
      const history = await client.workflow.getHandle(`rekey:${c.environment}:${c.name}`).fetchHistory();
      histories.push(decodedHistoryText(historyToJSON(history)));
    }
    expect(logLines.length).toBeGreaterThan(0);
    for (const value of secrets) {
      for (const [where, texts] of [
        ['history', histories],
        ['log', logLines],
        ['response', responses],
      ] as const) {
        const leaked = texts.some((t) => t.includes(value));
        if (leaked) throw new Error(`a key value appeared in a ${where}`);
      }
    }
  });
});
