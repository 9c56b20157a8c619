// `npm run simulator:key-vault`: the reference Key Vault standalone, over HTTPS with the certificate
// scripts/bootstrap.sh generates. Clients trust it through NODE_EXTRA_CA_CERTS=<cert>, never by turning
// TLS verification off, and use a no-op credential with disableChallengeResourceVerification (dev only).
//   REKEY_KEYVAULT_PORT (8443), REKEY_KEYVAULT_HOST (localhost: both loopback addresses),
//   REKEY_KEYVAULT_TLS_CERT / REKEY_KEYVAULT_TLS_KEY (.tools/reference-key-vault/{cert,key}.pem),
//   REKEY_KEYVAULT_STATE_FILE (optional; keeps secrets, VALUES INCLUDED, across restarts, mode 0600),
//   REKEY_KEYVAULT_PURGE_PROTECTION=1, REKEY_KEYVAULT_RETENTION_DAYS (90), REKEY_KEYVAULT_TENANT_ID.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildKeyVault } from './app';

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
  const port = Number(process.env.REKEY_KEYVAULT_PORT ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REKEY_KEYVAULT_PORT: expected a port, got ${process.env.REKEY_KEYVAULT_PORT}`);
  const host = process.env.REKEY_KEYVAULT_HOST ?? 'localhost';
  const dir = path.join(TOOLS, 'reference-key-vault');
  const tls = {
    cert: readPem('REKEY_KEYVAULT_TLS_CERT', path.join(dir, 'cert.pem')),
    key: readPem('REKEY_KEYVAULT_TLS_KEY', path.join(dir, 'key.pem')),
  };
  const stateFile = process.env.REKEY_KEYVAULT_STATE_FILE;
  const { app } = buildKeyVault({
    tls,
    ...(stateFile ? { stateFile: path.resolve(stateFile) } : {}),
    purgeProtection: process.env.REKEY_KEYVAULT_PURGE_PROTECTION === '1',
    retentionDays: Number(process.env.REKEY_KEYVAULT_RETENTION_DAYS ?? 90),
    ...(process.env.REKEY_KEYVAULT_TENANT_ID ? { tenantId: process.env.REKEY_KEYVAULT_TENANT_ID } : {}),
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  await app.listen({ port, host });
  console.log(
    `rekey reference Key Vault on https://localhost:${port} (dev emulator: any bearer token is accepted` +
      `${stateFile ? `; state, secret values included, in ${stateFile}` : '; state in memory only'})`,
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void app.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(`[rekey reference Key Vault] ${(err as Error).message}`);
  process.exit(1);
});
