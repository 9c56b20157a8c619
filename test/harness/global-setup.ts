// Starts the real servers integration tests need on free ports, so that two runs, or a `make up` stack,
// never collide. What it starts is recorded for global-teardown.ts, which runs also when tests fail;
// runs whose jest process died without a teardown are reaped at the next start.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  freePort,
  keyVaultPaths,
  startKeyVault,
  startTemporalDevServer,
  stopProcessGroup,
  writeCaBundle,
  type RunningServer,
} from '../../scripts/local-stack';
import { startMoto } from '../../scripts/stores/moto';
import { startOpenBao } from '../../scripts/stores/openbao';
import { HARNESS_STATE_ENV, OPENBAO_ENV, type HarnessState } from './harness-state';
import { ensureWorkflowBundle } from './workflow-bundle';

const base = path.join(ROOT, '.run', 'test');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the servers of runs whose jest process is gone (killed before its teardown), and clears their folders. */
export async function reapAbandonedRuns(): Promise<void> {
  for (const entry of existsSync(base) ? readdirSync(base) : []) {
    const file = path.join(base, entry, 'servers.json');
    if (!existsSync(file)) continue;
    let state: HarnessState;
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as HarnessState;
    } catch {
      // A run killed while writing its state: nothing reliable to stop, just clear it away.
      rmSync(path.join(base, entry), { recursive: true, force: true });
      continue;
    }
    if (alive(state.ownerPid)) continue;
    for (const s of state.servers) await stopProcessGroup(s.pid, 5000, s.started);
    rmSync(state.dir, { recursive: true, force: true });
  }
}

export default async function globalSetup(): Promise<void> {
  mkdirSync(base, { recursive: true });
  await reapAbandonedRuns();
  const dir = mkdtempSync(path.join(base, 'run-'));
  const started: RunningServer[] = [];
  const stateFile = path.join(dir, 'servers.json');
  const record = () => {
    const state: HarnessState = {
      dir,
      ownerPid: process.pid,
      servers: started.map(({ name, pid, started }) => ({ name, pid, started })),
    };
    writeFileSync(stateFile, JSON.stringify(state));
  };
  process.env[HARNESS_STATE_ENV] = stateFile;
  record();

  try {
    const grpcPort = await freePort();
    const uiPort = await freePort();
    started.push(
      await startTemporalDevServer({
        grpcPort,
        uiPort,
        dbFile: path.join(dir, 'temporal.sqlite'),
        logFile: path.join(dir, 'temporal.log'),
      }),
    );
    record();
    process.env.TEMPORAL_ADDRESS = `127.0.0.1:${grpcPort}`;
    process.env.TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;

    // Azure Key Vault: the reference Key Vault (simulator/key-vault).
    try {
      const vault = await startKeyVault({
        httpsPort: await freePort(),
        logFile: path.join(dir, 'key-vault.log'),
        stateFile: path.join(dir, 'reference-key-vault.json'),
      });
      started.push(vault);
      record();
      process.env.REKEY_TEST_KEYVAULT_KIND = vault.kind;
      delete process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
      process.env.AZURE_KEYVAULT_URL = vault.url;
      // Jest's workers start after global setup, so they inherit this and trust the emulators' certificates
      // (a lone test file runs inside this process: scripts/local-stack.ts applyNodeExtraCaCerts). The
      // reference Key Vault's certificate is in too: some tests start one of their own.
      process.env.NODE_EXTRA_CA_CERTS = writeCaBundle(path.join(dir, 'extra-ca-certs.pem'), [
        vault.certPem,
        keyVaultPaths().certPem,
      ]);
    } catch (err) {
      process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE = (err as Error).message;
      console.warn(`\n[rekey] Key Vault integration tests will fail: ${(err as Error).message}`);
    }
    // AWS Secrets Manager: moto's server (in memory, loopback HTTP), reached through a location's endpoint.
    // Its absence fails the AWS tests with this reason, never skips them.
    try {
      const moto = await startMoto({ port: await freePort(), logFile: path.join(dir, 'moto.log') });
      started.push(moto);
      record();
      process.env.REKEY_TEST_MOTO_URL = moto.url;
      delete process.env.REKEY_TEST_MOTO_UNAVAILABLE;
    } catch (err) {
      process.env.REKEY_TEST_MOTO_UNAVAILABLE = (err as Error).message;
      console.warn(`\n[rekey] AWS Secrets Manager tests will fail: ${(err as Error).message}`);
    }
    // moto takes any keys; these replace a developer's own, so no test ever signs with real AWS credentials.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'rekey-test',
      AWS_SECRET_ACCESS_KEY: 'rekey-test',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    // HashiCorp Vault KV v2: OpenBao's dev server (in memory, KV v2 at secret/, a random root token).
    // Its absence fails the Vault tests with this reason, never skips them.
    try {
      const bao = await startOpenBao({ port: await freePort(), logFile: path.join(dir, 'openbao.log') });
      started.push(bao);
      record();
      process.env[OPENBAO_ENV.address] = bao.address;
      process.env[OPENBAO_ENV.token] = bao.rootToken;
      delete process.env[OPENBAO_ENV.unavailable];
    } catch (err) {
      process.env[OPENBAO_ENV.unavailable] = (err as Error).message;
      console.warn(`\n[rekey] HashiCorp Vault (OpenBao) tests will fail: ${(err as Error).message}`);
    }
    // Where tests put files of servers they start themselves (e.g. a reference Key Vault they restart).
    process.env.REKEY_TEST_RUN_DIR = dir;
    // One workflow bundle for the run's workers (./workflow-bundle.ts), removed with the run's folder.
    await ensureWorkflowBundle(dir);
  } catch (err) {
    // Jest skips the teardown when setup throws: stop what did start here.
    for (const s of [...started].reverse()) await s.stop();
    throw err;
  }
}
