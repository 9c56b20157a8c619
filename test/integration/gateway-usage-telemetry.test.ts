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

describe('LiteLLM spend-log telemetry', () => {
  it('counts requests, tokens and spend per key and old-key requests per consumer from the spend log', async () => {
    const telemetry = createLiteLlmSpendLogTelemetry({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve(gw.masterKey),
    });
    const old = await gw.newKey({ team_id: 'platform-ai' });
    const other = await gw.newKey();
    const from = Date.now() - 1000;
    await send(old.key, 3, 'customer-chat-api');
    await send(old.key, 1, 'enrichment-worker');
    await send(old.key, 2, 'rekey-canary');
    await send(other.key, 5, 'customer-chat-api');
    const to = Date.now() + 1;
    const w = await telemetry.window(credential, { fingerprint: fingerprint(old.key) }, from, to);
    expect(w).toMatchObject({ requests: 6, serverErrors: 0 });
    expect(w.tokens).toBeGreaterThan(0);
    expect(
      await telemetry.usageByConsumer(credential, { fingerprint: fingerprint(old.key) }, from, to),
    ).toEqual([
      { consumer: 'customer-chat-api', requests: 3 },
      { consumer: 'enrichment-worker', requests: 1 },
    ]);
    expect(
      await telemetry.usageByConsumer(credential, { fingerprint: fingerprint(old.key) }, to, to + 60_000),
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
    const telemetry = createLiteLlmSpendLogTelemetry({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve(gw.masterKey),
    });
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

  it('counts only 5xx as server errors and says it cannot see refusals, which never reach the log', async () => {
    const telemetry = createLiteLlmSpendLogTelemetry({
      baseUrl: gw.base,
      adminKey: () => Promise.resolve(gw.masterKey),
    });
    const key = await gw.newKey();
    const from = Date.now() - 1000;
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
    const w = await telemetry.window(credential, { fingerprint: fingerprint(key.key) }, from, Date.now() + 1);
    // The refusal is absent from the log, so the source declares auth errors and rate limits
    // unobservable; the logged 429s are failures, but not server errors.
    expect(w).toMatchObject({ requests: 3, authErrors: 0, rateLimited: 0, serverErrors: 1 });
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
