import OpenAI from 'openai';
import { fingerprint } from '../../activities/fingerprint';
import { createLiteLlmSpendLogTelemetry } from '../../activities/telemetry';
import type { CredentialRef } from '../../activities/types';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

// The gateway-usage adapter on LiteLLM's /spend/logs, against the reference gateway.
let gw: RunningSimulator;
beforeAll(async () => {
  gw = await startSimulator();
});
afterAll(async () => {
  await gw?.close();
});

const credential = {
  name: 'flatkey-router-key',
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
    const w = await telemetry.window(credential, fingerprint(old.key), from, to);
    expect(w).toMatchObject({ requests: 6, serverErrors: 0 });
    expect(w.tokens).toBeGreaterThan(0);
    expect(await telemetry.usageByConsumer(credential, fingerprint(old.key), from, to)).toEqual([
      { consumer: 'customer-chat-api', requests: 3 },
      { consumer: 'enrichment-worker', requests: 1 },
    ]);
    expect(await telemetry.usageByConsumer(credential, fingerprint(old.key), to, to + 60_000)).toEqual([
      { consumer: 'customer-chat-api', requests: 0 },
      { consumer: 'enrichment-worker', requests: 0 },
    ]);
    expect(await telemetry.attribution(credential, fingerprint(old.key), 'platform-ai')).toMatchObject({
      passed: true,
      owner: 'platform-ai',
    });
  });
});
