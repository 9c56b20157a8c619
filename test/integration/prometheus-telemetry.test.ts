import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { fingerprint } from '../../domain/fingerprint';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrometheusTelemetry, TelemetryLagging } from '../../activities/telemetry';
import type { Telemetry } from '../../domain/ports';
import { SIGNALS, type CredentialRef, type Fingerprint } from '../../domain/activity-io';
import { freePort, startPrometheus, type RunningServer } from '../../scripts/local-stack';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';
import { thresholdsSchema } from '../../domain/policy';
import { judgeWindow, requiredSignals } from '../../workflows/analysis';

// A real Prometheus (Debian's) scraping the reference gateway every second; the telemetry adapter's
// figures must equal exactly what this test sent.
let gw: RunningSimulator;
let prom: RunningServer & { url: string };
let dir: string;
beforeAll(async () => {
  gw = await startSimulator();
  dir = mkdtempSync(path.join(os.tmpdir(), 'rekey-prom-'));
  prom = await startPrometheus({
    port: await freePort(),
    targets: [new URL(gw.base).host],
    scrapeIntervalS: 1,
    dir,
    bearerToken: gw.masterKey,
  });
});
afterAll(async () => {
  await prom?.stop();
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const credential: CredentialRef = {
  name: 'flatkey-router-key',
  environment: 'production',
  secret: {
    backend: 'azure-key-vault',
    vaultUrl: 'https://vault.test',
    secretName: 'flatkey-router-key',
    pendingSecretName: 'flatkey-router-key-pending',
  },
  gatewayBaseUrl: 'http://unused/v1',
  adminAdapter: 'litellm',
  consumers: [
    { app: 'customer-chat-api', environment: 'production', reload: 'dynamic' },
    { app: 'enrichment-worker', environment: 'production', reload: 'restart' },
  ],
};

async function send(key: string, n: number, user?: string) {
  const ai = new OpenAI({ apiKey: key, baseURL: `${gw.base}/v1`, maxRetries: 0 });
  for (let i = 0; i < n; i++) {
    await ai.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `m${i}` }],
        ...(user ? { user } : {}),
      })
      .catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Returns once Prometheus (scraping every second) has surely scraped after `atMs`. */
const afterScrape = (atMs: number) => sleep(Math.max(0, atMs + 1600 - Date.now()));

/** Waits until Prometheus has scraped at least `n` requests of the key. */
async function scraped(telemetry: Telemetry, fp: Fingerprint, from: number, n: number) {
  for (let i = 0; i < 100; i++) {
    const w = await telemetry.window(credential, { fingerprint: fp }, from, Date.now());
    if (w.requests >= n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Prometheus never saw ${n} requests for ${fp}`);
}

describe('Prometheus telemetry against a real Prometheus scraping the reference gateway', () => {
  let telemetry: Telemetry;
  beforeAll(async () => {
    telemetry = createPrometheusTelemetry({ url: prom.url });
    // Window edges snap to the gateway's scrapes, which the adapter dates by its request counter: a
    // busy proxy always has one; this fresh gateway gets one now.
    const warm = await gw.newKey();
    await send(warm.key, 1, 'warm-up');
    await scraped(telemetry, fingerprint(warm.key), 0, 1);
  });

  it('counts requests, auth errors, 429s and 5xx per key exactly as sent', async () => {
    const from = Date.now() - 1000;
    // The window starts at the first scrape after `from`: the requests come after it.
    await afterScrape(from);
    const { key, token } = await gw.newKey({ team_id: 'platform-ai' });
    await send(key, 6, 'customer-chat-api');
    await gw.admin('PUT', `/sim/faults/${token}`, { status: 429 });
    await send(key, 2, 'customer-chat-api');
    await gw.admin('PUT', `/sim/faults/${token}`, { status: 503 });
    await send(key, 3, 'customer-chat-api');
    await gw.admin('PUT', `/sim/faults/${token}`, { status: 401 });
    await send(key, 1, 'customer-chat-api');
    await gw.admin('DELETE', `/sim/faults/${token}`);
    const fp = fingerprint(key);
    await scraped(telemetry, fp, from, 12);
    const to = Date.now();
    await afterScrape(to);
    const w = await telemetry.window(credential, { fingerprint: fp }, from, to);
    expect(w).toMatchObject({
      fromMs: from,
      toMs: to,
      requests: 12,
      rateLimited: 2,
      serverErrors: 3,
      authErrors: 1,
    });
    expect(w.complete).toBeUndefined();
    // No key-less 401 in the window: the key's one 401 is the whole truth.
    expect(w.unattributed).toEqual({ authErrors: 0 });
    expect(w.tokens).toBeGreaterThan(0);
    expect(w.spend).toBeGreaterThan(0);
    expect(w.p95LatencyMs).toBeGreaterThanOrEqual(0);
    // The simulator's fast answers land in its first bucket (le 0.005 s): the p95 is known to 5 ms.
    expect(w.latencyResolutionMs).toBe(5);
    const attribution = await telemetry.attribution(credential, { fingerprint: fp }, 'platform-ai');
    expect(attribution).toMatchObject({ verdict: 'pass', passed: true, owner: 'platform-ai', anomalies: [] });
    expect(await telemetry.attribution(credential, { fingerprint: fp }, 'data-science')).toMatchObject({
      verdict: 'fail',
      passed: false,
    });
  });

  it("reads an app's 401s with a wrong key as unattributed: the key's auth-error signal is inconclusive", async () => {
    const from = Date.now() - 1000;
    await afterScrape(from);
    const { key } = await gw.newKey({ team_id: 'platform-ai' });
    await send(key, 25, 'customer-chat-api');
    // An app configured with a key the gateway does not know (a typo, a stale secret): LiteLLM cannot
    // hash it, so its 401s carry hashed_api_key="None", not this key's hash.
    await send(`sk-${randomBytes(12).toString('hex')}`, 3, 'customer-chat-api');
    const fp = fingerprint(key);
    await scraped(telemetry, fp, from, 25);
    const to = Date.now();
    await afterScrape(to);
    const w = await telemetry.window(credential, { fingerprint: fp }, from, to);
    expect(w).toMatchObject({ requests: 25, authErrors: 0, unattributed: { authErrors: 3 } });
    const judged = judgeWindow({
      observation: {
        fromMs: from,
        toMs: to,
        source: telemetry.source(credential),
        newKey: w,
        newKeyByConsumer: [{ consumer: 'customer-chat-api', requests: 25 }],
        errors: [],
      },
      baseline: { ...w, unattributed: { authErrors: 0 } },
      thresholds: thresholdsSchema.parse({}),
      required: requiredSignals({
        auth_error_check: 'required',
        usage_owner_check: 'required',
        cost_anomaly_check: 'required',
        old_key_negative_test: 'required',
      }),
      probeRequestsInWindow: 0,
    });
    expect(judged).toMatchObject({ verdict: 'inconclusive', breaches: [] });
    expect(judged.reasons).toEqual([expect.stringMatching(/3 401\(s\) in the window carry no key hash/)]);
  });

  it('calls attribution inconclusive for a key Prometheus has no series of yet', async () => {
    const { key } = await gw.newKey({ team_id: 'platform-ai' });
    const attribution = await telemetry.attribution(
      credential,
      { fingerprint: fingerprint(key) },
      'platform-ai',
    );
    expect(attribution).toEqual({
      verdict: 'inconclusive',
      passed: false,
      expectedOwner: 'platform-ai',
      anomalies: [],
    });
  });

  it('states every per-key signal observable', () => {
    const { name, capabilities } = telemetry.source(credential);
    expect(name).toBe('prometheus');
    expect(Object.values(capabilities).every(Boolean)).toBe(true);
    expect(Object.keys(capabilities).sort()).toEqual([...SIGNALS].sort());
  });

  it('reads old-key requests per consumer, and zero once only the new key is used', async () => {
    const old = await gw.newKey();
    const fresh = await gw.newKey();
    const t0 = Date.now() - 1000;
    await afterScrape(t0);
    await send(old.key, 4, 'customer-chat-api');
    await send(old.key, 2, 'enrichment-worker');
    await send(old.key, 1, 'rekey-canary');
    const oldFp = fingerprint(old.key);
    await scraped(telemetry, oldFp, t0, 7);
    const t1 = Date.now();
    await afterScrape(t1);
    expect(await telemetry.usageByConsumer(credential, { fingerprint: oldFp }, t0, t1)).toEqual([
      { consumer: 'customer-chat-api', requests: 4 },
      { consumer: 'enrichment-worker', requests: 2 },
    ]);
    // The flip: apps now use the new key only.
    await send(fresh.key, 5, 'customer-chat-api');
    await scraped(telemetry, fingerprint(fresh.key), t1, 5);
    const t2 = Date.now();
    await afterScrape(t2);
    const usage = await telemetry.usageByConsumer(credential, { fingerprint: oldFp }, t1, t2);
    expect(usage.reduce((n, c) => n + c.requests, 0)).toBe(0);
  });

  it('calls a window incomplete until a scrape after its end exists, and gives no consumer counts before', async () => {
    const { key } = await gw.newKey();
    const fp = { fingerprint: fingerprint(key) };
    await send(key, 2, 'customer-chat-api');
    const from = Date.now() - 5000;
    const to = Date.now() + 3000;
    expect(await telemetry.window(credential, fp, from, to)).toMatchObject({ complete: false });
    await expect(telemetry.usageByConsumer(credential, fp, from, to)).rejects.toBeInstanceOf(
      TelemetryLagging,
    );
    await afterScrape(to);
    const w = await telemetry.window(credential, fp, from, to);
    expect(w.complete).toBeUndefined();
  });

  it('snaps window edges to scrapes: back-to-back windows count every request once', async () => {
    const { key } = await gw.newKey();
    const fp = fingerprint(key);
    const a = Date.now();
    await afterScrape(a);
    await send(key, 3, 'customer-chat-api');
    // The edge falls between the two bursts, and between two scrapes.
    await sleep(500);
    const b = Date.now();
    await sleep(300);
    await send(key, 4, 'customer-chat-api');
    await scraped(telemetry, fp, a, 7);
    const c = Date.now();
    await afterScrape(c);
    const first = await telemetry.window(credential, { fingerprint: fp }, a, b);
    const second = await telemetry.window(credential, { fingerprint: fp }, b, c);
    expect(first.requests + second.requests).toBe(7);
    expect(await telemetry.usageByConsumer(credential, { fingerprint: fp }, a, c)).toEqual([
      { consumer: 'customer-chat-api', requests: 7 },
      { consumer: 'enrichment-worker', requests: 0 },
    ]);
  });

  it("sends the registry's bearer token to a Prometheus that requires one", async () => {
    const token = `prom-token-${Date.now()}`;
    // A gate in front of the real Prometheus, as an authenticating proxy would be.
    const gate = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401).end('{"status":"error","error":"unauthorized"}');
        return;
      }
      void fetch(`${prom.url}${req.url}`).then(async (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
      });
    });
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
      const { key } = await gw.newKey();
      const fp = { fingerprint: fingerprint(key) };
      const from = Date.now() - 60_000;
      const to = Date.now() - 30_000;
      const authed = createPrometheusTelemetry({ url, bearerToken: () => Promise.resolve(token) });
      expect(await authed.window(credential, fp, from, to)).toMatchObject({ requests: 0 });
      const anonymous = createPrometheusTelemetry({ url });
      await expect(anonymous.window(credential, fp, from, to)).rejects.toThrow(/bearer_token_secret/);
    } finally {
      await new Promise((r) => gate.close(r));
    }
  });
});
