import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCommand, type CommandRun } from '../../scripts/local-stack';

export const ROOT = path.join(__dirname, '..', '..');
/** The package's `rekey` bin. */
export const BIN = path.join(ROOT, 'cli', 'bin', 'rekey');

export type CliRun = CommandRun;

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
  return runCommand(BIN, args, {
    env,
    cwd: ROOT,
    ...(opts.stdin === undefined ? {} : { stdin: opts.stdin }),
  });
}
