// `npm run simulator`: the reference gateway standalone. Keys for its admin APIs come from the
// environment (never defaults in production-like use); the port from REKEY_SIMULATOR_PORT.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSimulator } from './app';

async function main() {
  const port = Number(process.env.REKEY_SIMULATOR_PORT ?? 4000);
  const host = process.env.REKEY_SIMULATOR_HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REKEY_SIMULATOR_PORT: expected a port, got ${process.env.REKEY_SIMULATOR_PORT}`);
  const masterKey = process.env.REKEY_SIMULATOR_MASTER_KEY ?? `sk-master-${randomBytes(12).toString('hex')}`;
  const provisioningKey =
    process.env.REKEY_SIMULATOR_PROVISIONING_KEY ?? `sk-or-prov-${randomBytes(12).toString('hex')}`;
  const { app } = buildSimulator({
    masterKey,
    provisioningKey,
    revocationDelayMs: Number(process.env.REKEY_SIMULATOR_REVOCATION_DELAY_MS ?? 0),
  });
  const address = await app.listen({ port, host });
  // Generated admin keys go to a file only the owner reads, never to the log.
  const dir = path.resolve(process.env.REKEY_RUN_DIR ?? '.run', 'simulator');
  mkdirSync(dir, { recursive: true });
  const keysFile = path.join(dir, 'admin-keys.json');
  writeFileSync(keysFile, JSON.stringify({ masterKey, provisioningKey }), { mode: 0o600 });
  console.log(`admin keys in ${keysFile}`);
  console.log(`rekey reference gateway on ${address} (OpenAI API under /v1)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void app.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(`[rekey simulator] ${(err as Error).message}`);
  process.exit(1);
});
