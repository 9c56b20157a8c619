// The real rotation stack for integration tests, on the servers the harness started: the reference
// gateway (simulator/), Key Vault (Lowkey Vault or the reference Key Vault, at AZURE_KEYVAULT_URL), a
// registry of the test's own credentials, the real worker with the real activities, and the API.
// Used by test/integration/api-rotation.test.ts (logs, webhooks, the CLI) and temporal-ui.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { SecretClient } from '@azure/keyvault-secrets';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { stringify } from 'yaml';
import { createActivities } from '../../activities';
import { createFilesystemEvidenceStore } from '../../activities/evidence';
import { createSecretClient } from '../../activities/secrets';
import { buildApp } from '../../api/app';
import { Authenticator, tokenHash } from '../../api/auth';
import { loadSettings, type Settings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { buildSimulator, type Simulator } from '../../simulator/app';
import { buildActivityDeps, createRotationWorker } from '../../worker';
import type { RotationStatus } from '../../workflows/messages';

/** A credential the test registers; `manual` waits for a hand-off, `litellm` issues its own key. */
export interface StackCredential {
  name: string;
  environment: string;
  ticket: string;
  adapter: 'manual' | 'litellm';
}

export type Who = 'alice' | 'bob' | 'carol' | 'dave';

export interface RotationStackOptions {
  /** Where the API's pino logger writes (at info); without it the API logs nothing. */
  logStream?: Writable;
  /** Settings for the worker's activities on top of the harness's, e.g. REKEY_WEBHOOK_SIGNING_SECRET. */
  workerSettings?: Partial<Settings>;
  /** Listen on a local port, for the CLI; the stack's `apiUrl` is then set. */
  listen?: boolean;
}

export interface UntilPhaseOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Every status read must answer 200 with a status (a jest expectation), instead of being retried. */
  expectOk?: boolean;
}

export interface RotationStack {
  client: Client;
  app: FastifyInstance;
  gatewayBase: string;
  vault: SecretClient;
  taskQueue: string;
  /** The listening API's URL, when started with `listen`. */
  apiUrl: string | undefined;
  /** Each principal's raw bearer token, e.g. for running the CLI as them. */
  tokens: Record<Who, string>;
  /** Every key value the stack created; none may appear in a history, a log or a response. */
  secrets: Set<string>;
  /** The body of every response `call` (and so `start` and `untilPhase`) received. */
  responses: string[];
  /** Creates a fresh key on the gateway (and adds it to `secrets`). */
  newGatewayKey(): Promise<string>;
  /** `${environment}:${name}:${ticket}`, the API's rotation id. */
  idOf(c: StackCredential): string;
  /** The rotation policy YAML for a credential, the seed's template with a short cutover;
   * `changeTicket` adds fields to its change_ticket (e.g. webhook_url). */
  policy(c: StackCredential, changeTicket?: Record<string, unknown>): string;
  call(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    who: Who | null,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  /** Starts the credential's rotation through the API (POST /v1/rotations, 201 expected). */
  start(
    c: StackCredential,
  ): Promise<{ id: string; workflowId: string; runId: string; temporalUiUrl: string }>;
  /** Polls the status query through the API until the rotation is in one of the phases. */
  untilPhase(id: string, phases: string[], opts?: UntilPhaseOptions): Promise<RotationStatus>;
  /** Terminates the stack's rotations, stops the worker, closes the API, connections and gateway. */
  close(): Promise<void>;
}

/** Why the stack cannot start here, or undefined when Key Vault is available. */
export function rotationStackUnavailableReason(): string | undefined {
  if (process.env.AZURE_KEYVAULT_URL) return undefined;
  return process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE ?? 'the harness set no AZURE_KEYVAULT_URL';
}

/** Starts the stack for the given credentials; each one's current key is a fresh gateway key in the vault. */
export async function startRotationStack(
  credentials: StackCredential[],
  opts: RotationStackOptions = {},
): Promise<RotationStack> {
  const missing = rotationStackUnavailableReason();
  if (missing) throw new Error(`no Key Vault for the rotation stack: ${missing}`);
  const vaultUrl = process.env.AZURE_KEYVAULT_URL!;
  const settings = loadSettings();
  const run = randomBytes(3).toString('hex');
  const token = () => `rk_${randomBytes(16).toString('hex')}`;
  const tokens: Record<Who, string> = { alice: token(), bob: token(), carol: token(), dave: token() };
  const masterKey = `sk-master-${randomBytes(12).toString('hex')}`;
  const secrets = new Set<string>([masterKey]);
  const responses: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };

  try {
    const evidenceDir = mkdtempSync(path.join(tmpdir(), 'rekey-evidence-'));
    closers.push(async () => rmSync(evidenceDir, { recursive: true, force: true }));
    const gateway: Simulator = buildSimulator({
      masterKey,
      provisioningKey: `sk-or-${randomBytes(8).toString('hex')}`,
      now: Date.now,
    });
    const gatewayBase = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => gateway.app.close());
    const newGatewayKey = async () => {
      const res = await fetch(`${gatewayBase}/key/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ models: ['gpt-4o-mini', 'text-embedding-3-small'], team_id: 'platform-ai' }),
      });
      const { key } = (await res.json()) as { key: string };
      secrets.add(key);
      return key;
    };

    const vault = createSecretClient(vaultUrl, { emulator: true });
    const adminSecret = `rekey-stack-admin-${run}`;
    await vault.setSecret(adminSecret, masterKey);
    for (const c of credentials) await vault.setSecret(c.name, await newGatewayKey());
    const registry = parseRegistry(
      stringify({
        credentials: credentials.map((c) => ({
          name: c.name,
          environment: c.environment,
          vault_url: vaultUrl,
          secret_name: c.name,
          gateway: {
            base_url: `${gatewayBase}/v1`,
            admin_adapter: c.adapter,
            // A manual gateway has no key admin in rekey; its admin key only reads the spend log.
            admin_base_url: gatewayBase,
            admin_key_secret: adminSecret,
          },
          telemetry: { adapter: 'litellm-spend-logs' },
          consumers: [{ app: 'customer-chat-api', environment: c.environment, reload: 'dynamic' }],
        })),
      }),
      'rotation stack registry',
    );

    const taskQueue = `rotation-stack-${run}`;
    const deps = buildActivityDeps(
      { ...settings, REKEY_EVIDENCE_DIR: evidenceDir, ...opts.workerSettings },
      { registry, secretClientFor: () => vault },
    );
    const nativeConnection = await NativeConnection.connect({ address: settings.TEMPORAL_ADDRESS });
    closers.push(() => nativeConnection.close());
    const worker: Worker = await createRotationWorker({
      connection: nativeConnection,
      namespace: settings.TEMPORAL_NAMESPACE,
      taskQueue,
      activities: createActivities(deps),
    });
    const workerRun = worker.run();
    closers.push(async () => {
      worker.shutdown();
      await workerRun;
    });

    const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
    const app = buildApp({
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
      logger: opts.logStream ? { level: 'info', stream: opts.logStream } : false,
    });
    closers.push(() => app.close());
    let apiUrl: string | undefined;
    if (opts.listen) apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    else await app.ready();
    // Runs first on close: the stack's rotations end before the worker and connections go.
    closers.push(async () => {
      for (const c of credentials) {
        await client.workflow
          .getHandle(`rekey:${c.environment}:${c.name}`)
          .terminate('test over')
          .catch(() => undefined);
      }
    });

    const idOf = (c: StackCredential) => `${c.environment}:${c.name}:${c.ticket}`;
    const call: RotationStack['call'] = async (method, url, who, payload, headers = {}) => {
      const res = await app.inject({
        method,
        url,
        headers: { ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}), ...headers },
        ...(payload === undefined ? {} : { payload: payload as string }),
      });
      responses.push(res.body);
      return res;
    };
    const policy: RotationStack['policy'] = (c, changeTicket = {}) =>
      stringify({
        rotation: {
          credential: c.name,
          owner: 'platform-ai',
          environment: c.environment,
          reason: 'scheduled security rotation',
          change_ticket: { id: c.ticket, rollback_owner: 'carol@example.com', ...changeTicket },
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
    const start: RotationStack['start'] = async (c) => {
      const res = await call('POST', '/v1/rotations', 'alice', policy(c), {
        'content-type': 'application/yaml',
      });
      if (res.statusCode !== 201)
        throw new Error(`POST /v1/rotations answered ${res.statusCode}: ${res.body}`);
      return res.json();
    };
    const untilPhase: RotationStack['untilPhase'] = async (
      id,
      phases,
      { timeoutMs = 60_000, intervalMs = 500, expectOk = false } = {},
    ) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/v1/rotations/${encodeURIComponent(id)}`, 'dave');
        if (expectOk) expect(res.statusCode).toBe(200);
        const s = res.statusCode === 200 ? res.json<{ detail: RotationStatus | null }>().detail : null;
        if (expectOk && !s) throw new Error(`no status for ${id}`);
        if (s && phases.includes(s.phase)) return s;
        const finished = s && ['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED'].includes(s.phase);
        if (finished || Date.now() > deadline) {
          throw new Error(
            `${id} is ${s?.phase ?? `unknown (${res.statusCode})`}, expected ${phases.join('|')}: ${JSON.stringify(s?.failure ?? s?.timeline.slice(-5))}`,
          );
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    };
    return {
      client,
      app,
      gatewayBase,
      vault,
      taskQueue,
      apiUrl,
      tokens,
      secrets,
      responses,
      newGatewayKey,
      idOf,
      policy,
      call,
      start,
      untilPhase,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
