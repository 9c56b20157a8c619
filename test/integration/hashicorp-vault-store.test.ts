// The HashiCorp Vault KV v2 SecretStore against the real OpenBao dev server global setup starts (KV v2 at
// `secret/`): every step twice (as a retried activity), check-and-set races with an earlier attempt and
// with another writer, custom_metadata kept within KV's limits and the platform team's keys untouched,
// the Vault Agent token sink re-read on a 403, deadlines and cancellation. Races are made by wrapping the
// real client (the write goes to the real server, the hook writes beside it), never by faking Vault.
// Every key value is random, made at run time, and checked to appear in no result, log line or error.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { fingerprint } from '../../domain/fingerprint';
import {
  connectHashicorpVault,
  createKvClient,
  createKvSecretStore,
  hashicorpVaultBackend,
  KvFailureTypes,
  tokenSourceFrom,
  type KvClient,
} from '../../activities/secrets/hashicorp-vault';
import { FailureTypes } from '../../domain/failure-types';
import { secretLocationYaml, type SecretLocationOf } from '../../domain/secrets';
import { storeLabel } from '../../domain/secret-refs';
import { appReadKv, bao, baoOk, openBao } from '../contract/hashicorp-vault';
import { leakWatch } from '../helpers/leak-watch';

type Location = SecretLocationOf<'hashicorp-vault'>;

const { keys, observed, logLines, logger, newKey, seen, failure } = leakWatch('sk-kv');

const rotation = () => `test:kv-${randomBytes(3).toString('hex')}:CHG-${randomBytes(4).toString('hex')}`;

/** A platform team's secret: the key beside another field, and custom metadata of its own. */
async function freshSecret(opts: { maxVersions?: number; extra?: Record<string, string> } = {}) {
  const old = newKey('old');
  const p = `it/${randomBytes(6).toString('hex')}`;
  await baoOk('POST', `secret/data/${p}`, { data: { api_key: old, username: 'svc-payments' } });
  await baoOk('POST', `secret/metadata/${p}`, {
    custom_metadata: { owner: 'team-payments', ...opts.extra },
    ...(opts.maxVersions ? { max_versions: opts.maxVersions } : {}),
  });
  const location: Location = {
    backend: 'hashicorp-vault',
    address: openBao().address,
    mount: 'secret',
    path: p,
    pendingPath: `${p}-pending`,
    field: 'api_key',
  };
  return { old, location };
}

function session(env: NodeJS.ProcessEnv = { VAULT_TOKEN: openBao().token }) {
  return connectHashicorpVault({ env, logger });
}

/** The real client with hooks around its data writes (the write itself still goes to OpenBao). */
function hooked(
  location: Location,
  hooks: { beforeWrite?: (path: string) => Promise<void>; afterWrite?: (path: string) => Promise<void> },
): KvClient {
  const real = createKvClient({
    address: location.address,
    mount: location.mount,
    store: storeLabel(location),
    token: tokenSourceFrom({ VAULT_TOKEN: openBao().token }),
    requestTimeoutMs: 5000,
  });
  return {
    ...real,
    async writeData(op, p, data, cas, operation) {
      await hooks.beforeWrite?.(p);
      const written = await real.writeData(op, p, data, cas, operation);
      await hooks.afterWrite?.(p);
      return written;
    },
  };
}

async function metadataOf(p: string): Promise<{
  current_version: number;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, { deletion_time: string; destroyed: boolean }>;
}> {
  return (await baoOk('GET', `secret/metadata/${p}`)).data as never;
}

const rekeyEntries = (custom: Record<string, string> | null) =>
  Object.keys(custom ?? {})
    .filter((k) => k.startsWith('rekey-v'))
    .sort();

async function dataOf(p: string, version?: number): Promise<Record<string, unknown>> {
  const r = await baoOk('GET', `secret/data/${p}${version ? `?version=${version}` : ''}`);
  return (r.data as { data: Record<string, unknown> }).data;
}

/** Runs a step twice, as a retried activity would: same result, and the second writes no version. */
async function twice<T>(location: Location, step: () => Promise<T>): Promise<T> {
  const first = seen(await step());
  const versions = async () =>
    [
      (await bao('GET', `secret/metadata/${location.path}`)).json,
      (await bao('GET', `secret/metadata/${location.pendingPath}`)).json,
    ].map((j) => JSON.stringify((j.data as { versions?: unknown } | undefined)?.versions ?? null));
  const before = await versions();
  expect(seen(await step())).toEqual(first);
  expect(await versions()).toEqual(before);
  return first;
}

describe('the HashiCorp Vault KV v2 secret store on OpenBao', () => {
  it('parses the registry form with defaults: mount secret, field api_key, pending path beside the path', () => {
    const parsed = secretLocationYaml.parse({
      backend: 'hashicorp-vault',
      address: 'https://vault.example.com:8200/',
      path: 'payments/openai',
      destroy_retired: true,
    });
    expect(parsed).toEqual({
      backend: 'hashicorp-vault',
      address: 'https://vault.example.com:8200',
      mount: 'secret',
      path: 'payments/openai',
      pendingPath: 'payments/openai-pending',
      field: 'api_key',
      destroyRetired: true,
    });
  });

  it('runs stage, promote, retire each twice: apps read the new key, other fields and the platform metadata stay', async () => {
    const { old, location } = await freshSecret();
    const store = session().open(location);
    const rot = rotation();
    const next = newKey('new');
    const staged = await twice(location, () => store.stagePending(rot, next, 'gk-1'));
    expect(staged).toMatchObject({
      name: location.pendingPath,
      version: '1',
      fingerprint: fingerprint(next),
      gatewayKeyId: 'gk-1',
    });
    expect(await appReadKv(location)).toBe(old);
    const { current, previous } = await twice(location, () =>
      store.promote(rot, { version: staged.version, fingerprint: staged.fingerprint }),
    );
    expect(current).toMatchObject({
      version: '2',
      fingerprint: fingerprint(next),
      enabled: true,
      gatewayKeyId: 'gk-1',
    });
    expect(previous).toMatchObject({ version: '1', fingerprint: fingerprint(old), enabled: true });
    expect(await appReadKv(location)).toBe(next);
    // Copy forward: the field apps read changed, every other key of the data map came along.
    expect(Object.keys(await dataOf(location.path)).sort()).toEqual(['api_key', 'username']);
    expect((await dataOf(location.path)).username).toBe('svc-payments');
    // The promoted pending value is destroyed: nobody can read the new key from the pending path.
    expect((await metadataOf(location.pendingPath)).versions['1']?.destroyed).toBe(true);

    const retired = await twice(location, () => store.retirePrevious(rot));
    expect(retired).toMatchObject({ version: '1', enabled: false, fingerprint: fingerprint(old) });
    const meta = await metadataOf(location.path);
    expect(meta.versions['1']?.deletion_time).not.toBe('');
    expect(meta.versions['1']?.destroyed).toBe(false); // soft delete: an operator can still undelete it
    expect(meta.custom_metadata?.owner).toBe('team-payments');
    expect(meta.custom_metadata?.['rekey-v2']).toContain('stage=current');
    expect(meta.custom_metadata?.['rekey-v1']).toContain('stage=retired');
    expect(await appReadKv(location)).toBe(next);

    const history = seen(await store.history());
    expect(
      history.map(
        (r) => `${r.name === location.path ? 'stable' : 'pending'} ${r.version} ${r.stage} ${r.enabled}`,
      ),
    ).toEqual(['stable 1 retired false', 'pending 1 pending false', 'stable 2 current true']);
    expect(history[2]?.tags).toMatchObject({
      owner: 'team-payments',
      'rekey-promotes': '1',
      'rekey-replaces': '1',
    });
  });

  it("reads the current version's expiry from its deletion time (delete_version_after), as expiry checks do", async () => {
    const { location } = await freshSecret();
    const store = session().open(location);
    expect((await store.readCurrent()).expiresAt).toBeUndefined();
    // The platform team makes versions expire after 30 days; the next version written carries it.
    await baoOk('POST', `secret/metadata/${location.path}`, { delete_version_after: '720h' });
    await baoOk('POST', `secret/data/${location.path}`, {
      data: { api_key: newKey('renewed'), username: 'svc-payments' },
    });
    const current = await store.readCurrent();
    expect(current.version).toBe('2');
    const lifetimeMs = Date.parse(current.expiresAt!) - Date.parse(current.createdAt!);
    expect(lifetimeMs).toBe(720 * 3600_000);
  });

  it('rolls back twice: the old value is copied forward first, then the rolled-back version is soft-deleted', async () => {
    const { old, location } = await freshSecret();
    const store = session().open(location);
    const rot = rotation();
    const next = newKey('new');
    const staged = await store.stagePending(rot, next);
    await store.promote(rot, staged);
    const { restored, disabled } = await twice(location, () => store.rollback(rot));
    expect(restored).toMatchObject({ version: '3', fingerprint: fingerprint(old), enabled: true });
    expect(disabled).toMatchObject({ version: '2', fingerprint: fingerprint(next), enabled: false });
    expect(await appReadKv(location)).toBe(old);
    expect((await dataOf(location.path)).username).toBe('svc-payments');
    expect((await metadataOf(location.path)).versions['2']?.deletion_time).not.toBe('');
    // Promote after the rollback is refused: the rotation is over for this path.
    const err = await failure(store.promote(rot, staged));
    expect(err.type).toBe(KvFailureTypes.RotationRolledBack);
  });

  it('discards twice: only this rotation’s pending versions are destroyed', async () => {
    const { location } = await freshSecret();
    const store = session().open(location);
    const [mine, theirs] = [rotation(), rotation()];
    await store.stagePending(mine, newKey('mine'));
    await twice(location, () => store.discardPending(theirs));
    expect(seen(await store.readPending(mine))).toBeDefined();
    await twice(location, () => store.discardPending(mine));
    expect(seen(await store.readPending(mine))).toBeUndefined();
    expect((await metadataOf(location.pendingPath)).versions['1']?.destroyed).toBe(true);
  });

  it('destroys the retired version when the location says destroy_retired', async () => {
    const { location } = await freshSecret();
    const store = session().open({ ...location, destroyRetired: true });
    const rot = rotation();
    await store.promote(rot, await store.stagePending(rot, newKey('new')));
    expect(await twice(location, () => store.retirePrevious(rot))).toMatchObject({
      version: '1',
      enabled: false,
    });
    expect((await metadataOf(location.path)).versions['1']?.destroyed).toBe(true);
  });

  it('refuses a rollback once the previous version is retired, naming how to undelete it', async () => {
    const { location } = await freshSecret();
    const store = session().open(location);
    const rot = rotation();
    await store.promote(rot, await store.stagePending(rot, newKey('new')));
    await store.retirePrevious(rot);
    const err = await failure(store.rollback(rot));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
      type: FailureTypes.SecretDisabled,
      nonRetryable: true,
    });
    expect(err.message).toContain(`bao kv undelete -mount=secret -versions=1 ${location.path}`);
  });

  it('adopts the version an earlier attempt wrote when only its answer was lost (check-and-set refuses the resend)', async () => {
    const { location } = await freshSecret();
    let lose = true;
    const client = hooked(location, {
      afterWrite: async () => {
        if (!lose) return;
        lose = false;
        throw ApplicationFailure.create({
          type: KvFailureTypes.KvUnavailable,
          message: 'answer lost (test)',
        });
      },
    });
    const store = createKvSecretStore({ location, client, logger });
    const rot = rotation();
    const next = newKey('new');
    await failure(store.stagePending(rot, next));
    const staged = seen(await store.stagePending(rot, next));
    expect(staged.version).toBe('1');
    lose = true;
    await failure(store.promote(rot, staged));
    const { current } = seen(await store.promote(rot, staged));
    expect(current.version).toBe('2');
    expect((await metadataOf(location.path)).current_version).toBe(2);
    expect(await appReadKv(location)).toBe(next);
  });

  it('two attempts of one step racing: check-and-set lets one write, the other adopts it', async () => {
    const { location } = await freshSecret();
    const [a, b] = [session().open(location), session().open(location)];
    const rot = rotation();
    const next = newKey('new');
    const [sa, sb] = await Promise.all([a.stagePending(rot, next), b.stagePending(rot, next)]);
    expect(seen(sa)).toEqual(seen(sb));
    expect((await metadataOf(location.pendingPath)).current_version).toBe(1);
    const [pa, pb] = await Promise.all([a.promote(rot, sa), b.promote(rot, sa)]);
    expect(seen(pa).current).toEqual(seen(pb).current);
    expect((await metadataOf(location.path)).current_version).toBe(2);
  });

  it('loses check-and-set to another writer: removes its stale entry, looks again and writes the next version', async () => {
    const { location } = await freshSecret();
    let foreign = true;
    const client = hooked(location, {
      beforeWrite: async (p) => {
        if (!foreign) return;
        foreign = false;
        await baoOk('POST', `secret/data/${p}`, { data: { api_key: newKey('foreign') } });
      },
    });
    const store = createKvSecretStore({ location, client, logger });
    const rot = rotation();
    const next = newKey('new');
    const staged = seen(await store.stagePending(rot, next));
    expect(staged.version).toBe('2');
    const meta = await metadataOf(location.pendingPath);
    expect(rekeyEntries(meta.custom_metadata)).toEqual(['rekey-v2']);
    expect(logLines.some((l) => l.includes('another writer was first'))).toBe(true);
    expect(seen(await store.readPending(rot))).toMatchObject({
      version: '2',
      fingerprint: fingerprint(next),
    });
  });

  it('prunes entries of versions max_versions removed and keeps the platform team’s keys', async () => {
    const { location } = await freshSecret({ maxVersions: 3, extra: { 'cost-centre': 'cc-42' } });
    const store = session().open(location);
    for (let i = 0; i < 3; i++) {
      const rot = rotation();
      await store.promote(rot, await store.stagePending(rot, newKey(`gen${i}`)));
      // The platform team edits its metadata mid-flight; rekey's merge patches never drop it.
      await baoOk(
        'PATCH',
        `secret/metadata/${location.path}`,
        { custom_metadata: { [`note-${i}`]: 'kept' } },
        {
          contentType: 'application/merge-patch+json',
        },
      );
    }
    const meta = await metadataOf(location.path);
    expect(meta.current_version).toBe(4);
    expect(Object.keys(meta.versions).sort()).toEqual(['2', '3', '4']);
    expect(rekeyEntries(meta.custom_metadata)).toEqual(['rekey-v2', 'rekey-v3', 'rekey-v4']);
    expect(meta.custom_metadata).toMatchObject({
      owner: 'team-payments',
      'cost-centre': 'cc-42',
      'note-0': 'kept',
      'note-2': 'kept',
    });
  });

  it('fails before writing anything when custom_metadata would pass 64 keys, and drops old rekey entries first', async () => {
    const crowded = Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`team-key-${i}`, 'x']));
    const { location } = await freshSecret({ extra: crowded }); // 63 of the platform team's keys
    const store = session().open(location);
    const rot = rotation();
    const staged = await store.stagePending(rot, newKey('new')); // the pending path has room
    const err = await failure(store.promote(rot, staged));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
      type: KvFailureTypes.KvMetadataLimit,
      nonRetryable: true,
    });
    expect(err.message).toContain('nothing was written');
    expect((await metadataOf(location.path)).current_version).toBe(1);

    const roomy = Object.fromEntries(Array.from({ length: 59 }, (_, i) => [`team-key-${i}`, 'x']));
    const second = await freshSecret({ extra: roomy }); // 60 keys: room for 4 entries
    const s2 = session().open(second.location);
    for (let i = 0; i < 4; i++) {
      const r = rotation();
      await s2.promote(r, await s2.stagePending(r, newKey(`gen${i}`)));
    }
    const meta = await metadataOf(second.location.path);
    expect(Object.keys(meta.custom_metadata ?? {})).toHaveLength(64);
    // The fifth entry pushed out the oldest one (version 1, retired long ago); the newest four stay.
    expect(rekeyEntries(meta.custom_metadata)).toEqual(['rekey-v2', 'rekey-v3', 'rekey-v4', 'rekey-v5']);
  });

  it('re-reads the Vault Agent token sink once on a 403 and retries with the new token', async () => {
    const { old, location } = await freshSecret();
    await baoOk('POST', 'sys/policies/acl/rekey-it', {
      policy: `path "secret/data/it/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/it/*" { capabilities = ["read", "update", "patch"] }`,
    });
    const token = async () =>
      (
        (await baoOk('POST', 'auth/token/create', { policies: ['rekey-it'], ttl: '10m' })).auth as {
          client_token: string;
        }
      ).client_token;
    const first = await token();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rekey-agent-'));
    const sink = path.join(dir, 'token');
    writeFileSync(sink, `${first}\n`);
    const store = session({ VAULT_TOKEN_FILE: sink }).open(location);
    expect(seen(await store.readCurrent()).fingerprint).toBe(fingerprint(old));
    // The agent re-authenticated: the old token is revoked, the sink holds a new one.
    await baoOk('POST', 'auth/token/revoke', { token: first });
    writeFileSync(sink, await token());
    expect(seen(await store.readCurrent()).fingerprint).toBe(fingerprint(old));
    // Revoked and not replaced: VaultForbidden, naming the address and path, never the token.
    await baoOk('POST', 'auth/token/revoke', { token: readFileSync(sink, 'utf8') });
    const err = await failure(store.readCurrent());
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
      type: FailureTypes.VaultForbidden,
      nonRetryable: true,
    });
    expect(err.message).toContain(storeLabel(location));
    expect(err.message).toContain(location.path);
    expect(() => hashicorpVaultBackend.connect({ env: {} })).toThrow(/VAULT_TOKEN_FILE.*VAULT_TOKEN/);
  });

  it('maps a KV v1 mount (no metadata PATCH) to a non-retryable rejection', async () => {
    await bao('POST', 'sys/mounts/kv1-it', { type: 'kv', options: { version: '1' } });
    const { location } = await freshSecret();
    const store = session().open({ ...location, mount: 'kv1-it' });
    const err = await failure(store.stagePending(rotation(), newKey('new')));
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
      type: KvFailureTypes.KvRequestRejected,
      nonRetryable: true,
    });
    const missing = await failure(store.readCurrent());
    expect(missing.type).toBe(FailureTypes.SecretNotFound);
  });

  it('works in a namespace (X-Vault-Namespace) on a KV v2 mount of its own', async () => {
    const ns = `ns-${randomBytes(3).toString('hex')}`;
    await baoOk('POST', `sys/namespaces/${ns}`, {});
    await baoOk('POST', 'sys/mounts/kv', { type: 'kv', options: { version: '2' } }, { namespace: ns });
    const old = newKey('old');
    await baoOk('POST', 'kv/data/app/key', { data: { token: old } }, { namespace: ns });
    const location: Location = {
      backend: 'hashicorp-vault',
      address: openBao().address,
      namespace: ns,
      mount: 'kv',
      path: 'app/key',
      pendingPath: 'app/key-next',
      field: 'token',
    };
    const store = session().open(location);
    const rot = rotation();
    const next = newKey('new');
    const { current } = await store.promote(rot, await store.stagePending(rot, next));
    expect(current.store).toBe(`${openBao().address}/v1/${ns}/kv`);
    expect(await appReadKv(location)).toBe(next);
    expect((await bao('GET', 'kv/data/app/key')).status).toBe(404); // not in the root namespace
  });

  it('reads another secret of the same mount (an admin key) and refuses names that are not KV paths', async () => {
    const { location } = await freshSecret();
    const admin = newKey('admin');
    await baoOk('POST', `secret/data/${location.path}-admin`, { data: { api_key: admin } });
    const s = session();
    expect((await s.readValue(location, `${location.path}-admin`)) === admin).toBe(true);
    const err = await failure(s.readValue(location, '../sys/raw'));
    expect(err.type).toBe(FailureTypes.SecretNotFound);
  });

  it('refuses a pending path equal to the stable path', async () => {
    const { location } = await freshSecret();
    let err: unknown;
    try {
      session().open({ ...location, pendingPath: location.path });
    } catch (e) {
      err = e;
    }
    expect((err as ApplicationFailure).type).toBe(KvFailureTypes.SecretNamesCollide);
  });

  it('stops at its deadline against a server that accepts and never answers, retryable', async () => {
    const sockets: net.Socket[] = [];
    const hole = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    try {
      const { location } = await freshSecret();
      const address = `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`;
      const store = connectHashicorpVault(
        { env: { VAULT_TOKEN: openBao().token }, logger },
        { requestTimeoutMs: 500, deadlineMs: 3000 },
      ).open({
        ...location,
        address,
      });
      const started = Date.now();
      const err = await failure(store.readCurrent());
      expect(Date.now() - started).toBeLessThan(5000);
      expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({
        type: KvFailureTypes.KvUnavailable,
        nonRetryable: false,
      });
      expect(err.message).toContain(address);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => hole.close(r));
    }
  });

  it('stops when its activity is cancelled, with the activity’s CancelledFailure', async () => {
    const sockets: net.Socket[] = [];
    const hole = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    try {
      const { location } = await freshSecret();
      const address = `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`;
      const store = session().open({ ...location, address });
      const env = new MockActivityEnvironment();
      const run = env.run(() => store.readCurrent());
      setTimeout(() => env.cancel(), 300);
      let err: unknown;
      try {
        await run;
      } catch (e) {
        err = e;
        observed.push(String(e));
      }
      expect(err).toBeInstanceOf(CancelledFailure);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => hole.close(r));
    }
  });

  it('no key value reached a result, a log line or an error', () => {
    expect(keys.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(0);
    const leaks: string[] = [];
    for (const [where, lines] of [
      ['result or error', observed],
      ['log line', logLines],
    ] as const)
      lines.forEach((line, i) =>
        keys.forEach((key, k) => {
          if (line.includes(key)) leaks.push(`${where} #${i} holds key #${k}`);
        }),
      );
    // The root token of the dev server never shows either.
    expect(observed.concat(logLines).some((l) => l.includes(openBao().token))).toBe(false);
    expect(leaks).toEqual([]);
  });
});
