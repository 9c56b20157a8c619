// The Key Vault SecretStore against a real Key Vault emulator over verified TLS: the shared one global
// setup starts (Lowkey Vault or the reference Key Vault), plus reference Key Vaults of this file's own
// for purge protection and for an outage. Every key value is random, made at run time, and checked to
// appear in no result, log line or error.
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { SecretClient, type SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { createKeyVaultSecretStore, createSecretClient, KeyVaultTag as Tag } from '../../activities/secrets';
import type { SecretStore } from '../../activities/ports';
import { fingerprint } from '../../activities/fingerprint';
import { FailureTypes } from '../../common/failures';
import {
  applyNodeExtraCaCerts,
  freePort,
  keyVaultPaths,
  startReferenceKeyVault,
  type RunningServer,
} from '../../scripts/local-stack';
import { buildKeyVault } from '../../simulator/key-vault';
import { HARNESS_STATE_ENV, type HarnessState } from '../harness/harness-state';

const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
const describeVault = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`SecretStore tests skipped: ${unavailable}`);

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

function newKey(purpose: string): string {
  const key = `rk-${purpose}-${randomBytes(18).toString('base64url')}`;
  keys.push(key);
  return key;
}

/** Records a result for the final no-key-value check and returns it. */
function seen<T>(result: T): T {
  observed.push(JSON.stringify(result) ?? 'undefined');
  return result;
}

/** The ApplicationFailure a call rejects with, recorded (message, stack, serialized) for the final check. */
async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    observed.push(String(err), (err as Error).stack ?? '', JSON.stringify(err));
    if (!(err instanceof ApplicationFailure)) throw err;
    return err;
  }
  throw new Error('expected a failure');
}

/** Also stops servers this file starts when the jest process dies: global teardown reads this list. */
function recordServer(server: RunningServer): void {
  const file = process.env[HARNESS_STATE_ENV];
  if (!file || !existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
  state.servers.push({ name: server.name, pid: server.pid });
  writeFileSync(file, JSON.stringify(state));
}

async function versions(client: SecretClient, name: string): Promise<SecretProperties[]> {
  const out: SecretProperties[] = [];
  for await (const p of client.listPropertiesOfSecretVersions(name)) out.push(p);
  return out;
}

describeVault('the Azure Key Vault SecretStore', () => {
  let url: string;
  let client: SecretClient;
  let app: SecretClient;

  beforeAll(() => {
    applyNodeExtraCaCerts();
    url = process.env.AZURE_KEYVAULT_URL ?? '';
    if (!url) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
    client = createSecretClient(url, { emulator: true });
    app = new SecretClient(url, appCredential, { disableChallengeResourceVerification: true });
  });

  /** A credential's secrets with a hand-written current key, as the platform team sets them up. */
  async function credential(c = client, vaultUrl = url) {
    const name = `kv-${randomBytes(5).toString('hex')}`;
    const oldKey = newKey('old');
    const seeded = await c.setSecret(name, oldKey);
    const store: SecretStore = createKeyVaultSecretStore({
      client: c,
      vaultUrl,
      secretName: name,
      pendingSecretName: `${name}-pending`,
      logger,
      settle: { attempts: 5, intervalMs: 200 },
    });
    return { name, pending: `${name}-pending`, oldKey, oldVersion: seeded.properties.version ?? '', store };
  }

  const rotation = () => `rot-${randomBytes(4).toString('hex')}`;

  it('reads the current version and its fingerprint, the same on every read', async () => {
    const { store, oldKey, oldVersion, name } = await credential();
    const first = seen(await store.readCurrent());
    expect(seen(await store.readCurrent())).toEqual(first);
    expect(first).toMatchObject({ vaultUrl: url, name, version: oldVersion, enabled: true });
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
    await store.stagePending(rot, newKeyValue, 'gk-2');
    const first = seen(await store.promote(rot));
    const again = seen(await store.promote(rot));
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
    await store.stagePending(rot, newKeyValue);
    expect((await app.getSecret(name)).value).toBe(oldKey);
    const promoted = seen(await store.promote(rot));
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

    const refused = await failure(store.promote(rot));
    expect(refused).toMatchObject({ type: 'RotationRolledBack', nonRetryable: true });
    expect(await versions(client, name)).toHaveLength(3);
  });

  it('retires the previous version once, and its value can no longer be read', async () => {
    const { store, name, oldVersion } = await credential();
    const rot = rotation();
    const newKeyValue = newKey('new');
    await store.stagePending(rot, newKeyValue);
    const { previous } = await store.promote(rot);
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
    await Promise.all([a.store.stagePending(rotA, newA), b.store.stagePending(rotB, newB)]);
    await Promise.all([a.store.promote(rotA), b.store.promote(rotB)]);
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
    await store.stagePending(rot, newKey('new'), 'gk-h');
    const { current } = await store.promote(rot);
    const { restored } = await store.rollback(rot);
    const history = seen(await store.history());
    expect(history.map((r) => [r.version, r.stage, r.enabled])).toEqual([
      [oldVersion, 'previous', true],
      [current.version, 'rolled-back', false],
      [restored?.version, 'current', true],
    ]);
    expect(history.every((r) => r.name === name && r.createdAt && r.updatedAt && r.fingerprint)).toBe(true);
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
    await store.stagePending(rot, newKey('new'));
    expect(await failure(store.promote(rot))).toMatchObject({
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
      await store.stagePending(rot, newKeyValue);
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);

      await server.stop();
      const downAt = Date.now();
      const restarted = new Promise<RunningServer>((resolve, reject) => {
        setTimeout(() => {
          startReferenceKeyVault({ httpsPort, logFile, stateFile }).then(resolve, reject);
        }, 3_000);
      });
      const promoted = seen(await store.promote(rot));
      server = await restarted;
      recordServer(server);
      expect(Date.now() - downAt).toBeGreaterThanOrEqual(3_000);

      const reader = new SecretClient(vaultUrl, appCredential, {
        disableChallengeResourceVerification: true,
      });
      expect((await reader.getSecret(name)).value).toBe(newKeyValue);
      expect(seen(await store.promote(rot))).toEqual(promoted);
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

  it('leaves no key value in any result, captured log line or thrown error', () => {
    expect(keys.length).toBeGreaterThan(10);
    expect(logLines.length).toBeGreaterThan(10);
    const everything = [...observed, ...logLines].join('\n');
    for (const key of keys) expect(everything).not.toContain(key);
  });
});
