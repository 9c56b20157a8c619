// The reference Key Vault: the Azure Key Vault secrets REST API, faithful enough that the official Azure
// SDKs work against it unchanged (@azure/keyvault-secrets in the tests; Go's azsecrets in
// conformance/azure-go, `make conformance-azure`), for development and CI. Served over HTTPS (the SDKs
// refuse plain HTTP); `app.inject` tests it without TLS.
// A dev emulator: any bearer token is accepted, and the optional state file holds secret values.
// For drills it can behave like the service under stress: latency on every request, deletes, purges and
// recovers that finish asynchronously (state.ts), and injected 429/503 answers (faults.ts).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { challengeAuth, EMULATOR_TENANT_ID } from './challenge-auth';
import { KeyVaultError } from './errors';
import { InjectedFault, KeyVaultFaults, type FaultSpec } from './faults';
import { registerSecretRoutes } from './secrets-routes';
import { KeyVaultState, type KeyVaultStateOptions } from './state';

/** Longest path segment the router passes on (secret names are at most 127 characters, versions 32). */
const MAX_PATH_PARAM = 2048;

export interface KeyVaultOptions extends KeyVaultStateOptions {
  /** PEM key and certificate; without them the app serves plain HTTP (only for `app.inject`). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** The tenant named in the 401 challenge. */
  tenantId?: string;
  /** One line per request (method, path, status); never bodies, so never values. */
  log?: (line: string) => void;
  /** Added to every request before it is handled (the service's round trip plus its own work). */
  latencyMs?: number;
  /** Faults queued from the start; more can be injected through `faults`. */
  faults?: FaultSpec[];
}

export interface ReferenceKeyVault {
  app: FastifyInstance;
  state: KeyVaultState;
  /** The next N authenticated requests answer 429 or 503: `faults.inject({status, count, …})`. */
  faults: KeyVaultFaults;
  /** Requests received so far (counted on arrival, before authentication and faults). */
  stats: { requests: number };
  /** Latency of every request from now on; tests change it after seeding. */
  drills: { latencyMs: number };
}

/** Builds the emulator; `app.listen` serves it, `app.inject` tests it. */
export function buildKeyVault(opts: KeyVaultOptions = {}): ReferenceKeyVault {
  const state = new KeyVaultState(opts);
  const faults = new KeyVaultFaults(opts.faults);
  const stats = { requests: 0 };
  const drills = { latencyMs: opts.latencyMs ?? 0 };
  if (!Number.isFinite(drills.latencyMs) || drills.latencyMs < 0)
    throw new Error(`latencyMs must be 0 or more, got ${drills.latencyMs}`);
  // `https: null` serves plain HTTP; one option keeps a single app type for both. Fastify's router answers
  // 414 to a path parameter over 100 characters, but secret names go up to 127: the limit is raised so that
  // the name rule (400 BadParameter) decides, as in the service.
  const app = Fastify({
    logger: false,
    https: opts.tls ?? null,
    routerOptions: { maxParamLength: MAX_PATH_PARAM },
  });

  app.addHook('onRequest', async () => {
    stats.requests++;
    if (drills.latencyMs > 0) await sleep(drills.latencyMs);
  });
  app.addHook('onRequest', challengeAuth(opts.tenantId ?? EMULATOR_TENANT_ID));
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', randomUUID());
    const fault = faults.take(req.method);
    if (fault) throw fault;
    state.settle();
    state.expire();
    const query = req.query as Record<string, unknown>;
    if (typeof query['api-version'] !== 'string' || query['api-version'] === '')
      throw new KeyVaultError(400, 'BadParameter', 'The api-version query parameter is required.');
  });
  if (opts.log) {
    const log = opts.log;
    app.addHook('onResponse', async (req, reply) => {
      log(`${req.method} ${req.url.split('?')[0]} ${reply.statusCode}`);
    });
  }

  registerSecretRoutes(app, state);

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: { code: 'NotFound', message: `No operation at ${req.method} ${req.url.split('?')[0]}` },
    }),
  );
  // One place maps errors to the service's error body. Parser errors can quote the body (a secret value),
  // so they are answered with a fixed message.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof InjectedFault && err.retryAfterSeconds !== undefined)
      reply.header('retry-after', String(err.retryAfterSeconds));
    if (err instanceof KeyVaultError) return reply.code(err.status).send(err.body());
    if (err.code?.startsWith('FST_ERR_CTP') || err instanceof SyntaxError)
      return reply
        .code(400)
        .send({ error: { code: 'BadParameter', message: 'The request body is not valid JSON.' } });
    if (err.statusCode && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: { code: 'BadParameter', message: 'Bad request.' } });
    return reply.code(500).send({ error: { code: 'InternalServerError', message: 'Internal error.' } });
  });

  return { app, state, faults, stats, drills };
}
