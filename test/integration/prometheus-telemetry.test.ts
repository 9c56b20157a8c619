import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { fingerprint } from '../../domain/fingerprint';
import { createPrometheusTelemetry } from '../../activities/telemetry';
import type { Telemetry } from '../../domain/ports';
import { SIGNALS, type CredentialRef, type Fingerprint } from '../../domain/activity-io';
import { freePort, startPrometheus, type RunningServer } from '../../scripts/local-stack';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

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
  beforeAll(() => {
    telemetry = createPrometheusTelemetry({ url: prom.url });
  });

  it('counts requests, auth errors, 429s and 5xx per key exactly as sent', async () => {
    const from = Date.now() - 1000;
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
    const w = await telemetry.window(credential, { fingerprint: fp }, from, Date.now());
    expect(w).toMatchObject({ requests: 12, rateLimited: 2, serverErrors: 3, authErrors: 1 });
    expect(w.tokens).toBeGreaterThan(0);
    expect(w.spend).toBeGreaterThan(0);
    expect(w.p95LatencyMs).toBeGreaterThanOrEqual(0);
    const attribution = await telemetry.attribution(credential, { fingerprint: fp }, 'platform-ai');
    expect(attribution).toMatchObject({ verdict: 'pass', passed: true, owner: 'platform-ai', anomalies: [] });
    expect(await telemetry.attribution(credential, { fingerprint: fp }, 'data-science')).toMatchObject({
      verdict: 'fail',
      passed: false,
    });
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
    await send(old.key, 4, 'customer-chat-api');
    await send(old.key, 2, 'enrichment-worker');
    await send(old.key, 1, 'rekey-canary');
    const oldFp = fingerprint(old.key);
    await scraped(telemetry, oldFp, t0, 7);
    const t1 = Date.now();
    expect(await telemetry.usageByConsumer(credential, { fingerprint: oldFp }, t0, t1)).toEqual([
      { consumer: 'customer-chat-api', requests: 4 },
      { consumer: 'enrichment-worker', requests: 2 },
    ]);
    // The flip: apps now use the new key only.
    await send(fresh.key, 5, 'customer-chat-api');
    await scraped(telemetry, fingerprint(fresh.key), t1, 5);
    await new Promise((r) => setTimeout(r, 1500));
    const usage = await telemetry.usageByConsumer(credential, { fingerprint: oldFp }, t1, Date.now());
    expect(usage.reduce((n, c) => n + c.requests, 0)).toBe(0);
  });
});
