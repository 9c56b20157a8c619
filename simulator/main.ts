// `npm run simulator`: the reference gateway standalone. Keys for its admin APIs come from the
// environment (never defaults in production-like use); the port from REKEY_SIMULATOR_PORT.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSimulator } from './app';
import { buildReplica } from './replicas';
import { liteLlmFactsFromEnv } from './litellm-facts';
import { LITELLM_BATCH_WRITE_MS } from './spend-log';

async function main() {
  const port = Number(process.env.REKEY_SIMULATOR_PORT ?? 4000);
  const host = process.env.REKEY_SIMULATOR_HOST ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REKEY_SIMULATOR_PORT: expected a port, got ${process.env.REKEY_SIMULATOR_PORT}`);
  const masterKey = process.env.REKEY_SIMULATOR_MASTER_KEY ?? `sk-master-${randomBytes(12).toString('hex')}`;
  const provisioningKey =
    process.env.REKEY_SIMULATOR_PROVISIONING_KEY ?? `sk-or-prov-${randomBytes(12).toString('hex')}`;
  const portkeyAdminKey =
    process.env.REKEY_SIMULATOR_PORTKEY_ADMIN_KEY ?? `pk-admin-${randomBytes(12).toString('hex')}`;
  const openAiAdminKey =
    process.env.REKEY_SIMULATOR_OPENAI_ADMIN_KEY ?? `sk-admin-${randomBytes(12).toString('hex')}`;
  const openAiProjectId = process.env.REKEY_SIMULATOR_OPENAI_PROJECT ?? 'proj_rekeysim';
  const sim = buildSimulator({
    masterKey,
    provisioningKey,
    portkeyAdminKey,
    openAiAdmin: { adminKey: openAiAdminKey, projectId: openAiProjectId },
    revocationDelayMs: Number(process.env.REKEY_SIMULATOR_REVOCATION_DELAY_MS ?? 0),
    litellm: liteLlmFactsFromEnv(process.env),
    // Spend-log rows land in batches as on a LiteLLM proxy (`proxy_batch_write_at`, 10 s by default).
    spendLog: {
      batchMs: Number(process.env.REKEY_SIMULATOR_SPEND_LOG_BATCH_MS ?? LITELLM_BATCH_WRITE_MS),
    },
  });
  const { app } = sim;
  const address = await app.listen({ port, host });
  // Generated admin keys go to a file only the owner reads, never to the log.
  const dir = path.resolve(process.env.REKEY_RUN_DIR ?? '.run', 'simulator');
  mkdirSync(dir, { recursive: true });
  const keysFile = path.join(dir, 'admin-keys.json');
  writeFileSync(
    keysFile,
    JSON.stringify({ masterKey, provisioningKey, portkeyAdminKey, openAiAdminKey, openAiProjectId }),
    { mode: 0o600 },
  );
  console.log(`admin keys in ${keysFile}`);
  console.log(`rekey reference gateway on ${address} (OpenAI API under /v1)`);
  // Multi-replica mode: REKEY_SIMULATOR_REPLICA_DELAYS_MS=0,1000,3000 serves one replica per delay on
  // the ports after the primary's, each with its own key cache (block/delete applied after its delay).
  const delays = (process.env.REKEY_SIMULATOR_REPLICA_DELAYS_MS ?? '').split(',').filter((d) => d.trim());
  for (const [i, delay] of delays.entries()) {
    const revocationDelayMs = Number(delay);
    if (!Number.isFinite(revocationDelayMs) || revocationDelayMs < 0)
      throw new Error(`REKEY_SIMULATOR_REPLICA_DELAYS_MS: expected milliseconds, got ${delay}`);
    const replica = buildReplica(sim, { revocationDelayMs });
    const at = await replica.app.listen({ port: port + 1 + i, host });
    console.log(`replica ${i + 1} on ${at}/v1 (revocation reaches it after ${revocationDelayMs} ms)`);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void app.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(`[rekey simulator] ${(err as Error).message}`);
  process.exit(1);
});
