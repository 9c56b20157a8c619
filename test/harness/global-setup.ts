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
  lowkeyPaths,
  lowkeyUnavailableReason,
  startLowkeyVault,
  startTemporalDevServer,
  stopProcessGroup,
  type RunningServer,
} from '../../scripts/local-stack';
import { HARNESS_STATE_ENV, type HarnessState } from './harness-state';

const base = path.join(ROOT, '.run', 'test');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function reapAbandonedRuns(): Promise<void> {
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
    for (const s of state.servers) await stopProcessGroup(s.pid);
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
      servers: started.map(({ name, pid }) => ({ name, pid })),
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

    const missing = lowkeyUnavailableReason();
    if (missing) {
      process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE = missing;
      console.warn(`\n[rekey] Key Vault integration tests will be skipped: ${missing}`);
    } else {
      const httpsPort = await freePort();
      started.push(
        await startLowkeyVault({
          httpsPort,
          tokenPort: await freePort(),
          logFile: path.join(dir, 'lowkey-vault.log'),
        }),
      );
      record();
      process.env.AZURE_KEYVAULT_URL = `https://localhost:${httpsPort}`;
      // Jest's workers start after global setup, so they inherit this and trust the emulator's certificate.
      process.env.NODE_EXTRA_CA_CERTS = lowkeyPaths().certPem;
    }
  } catch (err) {
    // Jest skips the teardown when setup throws: stop what did start here.
    for (const s of [...started].reverse()) await s.stop();
    throw err;
  }
}
