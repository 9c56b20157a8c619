// The rekey CLI: parse the command line, call the API, map the outcome to an exit code.
// `main` has no side effects at import; cli/bin/rekey calls it with the real process streams.
import { parseCommandLine, shortUsage, usage, UsageError, type CommandName } from './args';
import { ApiError, ApiUnreachable, createApiClient } from './client';
import { Cancelled, runCommand, type CliIo } from './commands';
import { formatProblem } from './format';

export type { CliIo } from './commands';

/** Exit codes, as `rekey --help` documents them. */
export const EXIT = {
  ok: 0,
  /** The API refused (4xx). */
  refused: 1,
  usage: 2,
  /** The API is unreachable, timed out, or failed (5xx). */
  unavailable: 3,
  /** A bug in the CLI itself. */
  internal: 70,
  cancelled: 130,
} as const;

/** Runs one command line; resolves to the process exit code, never throws. */
export async function main(argv: readonly string[], io: CliIo, version: string): Promise<number> {
  let inv: ReturnType<typeof parseCommandLine>;
  try {
    inv = parseCommandLine(argv, io.env);
  } catch (err) {
    return failure(err, io, false);
  }
  if (inv.kind === 'help') {
    io.stdout.write(usage(inv.command));
    return EXIT.ok;
  }
  if (inv.kind === 'version') {
    io.stdout.write(`rekey ${version}\n`);
    return EXIT.ok;
  }

  const token = io.env.REKEY_TOKEN?.trim() || undefined;
  if (token && plainHttpToRemoteHost(inv.api)) {
    io.stderr.write(`rekey: warning: sending REKEY_TOKEN over plain http to ${new URL(inv.api).host}\n`);
  }
  // A key must not cross a network in the clear: the hand-off refuses unless told otherwise.
  if (inv.command.name === 'hand-off' && !inv.command.insecureHttp && plainHttpToRemoteHost(inv.api)) {
    io.stderr.write(
      `rekey: refusing to send a key over plain http to ${new URL(inv.api).host}: use https, or --insecure-http\n`,
    );
    return EXIT.usage;
  }
  const client = createApiClient({
    baseUrl: inv.api,
    token,
    fetch: io.fetch,
    userAgent: `rekey-cli/${version}`,
  });
  try {
    await runCommand(inv.command, {
      client,
      io,
      json: inv.json,
      apiUrl: inv.api,
      printSignal: inv.printSignal,
    });
    return EXIT.ok;
  } catch (err) {
    return failure(err, io, inv.json, inv.command.name);
  }
}

function failure(err: unknown, io: CliIo, json: boolean, command?: CommandName): number {
  if (err instanceof UsageError) {
    io.stderr.write(`rekey: ${err.message}\n${shortUsage(err.command ?? command)}`);
    return EXIT.usage;
  }
  if (err instanceof ApiError) {
    io.stderr.write(
      json
        ? `${JSON.stringify(err.problem)}\n`
        : formatProblem(err.problem, { tokenSet: Boolean(io.env.REKEY_TOKEN?.trim()) }),
    );
    return err.status >= 500 ? EXIT.unavailable : EXIT.refused;
  }
  if (err instanceof ApiUnreachable) {
    io.stderr.write(`rekey: ${err.message}\n`);
    return EXIT.unavailable;
  }
  if (err instanceof Cancelled) {
    io.stderr.write('rekey: cancelled\n');
    return EXIT.cancelled;
  }
  io.stderr.write(
    `rekey: unexpected error (a bug in the CLI): ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  return EXIT.internal;
}

function plainHttpToRemoteHost(api: string): boolean {
  const url = new URL(api);
  const loopback =
    ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
  return url.protocol === 'http:' && !loopback;
}
