// `npm run demo:compose-seed`: the one-shot `demo-seed` service of docker-compose.yml's `demo` profile.
// It does for the compose stack what scripts/demo.ts does for the local one: stores the reference
// gateway's admin key in Key Vault (the compose demo's Lowkey Vault container), creates a current key at the gateway and stores it
// as the demo credential's secret, and writes the credential registry the workers and the API read plus
// a rotation policy to post. Idempotent: a second run keeps a current key the gateway still knows.
// Prints fingerprints, never key values.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fingerprint, sha256Hex } from '../../domain/fingerprint';
import { createSecretClient } from '../../activities/secrets';
import { DEMO_CREDENTIAL, policyYaml, registryYaml } from './config';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] || fallback;
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await sleep(2000);
    }
  }
}

async function main(): Promise<void> {
  const dir = env('REKEY_DEMO_DIR', '/var/lib/rekey/demo');
  const vaultUrl = env('AZURE_KEYVAULT_URL');
  const gatewayBase = env('REKEY_DEMO_GATEWAY_URL', 'http://gateway:4000').replace(/\/+$/, '');
  const adminKeysFile = path.join(dir, 'simulator', 'admin-keys.json');
  const c = DEMO_CREDENTIAL;

  // The gateway writes its generated admin keys (mode 0600) into the shared volume when it listens.
  const admin = await retry('the reference gateway', async () => {
    if (!existsSync(adminKeysFile)) throw new Error(`${adminKeysFile} is not there yet`);
    const res = await fetch(`${gatewayBase}/health`);
    if (!res.ok) throw new Error(`health answered ${res.status}`);
    return JSON.parse(readFileSync(adminKeysFile, 'utf8')) as { masterKey: string };
  });
  const vault = createSecretClient(vaultUrl, { emulator: true });
  await retry('Key Vault', () => vault.setSecret(c.adminKeySecret, admin.masterKey));
  console.log(`${c.adminKeySecret}: the gateway's admin key is in ${vaultUrl} (value not shown)`);

  const existing = await vault.getSecret(c.secretName).catch(() => undefined);
  const known =
    existing?.value &&
    (
      await fetch(`${gatewayBase}/key/info?key=${sha256Hex(existing.value)}`, {
        headers: { authorization: `Bearer ${admin.masterKey}` },
      })
    ).ok;
  if (existing?.value && known) {
    console.log(
      `${c.secretName}: keeps the current key ${fingerprint(existing.value)} (the gateway knows it)`,
    );
  } else {
    // LiteLLM refuses a key whose team does not exist; 400 means a re-seed found it already there.
    const team = await fetch(`${gatewayBase}/team/new`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ team_id: c.owner, team_alias: c.owner }),
    });
    if (!team.ok && team.status !== 400) throw new Error(`the gateway refused /team/new: ${team.status}`);
    const res = await fetch(`${gatewayBase}/key/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        models: ['gpt-4o-mini', 'text-embedding-3-small'],
        team_id: c.owner,
        key_alias: `${c.app}-compose`,
      }),
    });
    if (!res.ok) throw new Error(`the gateway refused /key/generate: ${res.status}`);
    const { key } = (await res.json()) as { key: string };
    const stored = await vault.setSecret(c.secretName, key, { tags: { owner: c.owner } });
    console.log(`${c.secretName}@${stored.properties.version}: the current key ${fingerprint(key)}`);
  }

  mkdirSync(dir, { recursive: true });
  // The compose stack runs no Prometheus: the gateway's spend logs, which cannot see per-key 401/403,
  // so with the seed's `auth_error_check: required` its revoke gate opens with insufficient evidence.
  writeFileSync(
    path.join(dir, 'credentials.yaml'),
    registryYaml({ backend: 'azure-key-vault', vault_url: vaultUrl, name: c.secretName }, gatewayBase, {
      adapter: 'litellm-spend-logs',
    }),
  );
  writeFileSync(path.join(dir, 'rotation-policy.yaml'), policyYaml(gatewayBase, 'CHG-COMPOSE-1'));
  console.log(
    `registry: ${path.join(dir, 'credentials.yaml')}; policy to post: ${path.join(dir, 'rotation-policy.yaml')}`,
  );
}

main().catch((err: unknown) => {
  console.error(`[rekey demo-seed] ${(err as Error).message}`);
  process.exit(1);
});
