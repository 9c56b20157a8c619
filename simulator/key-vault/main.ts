// `npm run simulator:key-vault`: the reference Key Vault standalone, over HTTPS with the certificate
// scripts/bootstrap.sh generates. Clients trust it through NODE_EXTRA_CA_CERTS=<cert>, never by turning
// TLS verification off, and use a no-op credential with disableChallengeResourceVerification (dev only).
//   REKEY_KEYVAULT_PORT (8443), REKEY_KEYVAULT_HOST (localhost: both loopback addresses; any other
//     address is refused unless REKEY_KEYVAULT_ALLOW_REMOTE=1, since any bearer token is accepted),
//   REKEY_KEYVAULT_TLS_CERT / REKEY_KEYVAULT_TLS_KEY (.tools/reference-key-vault/{cert,key}.pem),
//   REKEY_KEYVAULT_STATE_FILE (optional; keeps secrets, VALUES INCLUDED, across restarts, mode 0600),
//   REKEY_KEYVAULT_PURGE_PROTECTION=1, REKEY_KEYVAULT_RETENTION_DAYS (90), REKEY_KEYVAULT_TENANT_ID,
//   REKEY_KEYVAULT_REQUIRE_SECRET_EXPIRY=1 (Azure Policy "secrets should have an expiration date", deny).
// Realism for drills:
//   REKEY_KEYVAULT_LATENCY_MS (0): added to every request;
//   REKEY_KEYVAULT_OPERATION_DELAY_MS (0): deletes, purges and recovers finish this long after they are
//     accepted (409 ObjectIsBeingDeleted / ObjectIsBeingRecovered to a set meanwhile);
//   REKEY_KEYVAULT_FAULTS: the first requests after start answer 429/503, e.g. `429x3@2,503x1:PUT`
//     (<status>x<count>[@<Retry-After seconds>][:<METHOD>], comma-separated, served in order).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildKeyVault } from './app';
import { keyVaultOptionsFromEnv } from './env';

const ROOT = path.resolve(__dirname, '..', '..');
const TOOLS = process.env.REKEY_TOOLS_DIR ?? path.join(ROOT, '.tools');

function readPem(envName: string, fallback: string): Buffer {
  const file = process.env[envName] ?? fallback;
  if (!existsSync(file))
    throw new Error(
      `${file} is missing (${envName}): run \`bash scripts/bootstrap.sh reference-key-vault-tls\` to generate the reference Key Vault's certificate`,
    );
  return readFileSync(file);
}

async function main() {
  const { port, host, options } = keyVaultOptionsFromEnv(process.env);
  const dir = path.join(TOOLS, 'reference-key-vault');
  const tls = {
    cert: readPem('REKEY_KEYVAULT_TLS_CERT', path.join(dir, 'cert.pem')),
    key: readPem('REKEY_KEYVAULT_TLS_KEY', path.join(dir, 'key.pem')),
  };
  const { app } = buildKeyVault({
    ...options,
    tls,
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  await app.listen({ port, host });
  const drills = [
    options.latencyMs ? `latency ${options.latencyMs} ms` : '',
    options.operationDelayMs ? `deletes/purges/recovers finish after ${options.operationDelayMs} ms` : '',
    options.faults?.length ? `${options.faults.reduce((n, f) => n + f.count, 0)} injected faults queued` : '',
  ].filter(Boolean);
  console.log(
    `rekey reference Key Vault on https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port} ` +
      `(dev emulator: any bearer token is accepted` +
      `${options.stateFile ? `; state, secret values included, in ${options.stateFile}` : '; state in memory only'}` +
      `${drills.length ? `; ${drills.join(', ')}` : ''})`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void app.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(`[rekey reference Key Vault] ${(err as Error).message}`);
  process.exit(1);
});
