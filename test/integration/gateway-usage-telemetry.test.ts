import OpenAI from 'openai';
import { fingerprint } from '../../domain/fingerprint';
import {
  ALL_CONSUMERS,
  UNKNOWN_FIRST_READING,
  createLiteLlmSpendLogTelemetry,
  createOpenRouterUsageTelemetry,
} from '../../activities/telemetry';
import type { CredentialRef } from '../../domain/activity-io';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';
import { spendLogQuery } from '../../activities/telemetry/gateway-usage/litellm-spend-logs';
import { TelemetryLagging } from '../../activities/telemetry';
import { configureSpendLog, LITELLM_SPEND_LOG_ROW_CAP } from '../../simulator/spend-log';

// The gateway-usage adapters (LiteLLM spend log, OpenRouter per-key usage) against the reference gateway.
let gw: RunningSimulator;
beforeAll(async () => {
  gw = await startSimulator();
});
afterAll(async () => {
  await gw?.close();
});

const credential = {
  name: 'router-key',
  environment: 'production',
  consumers: [
    { app: 'customer-chat-api', environment: 'production', reload: 'dynamic' },
    { app: 'enrichment-worker', environment: 'production', reload: 'restart' },
  ],
} as CredentialRef;

async function send(key: string, n: number, user: string) {
  const ai = new OpenAI({ apiKey: key, baseURL: `${gw.base}/v1`, maxRetries: 0 });
  for (let i = 0; i < n; i++)
    await ai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `m${i}` }],
      user,
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The spend-log adapter with no lag margin: a window is complete once any later row exists. */
const spendLogTelemetry = (extra: { lagSeconds?: number } = {}) =>
  createLiteLlmSpendLogTelemetry({
    baseUrl: gw.base,
    adminKey: () => Promise.resolve(gw.masterKey),
    lagSeconds: 0,
    ...extra,
  });

/** One request of another key after `toMs`: the row that shows the log has caught up with a window. */
async function laterRow(toMs: number) {
  while (Date.now() <= toMs) await sleep(2);
  const bystander = await gw.newKey();
  await send(bystander.key, 1, 'bystander');
}

describe('LiteLLM spend-log telemetry', () => {
  it('counts requests, tokens and spend per key and old-key requests per consumer from the spend log', async () => {
    const telemetry = spendLogTelemetry();
    const old = await gw.newKey({ team_id: 'platform-ai' });
    const other = await gw.newKey();
    const from = Date.now() - 1000;
    await send(old.key, 3, 'customer-chat-api');
    await send(old.key, 1, 'enrichment-worker');
    await send(old.key, 2, 'rekey-canary');
    await send(other.key, 5, 'customer-chat-api');
    const to = Date.now() + 1;
    await laterRow(to);
    const w = await telemetry.window(credential, { fingerprint: fingerprint(old.key) }, from, to);
    expect(w).toMatchObject({ requests: 6, serverErrors: 0 });
    expect(w.complete).toBeUndefined();
    expect(w.tokens).toBeGreaterThan(0);
    expect(
      await telemetry.usageByConsumer(credential, { fingerprint: fingerprint(old.key) }, from, to),
    ).toEqual([
      { consumer: 'customer-chat-api', requests: 3 },
      { consumer: 'enrichment-worker', requests: 1 },
    ]);
    const quietTo = Date.now() + 1;
    await laterRow(quietTo);
    expect(
      await telemetry.usageByConsumer(credential, { fingerprint: fingerprint(old.key) }, to, quietTo),
    ).toEqual([
      { consumer: 'customer-chat-api', requests: 0 },
      { consumer: 'enrichment-worker', requests: 0 },
    ]);
    expect(
      await telemetry.attribution(credential, { fingerprint: fingerprint(old.key) }, 'platform-ai'),
    ).toMatchObject({
      verdict: 'pass',
      passed: true,
      owner: 'platform-ai',
    });
  });

  it('calls attribution inconclusive, not failed, while the key has no usage in the spend log', async () => {
    const telemetry = spendLogTelemetry();
    const silent = await gw.newKey({ team_id: 'platform-ai' });
    const attribution = await telemetry.attribution(
      credential,
      { fingerprint: fingerprint(silent.key) },
      'platform-ai',
    );
    expect(attribution).toEqual({
      verdict: 'inconclusive',
      passed: false,
      expectedOwner: 'platform-ai',
      anomalies: [],
    });
    await send(silent.key, 1, 'customer-chat-api');
    expect(
      await telemetry.attribution(credential, { fingerprint: fingerprint(silent.key) }, 'data-science'),
    ).toMatchObject({ verdict: 'fail', passed: false, owner: 'platform-ai' });
  });

  it('counts key-less failed rows as unattributed, only 5xx as server errors, and cannot see refusals', async () => {
    const telemetry = spendLogTelemetry();
    const key = await gw.newKey();
    const from = Date.now() - 1000;
    await send(key.key, 2, 'customer-chat-api');
    /** Requests answered with this status (each one fails, so each is sent on its own). */
    const answered = async (status: number, n: number) => {
      await gw.admin('PUT', `/sim/faults/${key.token}`, { status });
      for (let i = 0; i < n; i++) await send(key.key, 1, 'customer-chat-api').catch(() => undefined);
    };
    await answered(429, 2);
    await answered(503, 1);
    await gw.admin('DELETE', `/sim/faults/${key.token}`);
    await gw.admin('POST', '/key/block', { key: key.token });
    await send(key.key, 1, 'customer-chat-api').catch(() => undefined);
    const to = Date.now() + 1;
    await laterRow(to);
    const w = await telemetry.window(credential, { fingerprint: fingerprint(key.key) }, from, to);
    // LiteLLM writes a failed call's row without the key: the key's own rows are its 2 successes, and
    // the 503 is an unattributed server error (the 429s are failures, but not server errors). The
    // refusal is absent from the log, so auth errors and rate limits are declared unobservable.
    expect(w).toMatchObject({
      requests: 2,
      authErrors: 0,
      rateLimited: 0,
      serverErrors: 0,
      unattributed: { serverErrors: 1 },
    });
    const rows = (await gw.admin('GET', `/spend/logs?${spendLogQuery(from, to)}`)).body as unknown as {
      api_key: string;
      status: string;
    }[];
    expect(rows.filter((r) => r.status === 'failure').map((r) => r.api_key)).toEqual(['', '', '']);
    // A window of another key, with nothing failing on the gateway, proves zero.
    const quietFrom = Date.now();
    const quiet = await gw.newKey();
    await send(quiet.key, 2, 'customer-chat-api');
    const quietTo = Date.now() + 1;
    await laterRow(quietTo);
    const calm = await telemetry.window(
      credential,
      { fingerprint: fingerprint(quiet.key) },
      quietFrom,
      quietTo,
    );
    expect(calm).toMatchObject({ requests: 2, serverErrors: 0, unattributed: { serverErrors: 0 } });
    expect(telemetry.source(credential)).toEqual({
      name: 'litellm-spend-logs',
      capabilities: {
        requests: true,
        authErrors: false,
        rateLimited: false,
        serverErrors: true,
        latency: true,
        tokens: true,
        spend: true,
        perConsumer: true,
      },
    });
  });

  it("asks for end_date = the day after the window's end, as LiteLLM reads end_date as that day's 00:00 UTC", async () => {
    const noon = Date.parse('2026-12-01T12:00:00Z');
    expect(spendLogQuery(noon - 3600_000, noon, 'abc')).toBe(
      'start_date=2026-12-01&end_date=2026-12-02&summarize=false&api_key=abc',
    );
    // A window ending exactly at midnight holds nothing of the next day.
    expect(spendLogQuery(noon, Date.parse('2026-12-02T00:00:00Z'))).toContain('end_date=2026-12-02&');
    const key = await gw.newKey();
    await send(key.key, 2, 'customer-chat-api');
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10);
    const asked = (end: string) =>
      gw.admin('GET', `/spend/logs?start_date=${today}&end_date=${end}&api_key=${key.token}&summarize=false`);
    expect((await asked(today)).body).toEqual([]);
    expect((await asked(tomorrow)).body).toHaveLength(2);
  });

  it('names the consumer by end_user and never shows "None" or "" as one', async () => {
    const telemetry = spendLogTelemetry();
    const key = await gw.newKey();
    const from = Date.now() - 1000;
    await send(key.key, 2, 'enrichment-worker');
    await send(key.key, 1, 'None');
    await send(key.key, 1, '');
    const to = Date.now() + 1;
    await laterRow(to);
    expect(
      await telemetry.usageByConsumer(credential, { fingerprint: fingerprint(key.key) }, from, to),
    ).toEqual([
      { consumer: 'customer-chat-api', requests: 0 },
      { consumer: 'enrichment-worker', requests: 2 },
      { consumer: 'unattributed', requests: 2 },
    ]);
  });

  it("treats an answer cut at LiteLLM's row cap as an error unless it still reaches the window's start", async () => {
    const telemetry = spendLogTelemetry();
    const key = await gw.newKey();
    // With the key's hash the adapter asks for the key's rows only (`api_key=`).
    const fp = { fingerprint: fingerprint(key.key), gatewayKeyId: key.token };
    // The cap leaves the unfiltered read (for key-less failures) enough rows to reach the window too.
    configureSpendLog(gw.sim.state, { rowCap: 4 });
    try {
      await send(key.key, 3, 'customer-chat-api');
      // A row starting in the very millisecond of `from` would belong to the window.
      await sleep(2);
      const from = Date.now();
      await sleep(2);
      await send(key.key, 2, 'customer-chat-api');
      const to = Date.now() + 1;
      await laterRow(to);
      const cut = await gw.admin('GET', `/spend/logs?${spendLogQuery(from - 60_000, to, key.token)}`);
      expect(cut.body).toHaveLength(4);
      // The newest four rows reach back past `from`: the window [from, to) is whole.
      expect(await telemetry.window(credential, fp, from, to)).toMatchObject({ requests: 2 });
      // They do not reach back to a window that starts earlier: its count would be short.
      await expect(telemetry.window(credential, fp, from - 60_000, to)).rejects.toThrow(
        /row cap \(x-litellm-spend-logs-truncated\)/,
      );
    } finally {
      configureSpendLog(gw.sim.state, { rowCap: LITELLM_SPEND_LOG_ROW_CAP });
    }
  });

  it('calls a window incomplete until the log holds a row past its end plus the lag, and gives no consumer counts before', async () => {
    const telemetry = spendLogTelemetry({ lagSeconds: 1 });
    const key = await gw.newKey();
    const fp = { fingerprint: fingerprint(key.key) };
    configureSpendLog(gw.sim.state, { batchMs: 1500 });
    try {
      const from = Date.now() - 1000;
      await send(key.key, 3, 'customer-chat-api');
      const to = Date.now() + 1;
      // Rows wait for the batch writer: the window reads short, and says so.
      const early = await telemetry.window(credential, fp, from, to);
      expect(early).toMatchObject({ requests: 0, complete: false });
      await expect(telemetry.usageByConsumer(credential, fp, from, to)).rejects.toBeInstanceOf(
        TelemetryLagging,
      );
      // Written, but nothing yet lies a second past the window's end: still incomplete.
      await sleep(1600);
      expect(await telemetry.window(credential, fp, from, to)).toMatchObject({
        requests: 3,
        complete: false,
      });
      // A row past the lag margin, once written, completes the window.
      await laterRow(to + 1000);
      await sleep(1600);
      const late = await telemetry.window(credential, fp, from, to);
      expect(late).toMatchObject({ requests: 3 });
      expect(late.complete).toBeUndefined();
      expect(await telemetry.usageByConsumer(credential, fp, from, to)).toEqual([
        { consumer: 'customer-chat-api', requests: 3 },
        { consumer: 'enrichment-worker', requests: 0 },
      ]);
    } finally {
      configureSpendLog(gw.sim.state, { batchMs: 0 });
    }
  });
});

describe('OpenRouter usage telemetry', () => {
  const drained = credential.consumers.map((c) => ({ consumer: c.app, requests: 0 }));
  it('reads spend since the previous reading, treats the first reading as traffic, and drains to zero', async () => {
    const telemetry = createOpenRouterUsageTelemetry({
      baseUrl: `${gw.base}/api/v1`,
      adminKey: () => Promise.resolve(gw.provisioningKey),
    });
    const created = (await gw.admin('POST', '/api/v1/keys', { name: 'prod' }, gw.provisioningKey)).body as {
      key: string;
      data: { hash: string };
    };
    const key = { fingerprint: fingerprint(created.key), gatewayKeyId: created.data.hash };
    const ai = new OpenAI({ apiKey: created.key, baseURL: `${gw.base}/v1`, maxRetries: 0 });
    const send = async (n: number) => {
      for (let i = 0; i < n; i++)
        await ai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `m${i}` }] });
    };

    expect(await telemetry.usageByConsumer(credential, key, 0, 1)).toEqual([
      { consumer: UNKNOWN_FIRST_READING, requests: 1 },
    ]);
    await send(3);
    expect(await telemetry.usageByConsumer(credential, key, 0, 1)).toEqual([
      { consumer: ALL_CONSUMERS, requests: 1 },
    ]);
    expect(await telemetry.usageByConsumer(credential, key, 0, 1)).toEqual(drained);
    await send(2);
    const w = await telemetry.window(credential, key, 0, 1);
    expect(w.spend).toBeGreaterThan(0);
    expect(w.requests).toBe(0);

    await gw.admin('DELETE', `/api/v1/keys/${created.data.hash}`, undefined, gw.provisioningKey);
    expect(await telemetry.usageByConsumer(credential, key, 0, 1)).toEqual(drained);
  });

  it('says it sees spend only: requests, errors, latency, tokens and consumers read zero', () => {
    const telemetry = createOpenRouterUsageTelemetry({
      baseUrl: `${gw.base}/api/v1`,
      adminKey: () => Promise.resolve(gw.provisioningKey),
    });
    const { name, capabilities } = telemetry.source(credential);
    expect(name).toBe('openrouter-usage');
    expect(Object.entries(capabilities).filter(([, seen]) => seen)).toEqual([['spend', true]]);
  });

  it('refuses, without retrying, a key without a hash and any attribution check', async () => {
    const telemetry = createOpenRouterUsageTelemetry({
      baseUrl: `${gw.base}/api/v1`,
      adminKey: () => Promise.resolve(gw.provisioningKey),
    });
    await expect(
      telemetry.window(credential, { fingerprint: 'sha256:0123456789ab' }, 0, 1),
    ).rejects.toMatchObject({
      type: 'TelemetryUnsupported',
      nonRetryable: true,
    });
    await expect(
      telemetry.attribution(
        credential,
        { fingerprint: 'sha256:0123456789ab', gatewayKeyId: 'h' },
        'platform-ai',
      ),
    ).rejects.toMatchObject({
      type: 'AttributionUnsupported',
    });
  });
});
