// `make up` / `make down` / `make status`: the local stack in the background, state and logs under .run/stack/.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  portOpen,
  startKeyVault,
  startTemporalDevServer,
  stopProcessGroup,
  type RunningServer,
} from './local-stack';

const dir = path.join(process.env.REKEY_RUN_DIR ?? path.join(ROOT, '.run'), 'stack');
const stateFile = path.join(dir, 'state.json');

interface StackState {
  servers: { name: string; pid: number; started?: string }[];
  env: Record<string, string>;
}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`${name}: expected a port number, got ${raw}`);
  return n;
}

function readState(): StackState | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as StackState) : undefined;
}

async function up() {
  if (readState()) {
    console.log(`the stack is already up (${stateFile}); \`make down\` first to restart it`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  const grpcPort = envPort('REKEY_TEMPORAL_PORT', 7233);
  const uiPort = envPort('REKEY_TEMPORAL_UI_PORT', 8233);
  const started: RunningServer[] = [];
  const env: Record<string, string> = {};
  try {
    started.push(
      await startTemporalDevServer({
        grpcPort,
        uiPort,
        dbFile: path.join(dir, 'temporal.sqlite'),
        logFile: path.join(dir, 'temporal.log'),
      }),
    );
    env.TEMPORAL_ADDRESS = `127.0.0.1:${grpcPort}`;
    env.TEMPORAL_UI_URL = `http://127.0.0.1:${uiPort}`;
    // The reference Key Vault, whose state survives `make down`/`up`.
    const vault = await startKeyVault({
      httpsPort: envPort('REKEY_KEYVAULT_PORT', 8443),
      logFile: path.join(dir, 'key-vault.log'),
      stateFile: path.join(dir, 'reference-key-vault.json'),
    });
    started.push(vault);
    env.AZURE_KEYVAULT_URL = vault.url;
    env.REKEY_KEYVAULT_EMULATOR = 'true';
    env.NODE_EXTRA_CA_CERTS = vault.certPem;
  } catch (err) {
    for (const s of started.reverse()) await s.stop();
    throw err;
  }
  const state: StackState = {
    servers: started.map(({ name, pid, started }) => ({ name, pid, started })),
    env,
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  writeFileSync(
    path.join(dir, 'env.sh'),
    Object.entries(env)
      .map(([k, v]) => `export ${k}=${v}\n`)
      .join(''),
  );
  console.log(`stack up: ${started.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}`);
  console.log(
    `Temporal UI: ${env.TEMPORAL_UI_URL}; environment for clients: source ${path.join(dir, 'env.sh')}`,
  );
}

async function down() {
  const state = readState();
  if (!state) {
    console.log('the stack is not up');
    return;
  }
  for (const s of [...state.servers].reverse()) {
    await stopProcessGroup(s.pid, 5000, s.started);
    console.log(`stopped ${s.name} (pid ${s.pid})`);
  }
  rmSync(stateFile);
}

async function status() {
  const state = readState();
  if (!state) {
    console.log('the stack is not up');
    return;
  }
  for (const s of state.servers) {
    let alive = true;
    try {
      process.kill(-s.pid, 0);
    } catch {
      alive = false;
    }
    console.log(`${s.name}: pid ${s.pid} ${alive ? 'running' : 'NOT running'}`);
  }
  const address = state.env.TEMPORAL_ADDRESS ?? '';
  console.log(
    `Temporal ${address} ${(await portOpen(Number(address.split(':')[1]))) ? 'reachable' : 'unreachable'}`,
  );
}

const commands: Record<string, () => Promise<void>> = { up, down, status };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: tsx scripts/stack.ts up|down|status');
  process.exit(2);
}
command().catch((err: unknown) => {
  console.error(`[rekey] ERROR: ${(err as Error).message}`);
  process.exit(1);
});
