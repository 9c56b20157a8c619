// Proof on every replica: the reference gateway's multi-replica mode (each replica its own key cache
// and propagation delay), and the canary, negative test and old-key grace check run on each replica.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOpenAiProbe } from '../../activities/gateway';
import { ROOT, freePort } from '../../scripts/local-stack';
import {
  canaryOnReplicas,
  negativeTestOnReplicas,
  oldKeyGraceOnReplicas,
  replicaBaseUrls,
} from '../../activities/gateway/replicas';
import { buildReplica, startReplicas, type RunningReplica } from '../../simulator/replicas';
import { startSimulator, type RunningSimulator } from '../helpers/simulator';

const probe = createOpenAiProbe({ timeoutMs: 2_000 });
const fast = { attempts: 4, intervalMs: 100 };

let gw: RunningSimulator;
const running: RunningReplica[] = [];
const replicasWith = async (...delays: number[]) => {
  const started = await startReplicas(
    gw.sim,
    delays.map((revocationDelayMs) => ({ revocationDelayMs })),
  );
  running.push(...started);
  return { replicated: true, urls: started.map((r) => `${r.base}/v1`) };
};
const statuses = async (urls: string[], key: string) => Promise.all(urls.map((u) => probe.status(u, key)));

beforeAll(async () => {
  gw = await startSimulator();
});
afterAll(async () => {
  for (const r of running) await r.app.close();
  await gw?.close();
});

describe('reference gateway replicas', () => {
  it('share the keys but apply a block, an unblock and a delete after each replica’s own delay', async () => {
    const { urls } = await replicasWith(0, 1_000, 60_000);
    const { key } = await gw.newKey();
    expect(await statuses(urls, key)).toEqual([200, 200, 200]);

    expect((await gw.admin('POST', '/key/block', { key })).status).toBe(200);
    expect(await statuses(urls, key)).toEqual([401, 200, 200]);
    gw.clock.now += 1_500;
    expect(await statuses(urls, key)).toEqual([401, 401, 200]);

    // Unblocking is seen at once: the way back works on every replica.
    expect((await gw.admin('POST', '/key/unblock', { key })).status).toBe(200);
    expect(await statuses(urls, key)).toEqual([200, 200, 200]);

    expect((await gw.admin('POST', '/key/delete', { keys: [key] })).status).toBe(200);
    expect(await statuses(urls, key)).toEqual([401, 200, 200]);
    gw.clock.now += 61_000;
    expect(await statuses(urls, key)).toEqual([401, 401, 401]);
  });

  it('keeps one key longer in one replica’s cache, and counts every replica’s calls in one /metrics', async () => {
    const { urls } = await replicasWith(0, 0);
    const { key, token } = await gw.newKey();
    const chats = await canaryOnReplicas(probe, { replicated: true, urls: [...urls, `${gw.base}/v1`] }, key, [
      'chat-completions',
    ]);
    expect(chats.passed).toBe(true);
    const metrics = await (
      await fetch(`${gw.base}/metrics`, { headers: { authorization: `Bearer ${gw.masterKey}` } })
    ).text();
    const chatOks = metrics
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('litellm_proxy_total_requests_metric_total{') &&
          l.includes(`hashed_api_key="${token}"`) &&
          l.includes('chat/completions') &&
          l.includes('status_code="200"'),
      )
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(chatOks).toBe(3);

    running.at(-1)!.delayKey(key, 60_000);
    await gw.admin('POST', '/key/block', { key });
    expect(await statuses(urls, key)).toEqual([401, 200]);
  });

  it('serve nothing but the OpenAI API: admin calls go to the primary', async () => {
    const replica = buildReplica(gw.sim);
    const res = await replica.app.inject({
      method: 'POST',
      url: '/key/generate',
      headers: { authorization: `Bearer ${gw.masterKey}` },
    });
    expect(res.statusCode).toBe(404);
    await replica.app.close();
  });
});

describe('replica base URLs', () => {
  const base = { gatewayBaseUrl: 'http://gateway.internal:4000/v1' };

  it('are the base URL alone without replicas, the listed URLs, or each address of the DNS name', async () => {
    expect(await replicaBaseUrls(base)).toEqual({ replicated: false, urls: [base.gatewayBaseUrl] });
    const listed = ['http://10.0.0.1:4000/v1', 'http://10.0.0.2:4000/v1'];
    expect(await replicaBaseUrls({ ...base, gatewayReplicas: listed })).toEqual({
      replicated: true,
      urls: listed,
    });
    const resolve = async (name: string) =>
      name === 'litellm-headless.ai.svc' ? ['10.1.0.7', 'fd00::7', '10.1.0.7'] : [];
    expect(
      await replicaBaseUrls({ ...base, gatewayReplicasDns: 'litellm-headless.ai.svc' }, resolve),
    ).toEqual({
      replicated: true,
      urls: ['http://10.1.0.7:4000/v1', 'http://[fd00::7]:4000/v1'],
    });
    await expect(replicaBaseUrls({ ...base, gatewayReplicasDns: 'nothing.svc' }, resolve)).rejects.toThrow(
      /resolves to no address/,
    );
  });

  it('resolve a real name with the system resolver (one address is fine)', async () => {
    const { urls } = await replicaBaseUrls({ ...base, gatewayReplicasDns: 'localhost' });
    expect(urls.length).toBeGreaterThanOrEqual(1);
    for (const u of urls) expect(u).toMatch(/^http:\/\/(127\.0\.0\.1|\[::1\]):4000\/v1$/);
  });

  it('reach replicas listening on one port at several loopback addresses, as a headless service', async () => {
    const first = buildReplica(gw.sim);
    const address = await first.app.listen({ port: 0, host: '127.0.0.2' });
    const second = buildReplica(gw.sim, { revocationDelayMs: 60_000 });
    await second.app.listen({ port: Number(new URL(address).port), host: '127.0.0.3' });
    running.push({ ...first, base: address }, { ...second, base: address });
    const replicas = await replicaBaseUrls(
      { gatewayBaseUrl: `http://gateway.internal:${new URL(address).port}/v1`, gatewayReplicasDns: 'gw' },
      async () => ['127.0.0.2', '127.0.0.3'],
    );
    const { key } = await gw.newKey();
    await gw.admin('POST', '/key/block', { key });
    expect(await statuses(replicas.urls, key)).toEqual([401, 200]);
  });
});

describe('canary on every replica', () => {
  it('passes with each replica’s requests recorded, and fails when one replica refuses the key', async () => {
    const replicas = await replicasWith(0, 60_000, 60_000);
    const { key } = await gw.newKey();
    const ok = await canaryOnReplicas(probe, replicas, key, ['chat-completions', 'embeddings']);
    expect(ok.passed).toBe(true);
    expect(ok.requests.map((r) => [r.replica, r.route, r.status])).toEqual(
      replicas.urls.flatMap((u) => [
        [u, 'chat-completions', 200],
        [u, 'embeddings', 200],
      ]),
    );

    // The first replica's cache already has the block; the others still serve the key.
    await gw.admin('POST', '/key/block', { key });
    const failed = await canaryOnReplicas(probe, replicas, key, ['chat-completions']);
    expect(failed.passed).toBe(false);
    expect(failed.requests.map((r) => `${r.ok ? 'ok' : r.reason}`)).toEqual(['auth', 'ok', 'ok']);
    expect(failed.requests[0]!.replica).toBe(replicas.urls[0]);
  });

  it('keeps the single-gateway report unchanged without replicas', async () => {
    const { key } = await gw.newKey();
    const single = await canaryOnReplicas(
      probe,
      await replicaBaseUrls({ gatewayBaseUrl: `${gw.base}/v1` }),
      key,
      ['chat-completions'],
    );
    expect(single.passed).toBe(true);
    expect(single.requests[0]).not.toHaveProperty('replica');
  });
});

describe('negative test on every replica', () => {
  it('passes only once every replica refuses the old key, waiting out a short propagation delay', async () => {
    const replicas = await replicasWith(0, 250, 250);
    const [{ key: oldKey }, { key: newKey }] = [await gw.newKey(), await gw.newKey()];
    await gw.admin('POST', '/key/block', { key: oldKey });
    const result = await negativeTestOnReplicas(probe, replicas, oldKey, newKey, fast);
    expect(result).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true, oldKeyStatus: 401 });
    expect(result.replicas!.map((r) => [r.replica, r.oldKeyStatus, r.newKeyStatus])).toEqual(
      replicas.urls.map((u) => [u, 401, 200]),
    );
    expect(result.replicas![0]!.attempts).toBe(1);
    expect(result.replicas![1]!.attempts).toBeGreaterThan(1);
  });

  it('fails when one replica still accepts the old key after every retry, naming that replica', async () => {
    const replicas = await replicasWith(0, 0, 60_000);
    const [{ key: oldKey }, { key: newKey }] = [await gw.newKey(), await gw.newKey()];
    await gw.admin('POST', '/key/block', { key: oldKey });
    const result = await negativeTestOnReplicas(probe, replicas, oldKey, newKey, fast);
    expect(result).toMatchObject({ oldKeyRejected: false, newKeyAccepted: true, oldKeyStatus: 200 });
    expect(result.attempts).toBe(fast.attempts);
    expect(result.replicas!.map((r) => r.oldKeyRejected)).toEqual([true, true, false]);
    expect(result.replicas![2]).toMatchObject({ replica: replicas.urls[2], oldKeyStatus: 200 });
    expect(JSON.stringify(result)).not.toContain(oldKey);
  });
});

describe('old-key grace on every replica', () => {
  it('passes while the old key answers 2xx everywhere, and finds a replica that cut it early', async () => {
    const replicas = await replicasWith(60_000, 0);
    const { key } = await gw.newKey();
    const kept = await oldKeyGraceOnReplicas(probe, replicas, key);
    expect(kept.passed).toBe(true);
    expect(kept.replicas).toEqual(replicas.urls.map((replica) => ({ replica, status: 200, ok: true })));

    await gw.admin('POST', '/key/block', { key });
    const cut = await oldKeyGraceOnReplicas(probe, replicas, key);
    expect(cut.passed).toBe(false);
    expect(cut.replicas.map((r) => r.status)).toEqual([200, 401]);
  });

  it('counts a replica that does not answer at all as cut', async () => {
    const { key } = await gw.newKey();
    const gone = await oldKeyGraceOnReplicas(probe, { urls: ['http://127.0.0.1:9/v1'] }, key);
    expect(gone.replicas).toEqual([{ replica: 'http://127.0.0.1:9/v1', status: 0, ok: false }]);
  });
});

describe('the standalone gateway in multi-replica mode', () => {
  it('serves one replica per delay on the ports after the primary’s', async () => {
    const port = await freePort();
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'rekey-sim-replicas-'));
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['simulator/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        REKEY_SIMULATOR_PORT: String(port),
        REKEY_SIMULATOR_REPLICA_DELAYS_MS: '0,60000',
        REKEY_RUN_DIR: runDir,
      },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 150 && !output.includes('replica 2 on'); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain(`replica 2 on http://127.0.0.1:${port + 2}/v1`);
      const { masterKey } = JSON.parse(
        readFileSync(path.join(runDir, 'simulator', 'admin-keys.json'), 'utf8'),
      ) as { masterKey: string };
      const admin = (url: string, body: unknown) =>
        fetch(`http://127.0.0.1:${port}${url}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const { key } = (await (await admin('/key/generate', {})).json()) as { key: string };
      await admin('/key/block', { key });
      const urls = [1, 2].map((i) => `http://127.0.0.1:${port + i}/v1`);
      expect(await statuses(urls, key)).toEqual([401, 200]);
      expect(output).not.toContain(masterKey);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
