// bench/start-throughput: how fast POST /v1/rotations starts rotations, against raw
// `client.workflow.start` of the same workflow and input, on a Temporal dev server of its own with NO
// worker (runs wait in PREPARING; each round's runs are terminated afterwards, so closed runs pile up
// round after round as they would in a long-lived namespace). The API is the production entry
// (api/server.ts startServer) listening on a free port, driven over real HTTP; the raw side is one
// client on its own connection. Within a round the two sides take turns in blocks of 50 starts, in ABBA
// order (API, raw, raw, API, …; the mirror image the next round), so neither benefits from a warmer or
// a less loaded server. Not a test: it prints.
//   npx tsx bench/start-throughput.ts [--rounds 3] [--starts 200] [--concurrency 10] [--block 50]
//     [--reuse] [--keep]
// --reuse rotates the same credentials again each round (fresh tickets): every API start then has
// closed runs behind it, whose ticket list it reads from the latest run's memo. --keep leaves the dev
// server's database and the logs in .run/bench-start-throughput-*/ (removed after a clean run otherwise).
// Last line: `start-throughput: api_per_s=<n> raw_per_s=<n> ratio=<n>`. Target (issue #14): ratio at
// least 0.8 (the API costs at most 1.25x a raw start), and no decline across rounds.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { Authenticator, tokenHash } from '../api/auth';
import { MessageSigner } from '../api/message-signing';
import { startServer, type RunningServer } from '../api/server';
import { loadRegistry, loadSettings } from '../config';
import { rotationPolicySchema, toRotationInput, workflowIdFor, type RotationInput } from '../domain/policy';
import type { CredentialRegistry } from '../domain/ports';
import {
  ROOT,
  freePort,
  startTemporalDevServer,
  type RunningServer as RunningProcess,
} from '../scripts/local-stack';
import { rotationStartOptions } from '../workflows/start-options';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 3);
const STARTS = arg('starts', 200);
const CONCURRENCY = arg('concurrency', 10);
const REUSE = process.argv.includes('--reuse');
const KEEP = process.argv.includes('--keep');
const BLOCK = arg('block', 50);
const WARMUP = 20;
const ENV = 'bench';
const TASK_QUEUE = 'bench-start-throughput';
const seedYaml = readFileSync(path.join(ROOT, 'test', 'fixtures', 'seed-policy.yaml'), 'utf8');

/** The seed's policy for credential `name` in the bench environment (the seed's own shape and size). */
const policyYaml = (name: string) =>
  seedYaml
    .replace('credential: flatkey-router-key', `credential: ${name}`)
    .replace('environment: production', `environment: ${ENV}`);

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight; wall seconds. */
async function timed(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

interface Side {
  name: 'api' | 'raw';
  /** Starts the rotation of `credential` under `ticket`; throws unless it was created. */
  start(credential: string, ticket: string): Promise<void>;
}

async function main() {
  mkdirSync(path.join(ROOT, '.run'), { recursive: true });
  const dir = mkdtempSync(path.join(ROOT, '.run', 'bench-start-throughput-'));
  const grpcPort = await freePort();
  const uiPort = await freePort();
  const servers: RunningProcess[] = [];
  let api: RunningServer | undefined;
  let connection: Connection | undefined;
  let ok = false;
  try {
    servers.push(
      await startTemporalDevServer({
        grpcPort,
        uiPort,
        dbFile: path.join(dir, 'temporal.db'),
        logFile: path.join(dir, 'temporal.log'),
      }),
    );
    const address = `127.0.0.1:${grpcPort}`;
    const token = `rk_${randomBytes(16).toString('hex')}`;
    const example = loadRegistry(path.join(ROOT, 'config', 'credentials.example.yaml'));
    // Every bench credential is the seed's flatkey entry under another name: one workflow id each.
    const registry: CredentialRegistry = {
      lookup: (name, environment) =>
        environment === ENV ? example.lookup('flatkey-router-key', 'production') : undefined,
      names: () => example.names(),
    };
    const settings = loadSettings({
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
      REKEY_TASK_QUEUE: TASK_QUEUE,
      REKEY_API_HOST: '127.0.0.1',
      REKEY_API_PORT: '0',
      // The bench measures throughput: a slow start on a loaded machine must not turn into a 503.
      REKEY_TEMPORAL_CALL_TIMEOUT_SECONDS: '30',
    });
    // The request log at info, as in production, into a file instead of stdout.
    const logFile = path.join(dir, 'api.log');
    api = await startServer(settings, {
      registry,
      auth: new Authenticator([
        { sha256: tokenHash(token), principal: 'bench@example.com', roles: ['requester'] },
      ]),
      logger: { level: 'info', stream: pino.destination({ dest: logFile, sync: false }) },
      // No rotation is ever approved here: an ephemeral key, without the warning that says so.
      signer: MessageSigner.ephemeral(),
    });
    const apiUrl = api.url;
    connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: 'default' });

    const apiSide: Side = {
      name: 'api',
      async start(credential, ticket) {
        const res = await fetch(`${apiUrl}/v1/rotations`, {
          method: 'POST',
          body: policyYaml(credential),
          headers: {
            'content-type': 'application/yaml',
            'x-change-ticket': ticket,
            authorization: `Bearer ${token}`,
          },
        });
        const body = await res.text();
        if (res.status !== 201) throw new Error(`POST /v1/rotations answered ${res.status}: ${body}`);
      },
    };
    // The raw side gets the same input the API builds, made before the clock starts: it measures
    // what Temporal allows, the API's parsing and checks are what the API costs on top.
    const inputs = new Map<string, RotationInput>();
    const inputFor = (credential: string, ticket: string) => {
      const policy = rotationPolicySchema.parse(parseYaml(policyYaml(credential)));
      return toRotationInput(policy, 'bench@example.com', ticket);
    };
    const rawSide: Side = {
      name: 'raw',
      async start(credential, ticket) {
        const input = inputs.get(`${credential}/${ticket}`) ?? inputFor(credential, ticket);
        // The API's start carries the ticket list in the memo; the raw start carries the same list.
        await client.workflow.start(
          'rotation',
          rotationStartOptions(input, TASK_QUEUE, { priorTickets: [] }),
        );
      },
    };

    const started: string[] = [];
    const latencies = { api: [] as number[], raw: [] as number[] };
    const closeAll = async () => {
      const ids = started.splice(0);
      await timed(ids.length, CONCURRENCY, async (i) => {
        await client.workflow.getHandle(ids[i]!).terminate('bench round over');
      });
    };
    /** One block: `n` starts of `side`, credentials `<side>-<key>-<i>`, tickets of this round. */
    const block = async (side: Side, key: string, n: number, round: number) => {
      const names = Array.from({ length: n }, (_, i) => `${side.name}-${key}-${i}`);
      const ticket = `CHG-${round}-${randomBytes(3).toString('hex')}`;
      if (side.name === 'raw') for (const c of names) inputs.set(`${c}/${ticket}`, inputFor(c, ticket));
      const seconds = await timed(n, CONCURRENCY, async (i) => {
        const t0 = performance.now();
        await side.start(names[i]!, ticket);
        latencies[side.name].push(performance.now() - t0);
        started.push(workflowIdFor(ENV, names[i]!));
      });
      return seconds;
    };

    // Warm-up: connections, JIT and the server's caches, untimed.
    await block(apiSide, 'warmup', WARMUP, 0);
    await block(rawSide, 'warmup', WARMUP, 0);
    await closeAll();
    latencies.api.length = latencies.raw.length = 0;

    const totals = { api: { n: 0, s: 0 }, raw: { n: 0, s: 0 } };
    console.log(
      `${ROUNDS} rounds x ${STARTS} starts per side at concurrency ${CONCURRENCY}, ` +
        `${REUSE ? 'the same credentials each round' : 'fresh credentials each round'}, no worker`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      // ABBA, BAAB, ABBA, …: each side's blocks sit as often early as late, next to either neighbour.
      const [a, b] = round % 2 ? [apiSide, rawSide] : [rawSide, apiSide];
      const blocks = Math.ceil(STARTS / BLOCK);
      const order = Array.from({ length: blocks }, (_, j) => (j % 2 ? [b, a] : [a, b])).flat();
      const per = { api: { n: 0, s: 0 }, raw: { n: 0, s: 0 } };
      const seen = { api: 0, raw: 0 };
      for (const side of order) {
        const part = seen[side.name]++;
        const n = Math.min(BLOCK, STARTS - part * BLOCK);
        const key = REUSE ? `p${part}` : `r${round}p${part}`;
        per[side.name].s += await block(side, key, n, round);
        per[side.name].n += n;
      }
      await closeAll();
      const p = (k: 'api' | 'raw') => {
        const ms = latencies[k].splice(0).sort((a, b) => a - b);
        const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(0);
        return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms`;
      };
      const apiRate = per.api.n / per.api.s;
      const rawRate = per.raw.n / per.raw.s;
      for (const k of ['api', 'raw'] as const) {
        totals[k].n += per[k].n;
        totals[k].s += per[k].s;
      }
      console.log(
        `round ${round}: api ${apiRate.toFixed(1)}/s (${per.api.n} in ${per.api.s.toFixed(2)} s; ${p('api')}) · ` +
          `raw ${rawRate.toFixed(1)}/s (${per.raw.n} in ${per.raw.s.toFixed(2)} s; ${p('raw')}) · ` +
          `ratio ${(apiRate / rawRate).toFixed(2)}`,
      );
    }
    const apiPerS = totals.api.n / totals.api.s;
    const rawPerS = totals.raw.n / totals.raw.s;
    ok = true;
    if (KEEP) console.log(`files: ${dir}`);
    console.log(
      `start-throughput: api_per_s=${apiPerS.toFixed(1)} raw_per_s=${rawPerS.toFixed(1)} ratio=${(apiPerS / rawPerS).toFixed(2)}`,
    );
  } finally {
    await api?.close();
    await connection?.close();
    for (const s of servers.reverse()) await s.stop();
    // A failed run keeps its files: the server's and the API's logs say why.
    if (!ok) console.error(`files: ${dir}`);
    else if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
