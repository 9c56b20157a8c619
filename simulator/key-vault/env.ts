// The reference Key Vault's settings from the environment (main.ts), kept apart so they can be tested.
// The emulator accepts ANY bearer token, so it listens on loopback only unless explicitly told otherwise.
import { isIP } from 'node:net';
import path from 'node:path';
import type { KeyVaultOptions } from './app';
import { parseFaults } from './faults';

/** True for `localhost`, 127.0.0.0/8 and ::1 (bracketed or IPv4-mapped too): reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** Throws unless the host is loopback or remote listening was asked for (REKEY_KEYVAULT_ALLOW_REMOTE=1). */
export function assertLoopbackHost(host: string, allowRemote: boolean): void {
  if (allowRemote || isLoopbackHost(host)) return;
  throw new Error(
    `REKEY_KEYVAULT_HOST=${host} is not a loopback address: the reference Key Vault accepts any bearer token, ` +
      `so anyone who can reach it can read every secret in it. Listen on localhost, or set ` +
      `REKEY_KEYVAULT_ALLOW_REMOTE=1 if exposing it on that interface is really intended`,
  );
}

function nonNegative(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number of 0 or more, got ${raw}`);
  return n;
}

/** Where and how main.ts serves: port, host and the emulator's options (TLS and logging are main's). */
export function keyVaultOptionsFromEnv(env: NodeJS.ProcessEnv): {
  port: number;
  host: string;
  options: Omit<KeyVaultOptions, 'tls' | 'log'>;
} {
  const port = Number(env.REKEY_KEYVAULT_PORT ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`REKEY_KEYVAULT_PORT: expected a port, got ${env.REKEY_KEYVAULT_PORT}`);
  const host = env.REKEY_KEYVAULT_HOST ?? 'localhost';
  assertLoopbackHost(host, env.REKEY_KEYVAULT_ALLOW_REMOTE === '1');
  const stateFile = env.REKEY_KEYVAULT_STATE_FILE;
  const latencyMs = nonNegative(env, 'REKEY_KEYVAULT_LATENCY_MS', 0);
  const operationDelayMs = nonNegative(env, 'REKEY_KEYVAULT_OPERATION_DELAY_MS', 0);
  const faults = parseFaults(env.REKEY_KEYVAULT_FAULTS);
  return {
    port,
    host,
    options: {
      ...(stateFile ? { stateFile: path.resolve(stateFile) } : {}),
      purgeProtection: env.REKEY_KEYVAULT_PURGE_PROTECTION === '1',
      retentionDays: Number(env.REKEY_KEYVAULT_RETENTION_DAYS ?? 90),
      ...(env.REKEY_KEYVAULT_TENANT_ID ? { tenantId: env.REKEY_KEYVAULT_TENANT_ID } : {}),
      ...(latencyMs > 0 ? { latencyMs } : {}),
      ...(operationDelayMs > 0 ? { operationDelayMs } : {}),
      ...(faults.length > 0 ? { faults } : {}),
      ...(env.REKEY_KEYVAULT_REQUIRE_SECRET_EXPIRY === '1' ? { policy: { requireExpiry: true } } : {}),
    },
  };
}
