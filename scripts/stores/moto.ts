// AWS Secrets Manager for local runs: moto's server (PyPI `moto[server]`, installed into .tools/venv by
// scripts/bootstrap.sh step_moto and linked as .tools/bin/moto_server). One process serves every AWS API
// moto knows on one port, in memory: its secrets live as long as the process. Loopback HTTP only; the
// official SDK talks to it through a location's `endpoint`, with any access key (moto does not check
// signatures unless IAM enforcement is switched on, see `enforceIamAfter`).
import { portOpen, readVersion, startProcess, toolPath, waitFor, type RunningServer } from '../local-stack';

/** Options of one moto server. */
export interface MotoOptions {
  port: number;
  logFile: string;
  /**
   * Switches on moto's IAM enforcement after this many unauthenticated requests (INITIAL_NO_AUTH_ACTION_COUNT):
   * the first ones create users and policies, every later request is authorized against them. For tests
   * of AccessDenied; leave unset for a server that accepts any credentials.
   */
  enforceIamAfter?: number;
}

/** A running moto server and the endpoint to give the SDK. */
export interface RunningMoto extends RunningServer {
  url: string;
}

/** The moto version scripts/versions.env pins. */
export function motoVersion(): string {
  return process.env.MOTO_VERSION ?? readVersion('MOTO_VERSION');
}

/** Why moto cannot run here, or undefined when it can. */
export function motoUnavailableReason(): string | undefined {
  try {
    toolPath('moto_server');
    return undefined;
  } catch (err) {
    return `${(err as Error).message} (moto[server]==${motoVersion()} from PyPI: bash scripts/bootstrap.sh moto)`;
  }
}

/** Starts `moto_server` on 127.0.0.1:port in a process group of its own and waits until it answers. */
export async function startMoto(opts: MotoOptions): Promise<RunningMoto> {
  const reason = motoUnavailableReason();
  if (reason) throw new Error(reason);
  if (await portOpen(opts.port))
    throw new Error(`moto: port ${opts.port} is already in use (another stack running? pick another port)`);
  const url = `http://127.0.0.1:${opts.port}`;
  const env: NodeJS.ProcessEnv = {
    // moto's own settings only; it never reaches AWS.
    MOTO_PORT: String(opts.port),
    ...(opts.enforceIamAfter !== undefined
      ? { INITIAL_NO_AUTH_ACTION_COUNT: String(opts.enforceIamAfter) }
      : {}),
  };
  const { child, server } = startProcess(
    'moto',
    toolPath('moto_server'),
    ['-H', '127.0.0.1', '-p', String(opts.port)],
    opts.logFile,
    env,
  );
  try {
    // /moto-api/ is moto's own dashboard: it answers without credentials, and counts as no AWS action
    // (so it does not use up an IAM-enforcing server's unauthenticated requests).
    await waitFor(
      'moto server',
      async () => (await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(2000) })).ok,
      60_000,
      child,
    );
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message} (log: ${opts.logFile})`, { cause: err });
  }
  return { ...server, url };
}
