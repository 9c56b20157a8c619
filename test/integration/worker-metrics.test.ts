import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { stringify } from 'yaml';
import { statusInFailure } from '../../api/final-status';
import { rotationPolicySchema, toRotationInput } from '../../domain/policy';
import { loadSettings } from '../../config';
import { ROOT, freePort, portOpen } from '../../scripts/local-stack';
import { OUTCOME_FAILURE_TYPES } from '../../workflows/messages';
import type { rotation } from '../../workflows/rotation';
import { rotationStartOptions } from '../../workflows/start-options';

// The worker as it runs in production (`tsx worker.ts`, its own process: the Temporal runtime and its
// Prometheus exporter are installed once per process) against the harness's Temporal dev server.
jest.setTimeout(3 * 60_000);

const settings = loadSettings();
const run = randomBytes(3).toString('hex');
const taskQueue = `worker-metrics-${run}`;
let dir: string;
let worker: ChildProcess;
let exited: Promise<number | null>;
let output = '';
let rekeyPort: number;
let temporalPort: number;

const scrape = async (port: number, route = '/metrics') => {
  const res = await fetch(`http://127.0.0.1:${port}${route}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};

/** Scrapes until `pred` holds on the text (the worker fills its endpoints as it starts and works). */
async function scrapeUntil(port: number, pred: (text: string) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (worker.exitCode !== null) throw new Error(`worker exited with ${worker.exitCode}:\n${output}`);
    const last = await scrape(port).then(
      (r) => r.text,
      () => '',
    );
    if (pred(last)) return last;
    if (Date.now() > deadline) throw new Error(`metrics on ${port} never matched; last:\n${last}\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-worker-metrics-'));
  // A registry the worker can start with: one manual credential, nothing is called at start-up.
  const registryFile = path.join(dir, 'credentials.yaml');
  writeFileSync(
    registryFile,
    stringify({
      credentials: [
        {
          name: `metrics-key-${run}`,
          environment: 'metrics-test',
          vault_url: 'https://127.0.0.1:1',
          secret_name: `metrics-key-${run}`,
          gateway: { base_url: 'http://127.0.0.1:1/v1', admin_adapter: 'manual' },
          telemetry: { adapter: 'prometheus', url: 'http://127.0.0.1:1' },
          consumers: [{ app: 'nobody', environment: 'metrics-test', reload: 'dynamic' }],
        },
      ],
    }),
  );
  rekeyPort = await freePort();
  temporalPort = await freePort();
  worker = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['worker.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: settings.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: settings.TEMPORAL_NAMESPACE,
      REKEY_TASK_QUEUE: taskQueue,
      REKEY_CREDENTIALS_FILE: registryFile,
      REKEY_EVIDENCE_DIR: path.join(dir, 'evidence'),
      REKEY_WORKER_METRICS_HOST: '127.0.0.1',
      REKEY_WORKER_METRICS_PORT: String(rekeyPort),
      REKEY_TEMPORAL_METRICS_PORT: String(temporalPort),
      REKEY_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  exited = new Promise((resolve) => worker.on('exit', (code) => resolve(code)));
});

afterAll(async () => {
  if (worker?.exitCode === null) {
    worker.kill('SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the worker process', () => {
  it("serves rekey's metrics on REKEY_WORKER_METRICS_PORT and only /metrics there", async () => {
    const text = await scrapeUntil(rekeyPort, (t) => t.includes('rekey_canary_requests_total'));
    for (const name of [
      'rekey_canary_requests_total',
      'rekey_negative_tests_total',
      'rekey_rotations_finished_total',
      'rekey_phase_duration_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await scrape(rekeyPort)).type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await scrape(rekeyPort, '/')).status).toBe(404);
  });

  it("serves the Temporal SDK's own metrics on REKEY_TEMPORAL_METRICS_PORT once it polls", async () => {
    const queue = `task_queue="${taskQueue}"`;
    const text = await scrapeUntil(
      temporalPort,
      (t) => t.includes('temporal_worker_start{') && t.includes('temporal_num_pollers{'),
    );
    expect(text).toMatch(new RegExp(`^temporal_worker_start\\{[^}]*${queue}[^}]*\\} 1$`, 'm'));
    expect(text).toMatch(
      new RegExp(`^temporal_num_pollers\\{[^}]*poller_type="activity_task"[^}]*${queue}`, 'm'),
    );
    expect(text).not.toContain('rekey_');
  });

  it('counts a finished rotation and the time it spent in each phase, with bounded labels only', async () => {
    // An unregistered credential fails in preflight: the quickest whole rotation, and no vault needed.
    const credential = `unknown-${run}`;
    const input = toRotationInput(
      rotationPolicySchema.parse({
        rotation: {
          credential,
          owner: 'platform-ai',
          environment: `nowhere-${run}`,
          reason: 'metrics test',
          scope: {
            apps: ['nobody'],
            gateway_base_url: 'http://127.0.0.1:1/v1',
            allowed_routes: ['chat-completions'],
          },
        },
      }),
      'alice@example.com',
      `CHG-${run}`,
    );
    const connection = await Connection.connect({ address: settings.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
      const handle = await client.workflow.start<typeof rotation>('rotation', {
        ...rotationStartOptions(input, taskQueue),
      });
      // A rotation that did not rotate ends as a failed workflow, its final status in the failure.
      const ended = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(ended).toBeInstanceOf(WorkflowFailedError);
      expect((ended as WorkflowFailedError).cause).toMatchObject({ type: OUTCOME_FAILURE_TYPES.failed });
      expect(statusInFailure(ended)).toMatchObject({ phase: 'FAILED', outcome: 'failed' });
    } finally {
      await connection.close();
    }
    const text = await scrapeUntil(rekeyPort, (t) =>
      t.includes('rekey_rotations_finished_total{environment="unregistered",outcome="failed"} 1'),
    );
    expect(text).toMatch(/^rekey_phase_duration_seconds_count\{phase="PREPARING"\} 1$/m);
    expect(text).not.toContain(credential);
    expect(text).not.toContain(`nowhere-${run}`);
  });

  it('stops on SIGTERM with exit code 0 and closes both endpoints', async () => {
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await portOpen(rekeyPort)).toBe(false);
    expect(await portOpen(temporalPort)).toBe(false);
  });
});

describe('the worker configuration', () => {
  it('refuses to start when both metrics endpoints are given the same port', async () => {
    const port = String(await freePort());
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, REKEY_WORKER_METRICS_PORT: port, REKEY_TEMPORAL_METRICS_PORT: port },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/REKEY_TEMPORAL_METRICS_PORT: must differ from REKEY_WORKER_METRICS_PORT/);
  });
});
