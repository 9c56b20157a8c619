import { randomBytes } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { createActivities, type RotationActivities } from '../../activities';
import { createAutomationActivities, type AutomationActivities } from '../../activities/automation';
import { fingerprint } from '../../domain/fingerprint';
import { createSecretClient } from '../../activities/secrets';
import type { CredentialRef } from '../../domain/activity-io';
import { loadSettings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { applyNodeExtraCaCerts, freePort } from '../../scripts/local-stack';
import { buildActivityDeps } from '../../worker';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';
import { EMULATOR_ENV } from '../helpers/emulator-env';
import { configureSpendLog } from '../../simulator/spend-log';

// The hold's observation, the gateway key actions and the canary request pre-check as the worker
// wires them (buildActivityDeps: registry, Key Vault, admin adapter, telemetry adapter), against the
// reference gateway and the harness's Key Vault.
const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
const run = randomBytes(4).toString('hex');
const environment = 'hold-test';
const watched = `hold-key-${run}`;
const blind = `blind-key-${run}`;
const adminSecret = `hold-admin-${run}`;
const consumers = [
  { app: 'customer-chat-api', environment, reload: 'dynamic' },
  { app: 'enrichment-worker', environment, reload: 'restart' },
];

let gw: RunningSimulator;
let vault: SecretClient;
let acts: RotationActivities;
/** The same activities, waiting 3 s (not 30 s) for a lagging spend log. */
let impatient: RotationActivities;
let automation: AutomationActivities;
let spendLogged: CredentialRef;
let unreachable: CredentialRef;
const keys: string[] = [];

beforeAll(async () => {
  if (unavailable) throw new Error(`no Key Vault emulator could start: ${unavailable}`);
  applyNodeExtraCaCerts();
  const vaultUrl = process.env.AZURE_KEYVAULT_URL;
  if (!vaultUrl) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
  vault = createSecretClient(vaultUrl, { emulator: true });
  gw = await startSimulator();
  await vault.setSecret(adminSecret, gw.masterKey);
  // Nothing listens there: every Prometheus query of this credential fails to connect.
  const closed = `http://127.0.0.1:${await freePort()}`;
  const registry = parseRegistry(
    stringify({
      credentials: [
        {
          name: watched,
          environment,
          vault_url: vaultUrl,
          secret_name: watched,
          gateway: {
            base_url: `${gw.base}/v1`,
            admin_adapter: 'litellm',
            admin_base_url: gw.base,
            admin_key_secret: adminSecret,
            canary: { timeout_seconds: 5 },
          },
          // No lag margin: a window is complete once the log holds any later row.
          telemetry: { adapter: 'litellm-spend-logs', lag_seconds: 0, unobservable: ['latency'] },
          consumers,
        },
        {
          name: blind,
          environment,
          vault_url: vaultUrl,
          secret_name: blind,
          gateway: { base_url: `${gw.base}/v1`, admin_adapter: 'manual' },
          telemetry: { adapter: 'prometheus', url: closed },
          consumers,
        },
      ],
    }),
    'hold observation test registry',
  );
  const deps = buildActivityDeps(loadSettings(), { registry, env: EMULATOR_ENV });
  acts = createActivities(deps);
  impatient = createActivities({ ...deps, telemetryCatchUpMs: 3000 });
  automation = createAutomationActivities(deps);
  spendLogged = registry.lookup(watched, environment)!;
  unreachable = registry.lookup(blind, environment)!;
});

afterAll(async () => {
  await gw?.close();
});

async function newKey() {
  const issued = await gw.newKey();
  keys.push(issued.key);
  return { ...issued, ref: { fingerprint: fingerprint(issued.key), gatewayKeyId: issued.token } };
}

/** Chat completions with the key as the app `user`; returns the gateway's request ids. */
async function send(key: string, n: number, user: string) {
  const ai = new OpenAI({ apiKey: key, baseURL: `${gw.base}/v1`, maxRetries: 0 });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { response } = await ai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `m${i}` }], user })
      .withResponse();
    // LiteLLM's request id header (it sends no x-request-id).
    ids.push(response.headers.get('x-litellm-call-id')!);
  }
  return ids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request of another key after `toMs`: the row that shows the spend log has caught up with a window. */
async function laterRow(toMs: number) {
  while (Date.now() <= toMs) await sleep(2);
  const bystander = await gw.newKey();
  await send(bystander.key, 1, 'bystander');
}

const works = async (value: string) =>
  (await fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${value}` } })).status;

describe('observeHoldWindow', () => {
  it("reads new-key totals and both keys' traffic per consumer, with the registry's unobservable signals off", async () => {
    const old = await newKey();
    const fresh = await newKey();
    const fromMs = Date.now() - 1000;
    await send(old.key, 2, 'enrichment-worker');
    await send(fresh.key, 3, 'customer-chat-api');
    await send(fresh.key, 1, 'rekey-canary');
    const toMs = Date.now() + 1;
    await laterRow(toMs);

    const seen = await acts.observeHoldWindow({
      credential: spendLogged,
      newKey: fresh.ref,
      oldKey: old.ref,
      fromMs,
      toMs,
    });
    expect(seen.errors).toEqual([]);
    expect(seen).toMatchObject({ fromMs, toMs, newKey: { requests: 4, serverErrors: 0 } });
    expect(seen.newKeyByConsumer).toEqual([
      { consumer: 'customer-chat-api', requests: 3 },
      { consumer: 'enrichment-worker', requests: 0 },
    ]);
    expect(seen.oldKeyByConsumer).toEqual([
      { consumer: 'customer-chat-api', requests: 0 },
      { consumer: 'enrichment-worker', requests: 2 },
    ]);
    // The adapter cannot see refusals; the registry adds that this deployment cannot trust latency.
    expect(seen.source).toEqual({
      name: 'litellm-spend-logs',
      capabilities: {
        requests: true,
        authErrors: false,
        rateLimited: false,
        serverErrors: true,
        latency: false,
        tokens: true,
        spend: true,
        perConsumer: true,
      },
    });
    const recorded = JSON.stringify(seen);
    for (const value of [old.key, fresh.key, gw.masterKey]) expect(recorded).not.toContain(value);
  });

  /** 2 new-key and 1 old-key requests, a later row, then the window observed by `activities`. */
  async function observeTraffic(activities: RotationActivities) {
    const old = await newKey();
    const fresh = await newKey();
    const fromMs = Date.now() - 1000;
    await send(fresh.key, 2, 'customer-chat-api');
    await send(old.key, 1, 'enrichment-worker');
    const toMs = Date.now() + 1;
    await laterRow(toMs);
    return activities.observeHoldWindow({
      credential: spendLogged,
      newKey: fresh.ref,
      oldKey: old.ref,
      fromMs,
      toMs,
    });
  }

  it('looks again while the spend log lags behind the window, and answers once it has caught up', async () => {
    configureSpendLog(gw.sim.state, { batchMs: 1500 });
    try {
      // The rows wait up to 1.5 s for the batch writer; the observation waits with them.
      const seen = await observeTraffic(acts);
      expect(seen.errors).toEqual([]);
      expect(seen.newKey).toMatchObject({ requests: 2 });
      expect(seen.newKey!.complete).toBeUndefined();
      expect(seen.oldKeyByConsumer).toEqual([
        { consumer: 'customer-chat-api', requests: 0 },
        { consumer: 'enrichment-worker', requests: 1 },
      ]);
    } finally {
      configureSpendLog(gw.sim.state, { batchMs: 0 });
    }
  });

  it('answers incomplete, with no old-key counts to read as drained, when the spend log does not catch up in time', async () => {
    // A stalled batch writer: nothing is written while the observation waits.
    configureSpendLog(gw.sim.state, { batchMs: 600_000 });
    try {
      const started = Date.now();
      const seen = await observeTraffic(impatient);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      expect(seen.newKey).toMatchObject({ requests: 0, complete: false });
      expect(seen.newKeyByConsumer).toBeUndefined();
      expect(seen.oldKeyByConsumer).toBeUndefined();
      expect(seen.errors).toEqual([
        expect.stringMatching(/^new-key consumers: the spend log has not caught up/),
        expect.stringMatching(/^old-key consumers: the spend log has not caught up/),
      ]);
    } finally {
      configureSpendLog(gw.sim.state, { batchMs: 0 });
    }
  });

  it('reports a telemetry source it cannot reach as errors, without throwing and without figures', async () => {
    const old = await newKey();
    const fresh = await newKey();
    const window = {
      credential: unreachable,
      newKey: fresh.ref,
      fromMs: Date.now() - 60_000,
      toMs: Date.now(),
    };

    const hold = await acts.observeHoldWindow({ ...window, oldKey: old.ref });
    expect(hold.newKey).toBeUndefined();
    expect(hold.newKeyByConsumer).toBeUndefined();
    expect(hold.oldKeyByConsumer).toBeUndefined();
    expect(hold.errors).toEqual([
      expect.stringMatching(/^new-key window: .+/),
      expect.stringMatching(/^new-key consumers: .+/),
      expect.stringMatching(/^old-key consumers: .+/),
    ]);
    expect(hold.source.name).toBe('prometheus');
    expect(Object.values(hold.source.capabilities).every(Boolean)).toBe(true);

    // The soak asks about the new key only: no old-key reading, so no old-key error either.
    const soak = await acts.observeHoldWindow(window);
    expect(soak.errors.map((e) => e.split(':')[0])).toEqual(['new-key window', 'new-key consumers']);
  });
});

describe('gateway key actions', () => {
  it('disables the old key reversibly, enables it again, then deletes it for good', async () => {
    const old = await newKey();
    const action = { credential: spendLogged, keyId: old.token };

    expect(await acts.disableGatewayKey(action)).toMatchObject({
      result: 'disabled',
      at: expect.any(String),
    });
    expect(await works(old.key)).toBe(401);
    expect(await acts.enableGatewayKey(action)).toMatchObject({ result: 'enabled' });
    expect(await works(old.key)).toBe(200);

    expect(await acts.disableGatewayKey(action)).toMatchObject({ result: 'disabled' });
    expect(await acts.deleteGatewayKey(action)).toMatchObject({ result: 'deleted' });
    expect(await acts.enableGatewayKey(action)).toMatchObject({ result: 'already-gone' });
    expect(await acts.deleteGatewayKey(action)).toMatchObject({ result: 'already-gone' });
    expect(await works(old.key)).toBe(401);
  });
});

describe('preflight', () => {
  it("verifies the ticket's canary request id against the gateway's spend log", async () => {
    const current = await newKey();
    await vault.setSecret(watched, current.key);
    const [requestId] = await send(current.key, 1, 'customer-chat-api');
    const preflight = (claimed: string) =>
      acts.preflight({
        rotationId: `${environment}:${watched}:CHG-${run}`,
        credential: watched,
        environment,
        gatewayBaseUrl: spendLogged.gatewayBaseUrl,
        preChecks: { canary_request_id: claimed },
      });

    const found = await preflight(requestId!);
    expect(found.preChecks.find((c) => c.name === 'canary_request_id')).toMatchObject({
      result: 'verified',
      verified: true,
    });
    expect(found).toMatchObject({ gatewayCanDisable: true, oldGatewayKeyId: current.token });
    expect(found.telemetry.capabilities).toMatchObject({ latency: false, authErrors: false, requests: true });

    const redacted = await preflight('req_redacted');
    expect(redacted.preChecks.find((c) => c.name === 'canary_request_id')).toMatchObject({
      result: 'failed',
      verified: false,
      detail: 'the gateway has no request with this id',
    });
  });
});

describe("the current key's expiry, as expiry checks read it", () => {
  it("is the earlier of the gateway key's expiry and the secret version's", async () => {
    const DAY = 86_400_000;
    const issued = await gw.newKey({ duration: '10d' });
    keys.push(issued.key);
    const written = await vault.setSecret(watched, issued.key);
    const read = () => automation.readCurrentExpiry({ credential: watched, environment });
    const fromGateway = await read();
    expect(fromGateway.source).toBe('gateway-key');
    expect(Math.abs(Date.parse(fromGateway.expiresAt!) - (Date.now() + 10 * DAY))).toBeLessThan(60_000);
    // The platform team set the secret version to expire sooner: that is when the key stops working.
    const sooner = new Date(Math.floor((Date.now() + 5 * DAY) / 1000) * 1000);
    await vault.updateSecretProperties(watched, written.properties.version!, { expiresOn: sooner });
    expect(await read()).toEqual({ expiresAt: sooner.toISOString(), source: 'secret' });
    // A key and secret that never expire: none.
    const forever = await newKey();
    await vault.setSecret(watched, forever.key);
    expect(await read()).toEqual({});
  });
});
