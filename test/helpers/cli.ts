import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
/** The package's `rekey` bin. */
export const BIN = path.join(ROOT, 'cli', 'bin', 'rekey');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin the way a user's shell does (shebang, executable bit), with only the env given here. */
export function runRekey(
  args: string[],
  opts: { api: string; token: string | null; stdin?: string },
): Promise<CliRun> {
  const env: Record<string, string> = {
    // The Node running the tests runs the bin too, so its `#!/usr/bin/env node` finds a supported one.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? tmpdir(),
    REKEY_API_URL: opts.api,
  };
  if (opts.token) env.REKEY_TOKEN = opts.token;
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}
