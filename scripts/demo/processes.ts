// The demo's processes: each runs in its own process group (so a stop reaches npm, tsx and node alike)
// with its output in a log file under the demo folder, and is recorded in state.json the moment it
// starts, so that `make demo-down`, a Ctrl-C, or the next `make demo` after a killed one can stop it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processStartTime, stopProcessGroup, type RunningServer } from '../local-stack';

/** What state.json records: who runs the demo, whether it was kept, and every process group it started. */
export interface DemoState {
  ownerPid: number;
  keep: boolean;
  servers: { name: string; pid: number; started?: string }[];
  urls?: Record<string, string>;
}

/** True while a process (or process group, with a negative pid) exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The demo's record of what runs; written after every change so a crash loses nothing. */
export class DemoProcesses {
  private readonly servers: RunningServer[] = [];
  urls: Record<string, string> = {};
  keep = false;

  constructor(private readonly stateFile: string) {}

  /** Records a server started elsewhere (scripts/local-stack.ts starts Temporal and Key Vault). */
  add(server: RunningServer): RunningServer {
    this.servers.push(server);
    this.save();
    return server;
  }

  /** Starts `cmd args` in a new process group with stdout and stderr appended to `logFile`. */
  spawn(name: string, cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): RunningServer {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    // Without a listener a missing binary (ENOENT) would crash the demo instead of failing it.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
    child.unref();
    const pid = child.pid;
    const started = processStartTime(pid);
    return this.add({ name, pid, started, stop: () => stopProcessGroup(pid, 5000, started) });
  }

  /** Whether the named process group still runs. */
  running(name: string): boolean {
    const s = this.servers.find((x) => x.name === name);
    return s !== undefined && alive(-s.pid);
  }

  /** Stops every process group, newest first, and forgets the state file. */
  async stopAll(): Promise<string[]> {
    const stopped: string[] = [];
    for (const s of [...this.servers].reverse()) {
      await s.stop();
      stopped.push(`${s.name} (pid ${s.pid})`);
    }
    this.servers.length = 0;
    rmSync(this.stateFile, { force: true });
    return stopped;
  }

  save(): void {
    const state: DemoState = {
      ownerPid: process.pid,
      keep: this.keep,
      servers: this.servers.map(({ name, pid, started }) => ({ name, pid, started })),
      urls: this.urls,
    };
    writeFileSync(this.stateFile, JSON.stringify(state, null, 2));
  }
}

/** Reads a state file; undefined when there is none or it is unreadable. */
export function readState(stateFile: string): DemoState | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
}

/** Stops the process groups a state file lists and removes it; returns what it stopped. */
export async function stopRecorded(stateFile: string): Promise<string[]> {
  const state = readState(stateFile);
  const stopped: string[] = [];
  for (const s of [...(state?.servers ?? [])].reverse()) {
    if (!alive(-s.pid)) continue;
    await stopProcessGroup(s.pid, 5000, s.started);
    stopped.push(`${s.name} (pid ${s.pid})`);
  }
  rmSync(stateFile, { force: true });
  return stopped;
}

/** Where a demo keeps its files. */
export function demoPaths(dir: string) {
  return {
    dir,
    state: path.join(dir, 'state.json'),
    marker: path.join(dir, '.rekey-demo'),
    transcript: path.join(dir, 'demo.log'),
    config: path.join(dir, 'config'),
    registry: path.join(dir, 'config', 'credentials.yaml'),
    tokens: path.join(dir, 'config', 'api-tokens.yaml'),
    policy: path.join(dir, 'config', 'rotation-policy.yaml'),
    caBundle: path.join(dir, 'config', 'extra-ca-certs.pem'),
    evidence: path.join(dir, 'evidence'),
    adminKeys: path.join(dir, 'simulator', 'admin-keys.json'),
    /** Prometheus's folder: its config, its TSDB (data/) and its log (scripts/local-stack.ts). */
    prometheus: path.join(dir, 'prometheus'),
    prometheusLog: path.join(dir, 'prometheus', 'prometheus.log'),
    log: (name: string) => path.join(dir, `${name}.log`),
  };
}
