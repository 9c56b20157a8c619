// The Key Vault SecretStore against a real Key Vault emulator over verified TLS: the shared one global
// setup starts (the reference Key Vault), plus reference Key Vaults of this file's own
// for purge protection, an outage, and drills (latency, asynchronous deletes, injected 429/503, Azure
// Policy). Every key value is random, made at run time, and checked to appear in no result, log line or
// error.
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { SecretClient, type SecretProperties, type SetSecretOptions } from '@azure/keyvault-secrets';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import {
  createKeyVaultSecretStore,
  createSecretClient,
  KeyVaultTag as Tag,
  VaultFailureTypes,
  type KeyVaultSecretStoreOptions,
} from '../../activities/secrets';
import { azureKeyVaultBackend } from '../../activities/secrets/azure-key-vault';
import type { SecretStore } from '../../domain/ports';
import type { Fingerprint, SecretVersionRef } from '../../domain/activity-io';
import { fingerprint } from '../../domain/fingerprint';
import { FailureTypes } from '../../domain/failure-types';
import {
  applyNodeExtraCaCerts,
  freePort,
  keyVaultPaths,
  startReferenceKeyVault,
  type RunningServer,
} from '../../scripts/local-stack';
import { buildKeyVault, type KeyVaultOptions } from '../../simulator/key-vault';
import { HARNESS_STATE_ENV, type HarnessState } from '../harness/harness-state';
import { leakWatch } from '../helpers/leak-watch';

// The harness always starts at least the reference Key Vault: no vault is a failure, never a skip.
const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;

// What an app does against an emulator: any token, and no check that the challenge names *.vault.azure.net.
const appCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'app', expiresOnTimestamp: Date.now() + 3600_000 }),
};

/** Every key value this file makes, and everything the store gave back, logged or threw. */
const keys: string[] = [];
const observed: string[] = [];
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

const { newKey, seen, failure } = leakWatch('rk', keys, observed);

/** Also stops servers this file starts when the jest process dies: global teardown reads this list. */
function recordServer(server: RunningServer): void {
  const file = process.env[HARNESS_STATE_ENV];
  if (!file || !existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
  state.servers.push({ name: server.name, pid: server.pid, started: server.started });
  writeFileSync(file, JSON.stringify(state));
}

async function versions(client: SecretClient, name: string): Promise<SecretProperties[]> {
  const out: SecretProperties[] = [];
  for await (const p of client.listPropertiesOfSecretVersions(name)) out.push(p);
  return out;
}

const closers: Array<() => Promise<void>> = [];

/** What the workflow hands promote: the pending version the canary proved. */
function proven(staged: SecretVersionRef): { version: string; fingerprint: Fingerprint } {
  return { version: staged.version, fingerprint: staged.fingerprint };
}

describe('the Azure Key Vault SecretStore', () => {
  let url: string;
  let client: SecretClient;
  let app: SecretClient;

  beforeAll(() => {
    if (unavailable) throw new Error(`no Key Vault emulator could start: ${unavailable}`);
    applyNodeExtraCaCerts();
    url = process.env.AZURE_KEYVAULT_URL ?? '';
    if (!url) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
    client = createSecretClient(url, { emulator: true });
    app = new SecretClient(url, appCredential, { disableChallengeResourceVerification: true });
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  /** A credential's secrets with a hand-written current key, as the platform team sets them up. */
  async function credential(
    c = client,
    vaultUrl = url,
    extra: { seed?: SetSecretOptions; store?: Partial<KeyVaultSecretStoreOptions> } = {},
  ) {
    const name = `kv-${randomBytes(5).toString('hex')}`;
    const oldKey = newKey('old');
    const seeded = await c.setSecret(name, oldKey, extra.seed);
    const store: SecretStore = createKeyVaultSecretStore({
      client: c,
      vaultUrl,
      secretName: name,
      pendingSecretName: `${name}-pending`,
      logger,
      settle: { attempts: 5, intervalMs: 200 },
      ...extra.store,
    });
    return { name, pending: `${name}-pending`, oldKey, oldVersion: seeded.properties.version ?? '', store };
  }

  /** A reference Key Vault of this test's own over TLS, with drill options; closed after the file. */
  async function ownVault(opts: Omit<KeyVaultOptions, 'tls'> = {}) {
    const paths = keyVaultPaths();
    const vault = buildKeyVault({
      ...opts,
      tls: { key: readFileSync(paths.keyPem), cert: readFileSync(paths.certPem) },
    });
    await vault.app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => vault.app.close());
    const address = vault.app.server.address();
    const vaultUrl = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return { ...vault, vaultUrl, client: createSecretClient(vaultUrl, { emulator: true }) };
  }

  const rotation = () => `rot-${randomBytes(4).toString('hex')}`;

  it('reads the current version and its fingerprint, the same on every read', async () => {
    const { store, oldKey, oldVersion, name } = await credential();
    const first = seen(await store.readCurrent());
    expect(seen(await store.readCurrent())).toEqual(first);
    expect(first).toMatchObject({ store: url, name, version: oldVersion, enabled: true });
    expect(first).not.toHaveProperty('vaultUrl');
    expect(first.fingerprint).toBe(fingerprint(oldKey));
    expect(await store.resolve(first)).toBe(oldKey);
  });

  it('stages a replacement once: a second stagePending with the same value returns the same version', async () => {
    const { store, pending } = await credential();
    const rot = rotation();
    const newKeyValue = newKey('new');
    const first = seen(await store.stagePending(rot, newKeyValue, 'gk-1'));
    const again = seen(await store.stagePending(rot, newKeyValue, 'gk-1'));
    expect(again).toEqual(first);
    expect(first).toMatchObject({
      name: pending,
      fingerprint: fingerprint(newKeyValue),
      gatewayKeyId: 'gk-1',
    });
    const listed = await versions(client, pending);
    expect(listed).toHaveLength(1);
    expect(listed[0]?.tags).toEqual({
      [Tag.rotation]: rot,
      [Tag.stage]: 'pending',
      [Tag.fingerprint]: fingerprint(newKeyValue),
      [Tag.gatewayKey]: 'gk-1',
    });
    expect(seen(await store.readPending(rot))).toEqual(first);
    expect(await store.readPending(rotation())).toBeUndefined();
  });

  it('promotes once: the pending value becomes the newest stable version, the old one is tagged previous', async () => {
    const { store, name, pending, oldKey, oldVersion } = await credential();
    const rot = rotation();
    const newKeyValue = newKey('new');
    const staged = await store.stagePending(rot, newKeyValue, 'gk-2');
    const first = seen(await store.promote(rot, proven(staged)));
    const again = seen(await store.promote(rot, proven(staged)));
    expect(again).toEqual(first);
    expect(first.previous).toMatchObject({
      version: oldVersion,
      fingerprint: fingerprint(oldKey),
      enabled: true,
    });
    expect(first.current).toMatchObject({
      name,
      fingerprint: fingerprint(newKeyValue),
      gatewayKeyId: 'gk-2',
    });

    const listed = await versions(client, name);
    expect(listed).toHaveLength(2);
    const byVersion = new Map(listed.map((v) => [v.version, v]));
    expect(byVersion.get(first.current.version)?.tags).toEqual({
      [Tag.rotation]: rot,
      [Tag.stage]: 'current',
      [Tag.fingerprint]: fingerprint(newKeyValue),
      [Tag.replaces]: oldVersion,
      [Tag.promotes]: staged.version,
      [Tag.gatewayKey]: 'gk-2',
    });
    expect(byVersion.get(oldVersion)?.tags).toEqual({
      [Tag.stage]: 'previous',
      [Tag.replacedBy]: rot,
      [Tag.fingerprint]: fingerprint(oldKey),
    });
    // The pending secret is deleted and purged: nothing left to read, nothing left soft-deleted.
    await expect(client.getSecret(pending)).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.getDeletedSecret(pending)).rejects.toMatchObject({ statusCode: 404 });
    expect(await store.readPending(rot)).toBeUndefined();
  });

  it('an app reading the stable path sees the old key, the new key after promote, the old key after rollback', async () => {
    const { store, name, oldKey, oldVersion } = await credential();
    const rot = rotation();
    const newKeyValue = newKey('new');
    expect((await app.getSecret(name)).value).toBe(oldKey);
    const staged = await store.stagePending(rot, newKeyValue);
    expect((await app.getSecret(name)).value).toBe(oldKey);
    const promoted = seen(await store.promote(rot, proven(staged)));
    expect((await app.getSecret(name)).value).toBe(newKeyValue);

    const first = seen(await store.rollback(rot));
    const again = seen(await store.rollback(rot));
    expect(again).toEqual(first);
    expect((await app.getSecret(name)).value).toBe(oldKey);
    expect(first.disabled).toMatchObject({ version: promoted.current.version, enabled: false });
    expect(first.restored).toMatchObject({ fingerprint: fingerprint(oldKey), enabled: true });

    const listed = await versions(client, name);
    expect(listed).toHaveLength(3);
    const copy = listed.find((v) => v.version === first.restored?.version);
    expect(copy?.tags).toEqual({
      [Tag.rotation]: rot,
      [Tag.stage]: 'current',
      [Tag.fingerprint]: fingerprint(oldKey),
      [Tag.rollsBack]: promoted.current.version,
      [Tag.restores]: oldVersion,
    });
    const rolledBack = listed.find((v) => v.version === promoted.current.version);
    expect(rolledBack).toMatchObject({
      enabled: false,
      tags: expect.objectContaining({ [Tag.stage]: 'rolled-back' }),
    });

    const refused = await failure(store.promote(rot, proven(staged)));
    expect(refused).toMatchObject({ type: 'RotationRolledBack', nonRetryable: true });
    expect(await versions(client, name)).toHaveLength(3);
  });

  it('retires the previous version once, and its value can no longer be read', async () => {
    const { store, name, oldVersion } = await credential();
    const rot = rotation();
    const newKeyValue = newKey('new');
    const staged = await store.stagePending(rot, newKeyValue);
    const { previous } = await store.promote(rot, proven(staged));
    const first = seen(await store.retirePrevious(rot));
    const again = seen(await store.retirePrevious(rot));
    expect(again).toEqual(first);
    expect(first).toMatchObject({ version: oldVersion, enabled: false });
    const props = (await versions(client, name)).find((v) => v.version === oldVersion);
    expect(props?.tags).toMatchObject({ [Tag.stage]: 'retired', [Tag.replacedBy]: rot });
    expect((await app.getSecret(name)).value).toBe(newKeyValue);
    const disabled = await failure(store.resolve(previous));
    expect(disabled).toMatchObject({ type: FailureTypes.SecretDisabled, nonRetryable: true });
    expect(await store.retirePrevious(rotation())).toBeUndefined();
  });

  it('discards the pending secret, twice without harm, leaving the stable path alone', async () => {
    const { store, name, pending, oldKey } = await credential();
    const rot = rotation();
    await store.stagePending(rot, newKey('new'));
    await store.discardPending(rot);
    await store.discardPending(rot);
    await expect(client.getSecret(pending)).rejects.toMatchObject({ statusCode: 404 });
    expect(await store.readPending(rot)).toBeUndefined();
    expect((await app.getSecret(name)).value).toBe(oldKey);
  });

  it('stages into a pending name soft-deleted earlier by purging it first', async () => {
    const { store, pending } = await credential();
    await store.stagePending(rotation(), newKey('stale'));
    await (await client.beginDeleteSecret(pending)).pollUntilDone();
    const rot = rotation();
    const fresh = newKey('new');
    const staged = seen(await store.stagePending(rot, fresh));
    expect(staged.fingerprint).toBe(fingerprint(fresh));
    expect(seen(await store.stagePending(rot, fresh))).toEqual(staged);
    const listed = await versions(client, pending);
    expect(listed.map((v) => v.version)).toEqual([staged.version]);
  });

  it('stages into a pending name soft-deleted under purge protection by recovering it first', async () => {
    const paths = keyVaultPaths();
    const { app: vault } = buildKeyVault({
      tls: { key: readFileSync(paths.keyPem), cert: readFileSync(paths.certPem) },
      purgeProtection: true,
    });
    await vault.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = vault.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const protectedUrl = `https://127.0.0.1:${port}`;
      const protectedClient = createSecretClient(protectedUrl, { emulator: true });
      const { store, pending } = await credential(protectedClient, protectedUrl);
      const first = rotation();
      await store.stagePending(first, newKey('first'));
      await store.discardPending(first);
      // Purge is refused, so the discarded pending secret stays soft-deleted.
      await protectedClient.getDeletedSecret(pending);
      const rot = rotation();
      const fresh = newKey('new');
      const staged = seen(await store.stagePending(rot, fresh));
      expect(seen(await store.readPending(rot))).toEqual(staged);
      expect(seen(await store.stagePending(rot, fresh))).toEqual(staged);
      const listed = await versions(protectedClient, pending);
      expect(listed).toHaveLength(2);
      expect(listed.find((v) => v.version === staged.version)?.tags?.[Tag.rotation]).toBe(rot);
    } finally {
      await vault.close();
    }
  });

  it('keeps two credentials rotated at once in one vault apart', async () => {
    const a = await credential();
    const b = await credential();
    const [rotA, rotB] = [rotation(), rotation()];
    const [newA, newB] = [newKey('new-a'), newKey('new-b')];
    const [stagedA, stagedB] = await Promise.all([
      a.store.stagePending(rotA, newA),
      b.store.stagePending(rotB, newB),
    ]);
    await Promise.all([a.store.promote(rotA, proven(stagedA)), b.store.promote(rotB, proven(stagedB))]);
    await a.store.rollback(rotA);
    expect((await app.getSecret(a.name)).value).toBe(a.oldKey);
    expect((await app.getSecret(b.name)).value).toBe(newB);
    const historyB = seen(await b.store.history());
    expect(historyB.every((r) => r.name === b.name || r.name === b.pending)).toBe(true);
    expect(historyB.filter((r) => r.rotationId).every((r) => r.rotationId === rotB)).toBe(true);
    expect(await b.store.rollback(rotA)).toEqual({});
    expect(await versions(client, b.name)).toHaveLength(2);
  });

  it('records every version in history, oldest first, with stages, tags and times but no values', async () => {
    const { store, name, oldVersion } = await credential();
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new'), 'gk-h');
    const { current } = await store.promote(rot, proven(staged));
    const { restored } = await store.rollback(rot);
    const history = seen(await store.history());
    expect(history.map((r) => [r.version, r.stage, r.enabled])).toEqual([
      [oldVersion, 'previous', true],
      [current.version, 'rolled-back', false],
      [restored?.version, 'current', true],
    ]);
    expect(history.every((r) => r.name === name && r.createdAt && r.updatedAt && r.fingerprint)).toBe(true);
    expect(history.every((r) => r.store === url && !('vaultUrl' in r))).toBe(true);
    expect(history[1]).toMatchObject({ rotationId: rot, gatewayKeyId: 'gk-h' });
  });

  it('fails with a clear non-retryable error when the stable secret is missing or disabled', async () => {
    const missing = createKeyVaultSecretStore({
      client,
      vaultUrl: url,
      secretName: `kv-missing-${randomBytes(4).toString('hex')}`,
      pendingSecretName: `kv-missing-pending`,
    });
    const notFound = await failure(missing.readCurrent());
    expect(notFound).toMatchObject({ type: FailureTypes.SecretNotFound, nonRetryable: true });
    expect(notFound.message).toContain(url);
    expect(notFound.message).toContain('kv-missing-');

    const { store, name, oldVersion } = await credential();
    await client.updateSecretProperties(name, oldVersion, { enabled: false });
    const disabled = await failure(store.readCurrent());
    expect(disabled).toMatchObject({ type: FailureTypes.SecretDisabled, nonRetryable: true });
    expect(disabled.message).toContain(url);
    expect(disabled.message).toContain(name);
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new'));
    expect(await failure(store.promote(rot, proven(staged)))).toMatchObject({
      type: FailureTypes.SecretDisabled,
      nonRetryable: true,
    });
  });

  // The SDK's retry policy (createSecretClient: connection failures retried with exponential back-off)
  // rides out the outage inside one call; the write-once guard and the adapter's look-ups make sure a
  // retry never writes a second version.
  it('rides out a Key Vault that is down for a few seconds, without duplicate versions', async () => {
    const dir = mkdtempSync(path.join(process.env.REKEY_TEST_RUN_DIR ?? os.tmpdir(), 'outage-'));
    const stateFile = path.join(dir, 'vault.json');
    const logFile = path.join(dir, 'vault.log');
    const httpsPort = await freePort();
    const vaultUrl = `https://localhost:${httpsPort}`;
    let server = await startReferenceKeyVault({ httpsPort, logFile, stateFile });
    recordServer(server);
    try {
      const outageClient = createSecretClient(vaultUrl, { emulator: true });
      const { store, name } = await credential(outageClient, vaultUrl);
      const rot = rotation();
      const newKeyValue = newKey('new');
      const staged = await store.stagePending(rot, newKeyValue);
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);

      await server.stop();
      const downAt = Date.now();
      const restarted = new Promise<RunningServer>((resolve, reject) => {
        setTimeout(() => {
          startReferenceKeyVault({ httpsPort, logFile, stateFile }).then(resolve, reject);
        }, 3_000);
      });
      const promoted = seen(await store.promote(rot, proven(staged)));
      server = await restarted;
      recordServer(server);
      expect(Date.now() - downAt).toBeGreaterThanOrEqual(3_000);

      const reader = new SecretClient(vaultUrl, appCredential, {
        disableChallengeResourceVerification: true,
      });
      expect((await reader.getSecret(name)).value).toBe(newKeyValue);
      expect(seen(await store.promote(rot, proven(staged)))).toEqual(promoted);
      expect(await versions(outageClient, name)).toHaveLength(2);
      const vaultLog = readFileSync(logFile, 'utf8');
      for (const key of keys) expect(vaultLog).not.toContain(key);
    } finally {
      await server.stop();
    }
  });

  it('does not write a second version when the answer to a write is lost', async () => {
    const paths = keyVaultPaths();
    // A vault whose TLS front end drops the connection after the first Set Secret with a body has been
    // applied: the write happened, the client never hears of it.
    const { app: vault } = buildKeyVault();
    let armed = false;
    let dropped = 0;
    const front = https.createServer(
      { key: readFileSync(paths.keyPem), cert: readFileSync(paths.certPem) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const payload = Buffer.concat(chunks);
          void vault
            .inject({ method: req.method as 'GET', url: req.url ?? '/', headers: req.headers, payload })
            .then((out) => {
              if (armed && req.method === 'PUT' && payload.length > 0 && out.statusCode === 200) {
                armed = false;
                dropped++;
                req.socket.destroy();
                return;
              }
              res.writeHead(out.statusCode, out.headers as Record<string, string>);
              res.end(out.rawPayload);
            });
        });
      },
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const address = front.address();
      const frontUrl = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const frontClient = createSecretClient(frontUrl, { emulator: true });
      const { store, pending } = await credential(frontClient, frontUrl);
      armed = true;
      const rot = rotation();
      const fresh = newKey('new');
      const lost = await failure(store.stagePending(rot, fresh));
      expect(lost).toMatchObject({ type: 'VaultUnavailable', nonRetryable: false });
      expect(lost.message).toContain('outcome is unknown');
      // The activity's next attempt finds the version the lost write made instead of writing another.
      const staged = seen(await store.stagePending(rot, fresh));
      expect(staged.fingerprint).toBe(fingerprint(fresh));
      expect(await versions(frontClient, pending)).toHaveLength(1);
      expect(dropped).toBe(1);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it('promotes exactly the canaried version, not a pending version written after the canary', async () => {
    const { store, name, pending } = await credential();
    const rot = rotation();
    const canaried = newKey('canaried');
    const late = newKey('late');
    const staged = seen(await store.stagePending(rot, canaried));
    // A late second hand-off of the same rotation lands after the canary proved `staged`.
    const lateRef = seen(await store.stagePending(rot, late));
    expect(lateRef.version).not.toBe(staged.version);
    expect((await app.getSecret(pending)).value).toBe(late);

    const promoted = seen(await store.promote(rot, proven(staged)));
    expect(promoted.current.fingerprint).toBe(fingerprint(canaried));
    expect((await app.getSecret(name)).value).toBe(canaried);
    const byVersion = new Map((await versions(client, name)).map((v) => [v.version, v]));
    expect(byVersion.get(promoted.current.version)?.tags?.[Tag.promotes]).toBe(staged.version);
    expect(seen(await store.promote(rot, proven(staged)))).toEqual(promoted);
    expect(await versions(client, name)).toHaveLength(2);
  });

  it('refuses, non-retryably and before writing, a version whose tag or fingerprint is not the canaried one', async () => {
    const { store, name, oldKey } = await credential();
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new'));
    const other = fingerprint(newKey('other'));

    const wrongPrint = await failure(store.promote(rot, { version: staged.version, fingerprint: other }));
    expect(wrongPrint).toMatchObject({ type: FailureTypes.StagedKeyMismatch, nonRetryable: true });
    for (const part of [staged.version, staged.fingerprint, other])
      expect(wrongPrint.message).toContain(part);

    const wrongRotation = await failure(store.promote(rotation(), proven(staged)));
    expect(wrongRotation).toMatchObject({ type: FailureTypes.StagedKeyMismatch, nonRetryable: true });
    expect(wrongRotation.message).toContain(rot);
    expect(await versions(client, name)).toHaveLength(1);
    expect((await app.getSecret(name)).value).toBe(oldKey);

    // Once promoted, asking for another version is refused too instead of answering with the promoted one.
    await store.promote(rot, proven(staged));
    const afterwards = await failure(store.promote(rot, { version: 'f'.repeat(32), fingerprint: other }));
    expect(afterwards).toMatchObject({ type: FailureTypes.StagedKeyMismatch, nonRetryable: true });
    expect(await versions(client, name)).toHaveLength(2);
  });

  it('refuses a pending secret name that is the stable name in any letter case, as Key Vault names are', async () => {
    const name = `kv-Same-${randomBytes(4).toString('hex')}`;
    const key = newKey('same');
    await client.setSecret(name, key);
    expect((await app.getSecret(name.toUpperCase())).value).toBe(key);
    let thrown: unknown;
    try {
      createKeyVaultSecretStore({
        client,
        vaultUrl: url,
        secretName: name,
        pendingSecretName: name.toLowerCase(),
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    expect(thrown).toMatchObject({ type: VaultFailureTypes.SecretNamesCollide, nonRetryable: true });
    expect((thrown as Error).message).toContain(`${name}-pending`);
  });

  it('stops issuing requests as soon as the activity running an operation is cancelled', async () => {
    // A pending name stuck in deletion keeps stagePending in its settle loop (409 ObjectIsBeingDeleted).
    const vault = await ownVault({ operationDelayMs: 120_000 });
    const { store, pending } = await credential(vault.client, vault.vaultUrl, {
      store: { settle: { attempts: 10_000, intervalMs: 50 } },
    });
    await store.stagePending(rotation(), newKey('stale'));
    await vault.client.beginDeleteSecret(pending);

    const env = new MockActivityEnvironment();
    let operation: Promise<unknown> | undefined;
    const run = env.run(() => (operation = store.stagePending(rotation(), newKey('new'))));
    run.catch(() => undefined);
    await sleep(600);
    const before = vault.stats.requests;
    expect(before).toBeGreaterThan(5);
    // What the worker does at the start-to-close timeout.
    env.cancel('TIMED_OUT');
    const stoppedAt = Date.now();
    const stopped = await operation!.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(stopped).toBeInstanceOf(CancelledFailure);
    // The operation's requests go one at a time, so at most one was already on the wire when it stopped:
    // the in-process vault may count that one after the rejection. Any request sent after the stop would
    // not come alone (the settle loop sends two every 50 ms).
    const afterStop = vault.stats.requests;
    await sleep(1_000);
    expect(vault.stats.requests - afterStop).toBeLessThanOrEqual(1);
  });

  it('gives up at its own deadline outside an activity (the API hand-off) and sends nothing after', async () => {
    const vault = await ownVault({ operationDelayMs: 120_000 });
    const { store, pending } = await credential(vault.client, vault.vaultUrl, {
      store: { settle: { attempts: 10_000, intervalMs: 50 }, budget: { deadlineMs: 800 } },
    });
    await store.stagePending(rotation(), newKey('stale'));
    await vault.client.beginDeleteSecret(pending);
    const started = Date.now();
    const late = await failure(store.stagePending(rotation(), newKey('new')));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(late).toMatchObject({ type: VaultFailureTypes.VaultUnavailable, nonRetryable: false });
    expect(late.message).toContain('deadline');
    // The operation's requests go one at a time, so at most one was already on the wire when it stopped:
    // the in-process vault may count that one after the rejection. Any request sent after the stop would
    // not come alone (the settle loop sends two every 50 ms).
    const afterStop = vault.stats.requests;
    await sleep(1_000);
    expect(vault.stats.requests - afterStop).toBeLessThanOrEqual(1);
  });

  it('aborts a request the vault does not answer within the request timeout', async () => {
    const vault = await ownVault();
    const { store } = await credential(vault.client, vault.vaultUrl, {
      store: { budget: { requestTimeoutMs: 300 } },
    });
    vault.drills.latencyMs = 5_000;
    const started = Date.now();
    const slow = await failure(store.readCurrent());
    vault.drills.latencyMs = 0;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(slow).toMatchObject({ type: VaultFailureTypes.VaultUnavailable, nonRetryable: false });
    expect(slow.message).toContain('request timeout');
  });

  it('carries content type, the platform team’s tags and a future expiry forward on promote and rollback', async () => {
    const expiresOn = new Date(Math.floor(Date.now() / 1000 + 30 * 86_400) * 1000);
    const notBefore = new Date(Math.floor(Date.now() / 1000 - 86_400) * 1000);
    const metadata = { contentType: 'application/x-api-key', tags: { owner: 'team-a', 'cost-centre': '42' } };
    const { store, name } = await credential(client, url, { seed: { ...metadata, expiresOn, notBefore } });
    // The expiry is on the version's ref: what expiry-started rotations read (readCurrentExpiry).
    expect((await store.readCurrent()).expiresAt).toBe(expiresOn.toISOString());
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new'));
    const { current } = seen(await store.promote(rot, proven(staged)));
    const { restored } = seen(await store.rollback(rot));
    const byVersion = new Map((await versions(client, name)).map((v) => [v.version, v]));
    for (const version of [current.version, restored?.version ?? '']) {
      const v = byVersion.get(version);
      expect(v).toMatchObject({ contentType: metadata.contentType, expiresOn, notBefore });
      expect(v?.tags).toMatchObject(metadata.tags);
    }

    // An expiry already past is not copied: it would publish a version that is expired on arrival.
    const expired = await credential(client, url, {
      seed: { ...metadata, expiresOn: new Date(Date.now() - 86_400_000) },
    });
    const rot2 = rotation();
    const staged2 = await expired.store.stagePending(rot2, newKey('new'));
    const promoted2 = await expired.store.promote(rot2, proven(staged2));
    const copy = (await versions(client, expired.name)).find((v) => v.version === promoted2.current.version);
    expect(copy?.expiresOn).toBeUndefined();
    expect(copy).toMatchObject({
      contentType: metadata.contentType,
      tags: expect.objectContaining(metadata.tags),
    });
  });

  it('refuses before the flip a promote whose re-tagging would pass the 15-tag limit', async () => {
    // A current version written by an earlier rotation (6 rekey tags) plus 9 of the platform team's: 15.
    const userTags = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`team-tag-${i}`, `v${i}`]));
    const earlier = {
      [Tag.rotation]: 'rot-earlier',
      [Tag.stage]: 'current',
      [Tag.fingerprint]: fingerprint('earlier'),
      [Tag.replaces]: 'a'.repeat(32),
      [Tag.promotes]: 'b'.repeat(32),
      [Tag.gatewayKey]: 'gk-0',
    };
    const { store, name, oldKey, pending } = await credential(client, url, {
      seed: { tags: { ...userTags, ...earlier } },
    });
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new'), 'gk-1');
    const refused = await failure(store.promote(rot, proven(staged)));
    expect(refused).toMatchObject({ type: VaultFailureTypes.VaultTagLimit, nonRetryable: true });
    expect(refused.message).toContain('15');
    expect(refused.message).toContain('nothing was written');
    expect(await versions(client, name)).toHaveLength(1);
    expect((await app.getSecret(name)).value).toBe(oldKey);
    expect(await versions(client, pending)).toHaveLength(1);
  });

  it('keeps a policy-mandated expiry through promote and rollback, and names Azure Policy when it denies', async () => {
    const vault = await ownVault();
    const expiresOn = new Date(Math.floor(Date.now() / 1000 + 30 * 86_400) * 1000);
    const dated = await credential(vault.client, vault.vaultUrl, { seed: { expiresOn } });
    const undated = await credential(vault.client, vault.vaultUrl);
    const [rot, rot2] = [rotation(), rotation()];
    const staged = await dated.store.stagePending(rot, newKey('new'));
    const staged2 = await undated.store.stagePending(rot2, newKey('new'));
    // "Key Vault secrets should have an expiration date", deny effect, assigned after the secrets exist.
    vault.state.policy.requireExpiry = true;

    seen(await dated.store.promote(rot, proven(staged)));
    seen(await dated.store.rollback(rot));
    expect(await versions(vault.client, dated.name)).toHaveLength(3);

    const denied = await failure(undated.store.promote(rot2, proven(staged2)));
    expect(denied).toMatchObject({ type: VaultFailureTypes.VaultPolicyDenied, nonRetryable: true });
    expect(denied.message).toContain('Azure Policy');
    expect(denied.message).not.toMatch(/grant the worker/);
    expect(await versions(vault.client, undated.name)).toHaveLength(1);
  });

  it('tags a rotation whose id is longer than a tag value allows with its sha256, and finds it by that', async () => {
    const { store, name, pending } = await credential();
    const rot = `rot-${randomBytes(4).toString('hex')}-${'x'.repeat(287)}`;
    expect(rot).toHaveLength(300);
    const hashed = `sha256:${createHash('sha256').update(rot).digest('hex')}`;
    const key = newKey('new');
    const staged = seen(await store.stagePending(rot, key, 'gk-long'));
    expect((await versions(client, pending))[0]?.tags?.[Tag.rotation]).toBe(hashed);
    expect(seen(await store.stagePending(rot, key, 'gk-long'))).toEqual(staged);
    expect(seen(await store.readPending(rot))).toEqual(staged);
    expect(await store.readPending(rot.slice(0, 256))).toBeUndefined();

    const promoted = seen(await store.promote(rot, proven(staged)));
    expect(seen(await store.promote(rot, proven(staged)))).toEqual(promoted);
    seen(await store.retirePrevious(rot));
    const byVersion = new Map((await versions(client, name)).map((v) => [v.version, v]));
    expect(byVersion.get(promoted.current.version)?.tags?.[Tag.rotation]).toBe(hashed);
    expect(byVersion.get(promoted.previous.version)?.tags).toMatchObject({
      [Tag.stage]: 'retired',
      [Tag.replacedBy]: hashed,
    });
    expect(await versions(client, name)).toHaveLength(2);
  });

  it('opens stores from the backend session, which logs through the logger of its context', async () => {
    const lines: string[] = [];
    const sessionLogger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const session = azureKeyVaultBackend.connect({
      env: { REKEY_AZURE_KEYVAULT_EMULATOR: 'true' },
      logger: sessionLogger,
    });
    const name = `kv-${randomBytes(5).toString('hex')}`;
    const oldKey = newKey('old');
    await client.setSecret(name, oldKey);
    const store = session.open({
      backend: 'azure-key-vault',
      vaultUrl: url,
      secretName: name,
      pendingSecretName: `${name}-pending`,
    });
    expect(seen(await store.readCurrent())).toMatchObject({ store: url, fingerprint: fingerprint(oldKey) });
    const rot = rotation();
    const staged = seen(await store.stagePending(rot, newKey('new')));
    logLines.push(...lines);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; version?: string })).toContainEqual(
      expect.objectContaining({
        msg: 'staged the replacement key as the pending version',
        version: staged.version,
        store: url,
      }),
    );
  });

  it('reads an admin key beside the credential: the newest enabled version, a clear error when there is none', async () => {
    const session = azureKeyVaultBackend.connect({ env: { REKEY_AZURE_KEYVAULT_EMULATOR: '1' } });
    const location = {
      backend: 'azure-key-vault' as const,
      vaultUrl: url,
      secretName: `kv-${randomBytes(5).toString('hex')}`,
      pendingSecretName: `kv-${randomBytes(5).toString('hex')}-pending`,
    };
    const name = `kv-admin-${randomBytes(5).toString('hex')}`;
    const [first, second] = [newKey('admin-1'), newKey('admin-2')];
    await client.setSecret(name, first);
    await sleep(1_100); // creation times are whole seconds: make "newest" unambiguous
    const newer = await client.setSecret(name, second);
    expect(await session.readValue(location, name)).toBe(second);
    // The platform team disabled a bad newest version: the one before it is what is used.
    await client.updateSecretProperties(name, newer.properties.version ?? '', { enabled: false });
    expect(await session.readValue(location, name)).toBe(first);

    const missing = await failure(
      session.readValue(location, `kv-missing-${randomBytes(4).toString('hex')}`),
    );
    expect(missing).toMatchObject({ type: FailureTypes.SecretNotFound, nonRetryable: true });
    expect(missing.message).toContain(url);
    for (const v of await versions(client, name))
      await client.updateSecretProperties(name, v.version ?? '', { enabled: false });
    const disabled = await failure(session.readValue(location, name));
    expect(disabled).toMatchObject({ type: FailureTypes.SecretDisabled, nonRetryable: true });
    expect(disabled.message).toContain(name);
  });

  it('reuses a pending name whose delete and purge finish asynchronously (409 ObjectIsBeingDeleted meanwhile)', async () => {
    const vault = await ownVault({ operationDelayMs: 1_500 });
    const { store, pending } = await credential(vault.client, vault.vaultUrl, {
      store: { settle: { attempts: 30, intervalMs: 200 } },
    });
    const first = rotation();
    await store.stagePending(first, newKey('first'));
    await store.discardPending(first);
    // The purge was accepted but has not finished: the name is still blocked.
    await expect(vault.client.setSecret(pending, 'probe')).rejects.toMatchObject({
      statusCode: 409,
      details: { error: { innerError: { code: 'ObjectIsBeingDeleted' } } },
    });
    const rot = rotation();
    const fresh = newKey('new');
    const staged = seen(await store.stagePending(rot, fresh));
    expect(staged.fingerprint).toBe(fingerprint(fresh));
    expect((await versions(vault.client, pending)).map((v) => v.version)).toEqual([staged.version]);
  });

  it('reuses a pending name under purge protection when its recovery finishes asynchronously', async () => {
    const vault = await ownVault({ operationDelayMs: 1_000, purgeProtection: true });
    const { store, pending } = await credential(vault.client, vault.vaultUrl, {
      store: { settle: { attempts: 30, intervalMs: 200 } },
    });
    const first = rotation();
    await store.stagePending(first, newKey('first'));
    await store.discardPending(first);
    const rot = rotation();
    const staged = seen(await store.stagePending(rot, newKey('new')));
    expect(seen(await store.readPending(rot))).toEqual(staged);
    expect(await versions(vault.client, pending)).toHaveLength(2);
  });

  it('rides out injected 503s and short Retry-After 429s within one call, without a second version', async () => {
    const vault = await ownVault();
    const { store, pending } = await credential(vault.client, vault.vaultUrl);
    vault.faults.inject({ status: 503, count: 2, methods: ['PUT'] });
    const rot = rotation();
    const staged = seen(await store.stagePending(rot, newKey('new')));
    expect(vault.faults.remaining()).toBe(0);
    expect(await versions(vault.client, pending)).toHaveLength(1);

    vault.faults.inject({ status: 429, count: 2, retryAfterSeconds: 1 });
    const started = Date.now();
    expect(seen(await store.readPending(rot))).toEqual(staged);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });

  it('hands a long Retry-After to the activity retry instead of sleeping through it', async () => {
    const vault = await ownVault();
    const { store } = await credential(vault.client, vault.vaultUrl);
    vault.faults.inject({ status: 429, count: 1, retryAfterSeconds: 30 });
    const started = Date.now();
    const throttled = await failure(store.readCurrent());
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(throttled).toMatchObject({
      type: VaultFailureTypes.VaultUnavailable,
      nonRetryable: false,
      nextRetryDelay: '30s',
    });
    expect(vault.faults.remaining()).toBe(0);
  });

  it('leaves no key value in any result, captured log line or thrown error', () => {
    expect(keys.length).toBeGreaterThan(10);
    expect(logLines.length).toBeGreaterThan(10);
    const everything = [...observed, ...logLines].join('\n');
    for (const key of keys) expect(everything).not.toContain(key);
  });
});
