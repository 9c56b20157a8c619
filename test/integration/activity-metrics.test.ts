import { randomBytes } from 'node:crypto';
import type { SecretClient } from '@azure/keyvault-secrets';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { createActivities, type RotationActivities } from '../../activities';
import { createSecretClient } from '../../activities/secrets';
import { fingerprint } from '../../domain/fingerprint';
import { storeLabel } from '../../domain/secret-refs';
import type { CredentialRef } from '../../domain/activity-io';
import { createRekeyMetrics, type RekeyMetrics } from '../../common/metrics';
import { loadSettings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { applyNodeExtraCaCerts } from '../../scripts/local-stack';
import { buildActivityDeps } from '../../worker';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';
import { EMULATOR_ENV } from '../helpers/emulator-env';

// The activities as the worker wires them (buildActivityDeps: Key Vault store, canary probe, webhook
// notifier) with a metrics registry, against the reference gateway and the harness's Key Vault.
const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
const run = randomBytes(4).toString('hex');
const name = `metrics-key-${run}`;
const environment = 'metrics-test';
const rotationId = `${environment}:${name}:CHG-${run}`;

let gw: RunningSimulator;
let vault: SecretClient;
let metrics: RekeyMetrics;
let acts: RotationActivities;
let credential: CredentialRef;
const keys: string[] = [];

/** The value of one labelled series of a counter or histogram (0 when it was never touched). */
async function value(
  metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> },
  labels: Record<string, string>,
  metricName?: string,
) {
  const { values } = await metric.get();
  const hit = values.find(
    (v) =>
      (!metricName || v.metricName === metricName) &&
      Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return hit?.value ?? 0;
}

beforeAll(async () => {
  if (unavailable) throw new Error(`no Key Vault emulator could start: ${unavailable}`);
  applyNodeExtraCaCerts();
  const vaultUrl = process.env.AZURE_KEYVAULT_URL;
  if (!vaultUrl) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
  vault = createSecretClient(vaultUrl, { emulator: true });
  gw = await startSimulator();
  const registry = parseRegistry(
    stringify({
      credentials: [
        {
          name,
          environment,
          vault_url: vaultUrl,
          secret_name: name,
          gateway: { base_url: `${gw.base}/v1`, admin_adapter: 'manual', canary: { timeout_seconds: 5 } },
          telemetry: { adapter: 'prometheus', url: 'http://127.0.0.1:1' },
          consumers: [{ app: 'customer-chat-api', environment, reload: 'dynamic' }],
        },
      ],
    }),
    'metrics test registry',
  );
  metrics = createRekeyMetrics(new Registry());
  acts = createActivities(buildActivityDeps(loadSettings(), { registry, env: EMULATOR_ENV, metrics }));
  credential = registry.lookup(name, environment)!;
});

afterAll(async () => {
  await gw?.close();
});

/** A new gateway key stored as the newest version of the credential's secret; returns its ref. */
async function storeNewKey(fields?: Record<string, unknown>) {
  const issued = await gw.newKey(fields);
  keys.push(issued.key);
  const set = await vault.setSecret(name, issued.key);
  return {
    ...issued,
    ref: {
      store: storeLabel(credential.secret),
      name,
      version: set.properties.version!,
      fingerprint: fingerprint(issued.key),
      enabled: true,
    },
  };
}

describe('activity metrics', () => {
  it('counts every canary request by route and result: ok, or the reason it failed', async () => {
    const key = await storeNewKey();
    await gw.admin('PUT', `/sim/faults/${key.token}`, { deniedRoutes: ['embeddings'] });
    const report = await acts.runCanary({
      credential,
      version: key.ref,
      routes: ['chat-completions', 'embeddings'],
    });
    expect(report.requests.map((r) => [r.route, r.ok, r.reason])).toEqual([
      ['chat-completions', true, undefined],
      ['embeddings', false, 'route-denied'],
    ]);
    expect(await value(metrics.canaryRequests, { route: 'chat-completions', result: 'ok' })).toBe(1);
    expect(await value(metrics.canaryRequests, { route: 'embeddings', result: 'route-denied' })).toBe(1);
    expect(await value(metrics.canaryRequests, { route: 'embeddings', result: 'ok' })).toBe(0);
  });

  it('counts a negative test as passed when the revoked key is refused, failed when it still works', async () => {
    const old = await storeNewKey();
    const fresh = await storeNewKey();
    await gw.admin('POST', '/key/delete', { keys: [old.key] });
    const check = { credential, attempts: 1, intervalMs: 1 };

    const passed = await acts.negativeTest({ ...check, old: old.ref, current: fresh.ref });
    expect(passed).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    expect(await value(metrics.negativeTests, { result: 'passed' })).toBe(1);
    expect(await value(metrics.negativeTests, { result: 'failed' })).toBe(0);

    const stillAlive = await acts.negativeTest({ ...check, old: fresh.ref, current: fresh.ref });
    expect(stillAlive.oldKeyRejected).toBe(false);
    expect(await value(metrics.negativeTests, { result: 'failed' })).toBe(1);
  });

  it('observes phase durations and finished rotations from notify figures, once per event', async () => {
    const base = { rotationId, message: 'm', phase: 'REVOKING' };
    const figures = { credential: name, environment };
    await acts.notify({
      ...base,
      event: 'phase-changed',
      metrics: { ...figures, left: { phase: 'HOLDING', seconds: 3600 } },
    });
    const finished: Parameters<RotationActivities['notify']>[0] = {
      ...base,
      event: 'finished',
      phase: 'COMPLETED',
      metrics: { ...figures, outcome: 'completed' },
    };
    await acts.notify(finished);
    // A retry of the same event (attempt 2, after a webhook failure) is not counted again.
    await new MockActivityEnvironment({ attempt: 2 }).run((input) => acts.notify(input), finished);
    // An environment the registry does not know is never a label value.
    await acts.notify({
      ...base,
      event: 'finished',
      phase: 'FAILED',
      metrics: { credential: 'unknown', environment: `made-up-${run}`, outcome: 'failed' },
    });

    const phase = { phase: 'HOLDING' };
    expect(await value(metrics.phaseDuration, phase, 'rekey_phase_duration_seconds_count')).toBe(1);
    expect(await value(metrics.phaseDuration, phase, 'rekey_phase_duration_seconds_sum')).toBe(3600);
    expect(await value(metrics.rotationsFinished, { environment, outcome: 'completed' })).toBe(1);
    expect(await value(metrics.rotationsFinished, { environment: 'unregistered', outcome: 'failed' })).toBe(
      1,
    );
  });

  it('puts no key value, rotation id or unregistered name in any label', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain('rekey_canary_requests_total{');
    for (const secret of keys) expect(text).not.toContain(secret);
    for (const unbounded of [name, rotationId, `made-up-${run}`]) expect(text).not.toContain(unbounded);
  });
});
