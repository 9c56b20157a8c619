// The production entry of the API (`npm run api`): builds real clients from settings, listens, and
// stops gracefully on SIGTERM/SIGINT — no new connections, in-flight requests finish (bounded), then
// the Temporal connection closes. Tests call startServer with port 0 and close() it themselves.
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { createFilesystemEvidenceStore } from '../activities/evidence';
import { createAppReportStore } from '../activities/telemetry/app-reports';
import { createSecretStores } from '../activities/secrets';
import { createStagingTwinActivities } from '../activities/automation/staging-twin';
import { ConfigError, loadRegistry, loadSettings, type Settings } from '../config';
import { webhookAllowlistOf } from '../config/settings';
import { buildApp, type ApiDeps } from './app';
import { exposureDepsFrom, readSecretFile } from './exposures/exposure-config';
import { startScheduleSync } from './schedules/schedule-sync';
import { Authenticator, tokenConfigSchema, type TokenConfig } from './auth';
import { MessageSigner } from './message-signing';
import { OidcVerifier } from './oidc';
import { reportTemporalAtStart, temporalConnection } from './temporal-connection';

/** What a caller (a test, the demo) may replace in the wiring startServer builds from settings. */
export interface ServerOverrides extends Partial<ApiDeps> {
  /** Called after the app is built and before it listens, e.g. to add a route or hook. */
  beforeListen?: (app: FastifyInstance) => void | Promise<void>;
  /** Bound on letting in-flight requests finish at shutdown; default REKEY_API_SHUTDOWN_SECONDS. */
  shutdownTimeoutMs?: number;
}

/** A listening API and the graceful stop its signal handlers call. */
export interface RunningServer {
  app: FastifyInstance;
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops accepting connections, lets in-flight requests finish (bounded), closes Temporal; idempotent. */
  close: () => Promise<void>;
}

/** Reads the API tokens file: a YAML (or JSON) list of {sha256, principal, roles}, at least one. */
export function loadTokens(path: string): TokenConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${path}: cannot read the API tokens file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); set REKEY_API_TOKENS_FILE`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = tokenConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  // An API nobody can call is a misconfiguration, not a secure default.
  if (parsed.data.length === 0) throw new ConfigError(`${path}: no API tokens configured`);
  return parsed.data;
}

/** The static tokens of REKEY_API_TOKENS_FILE, and JWTs from the OpenID provider when one is set. */
export function authenticatorFor(settings: Settings): Authenticator {
  const issuer = settings.REKEY_OIDC_ISSUER;
  if (issuer && !settings.REKEY_OIDC_AUDIENCE) {
    throw new ConfigError('REKEY_OIDC_AUDIENCE: required when REKEY_OIDC_ISSUER is set');
  }
  if (issuer && !settings.REKEY_OIDC_ROLE_MAP) {
    throw new ConfigError('REKEY_OIDC_ROLE_MAP: required when REKEY_OIDC_ISSUER is set');
  }
  const oidc = issuer
    ? new OidcVerifier({
        issuer,
        audience: settings.REKEY_OIDC_AUDIENCE!,
        ...(settings.REKEY_OIDC_JWKS_URI ? { jwksUri: settings.REKEY_OIDC_JWKS_URI } : {}),
        principalClaim: settings.REKEY_OIDC_PRINCIPAL_CLAIM,
        rolesClaim: settings.REKEY_OIDC_ROLES_CLAIM,
        roleMap: settings.REKEY_OIDC_ROLE_MAP!,
        clockSkewSeconds: settings.REKEY_OIDC_CLOCK_SKEW_SECONDS,
        algorithms: settings.REKEY_OIDC_ALGORITHMS,
      })
    : undefined;
  return new Authenticator(loadTokens(settings.REKEY_API_TOKENS_FILE), {
    ...(oidc ? { oidc } : {}),
    maxFailures: settings.REKEY_API_AUTH_MAX_FAILURES,
    windowMs: settings.REKEY_API_AUTH_WINDOW_SECONDS * 1000,
  });
}

/**
 * The message signer of REKEY_MESSAGE_SIGNING_KEY_FILES; unset, an ephemeral key, with a warning: the
 * rotations this process starts then trust a key that dies with it.
 */
export function signerFor(settings: Settings, warn: (message: string) => void): MessageSigner {
  const opts = { allowUnsigned: settings.REKEY_ALLOW_UNSIGNED_SIGNALS };
  const files = (settings.REKEY_MESSAGE_SIGNING_KEY_FILES ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (files.length === 0) {
    warn(
      'REKEY_MESSAGE_SIGNING_KEY_FILES is not set: messages are signed with an ephemeral key, so rotations started now can be approved or rolled back only through this API process; set it in production',
    );
    return MessageSigner.ephemeral(opts);
  }
  try {
    return MessageSigner.fromFiles(files, opts);
  } catch (err) {
    throw new ConfigError(`REKEY_MESSAGE_SIGNING_KEY_FILES: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Builds the API from settings, connects Temporal and listens; returns the app and its graceful stop. */
export async function startServer(
  settings: Settings,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  const { beforeListen, shutdownTimeoutMs, ...deps } = overrides;
  // Lazy, with bounded calls: the API starts while Temporal is down and answers 503 until it is back.
  const connection = deps.temporal
    ? undefined
    : temporalConnection(settings.TEMPORAL_ADDRESS, {
        callTimeoutMs: settings.REKEY_TEMPORAL_CALL_TIMEOUT_SECONDS * 1000,
      });
  try {
    const temporal = deps.temporal ?? new Client({ connection, namespace: settings.TEMPORAL_NAMESPACE });
    const registry = deps.registry ?? loadRegistry(settings.REKEY_CREDENTIALS_FILE);
    const signer =
      deps.signer ??
      signerFor(settings, (message) =>
        pino({ level: settings.REKEY_LOG_LEVEL, base: { service: 'rekey-api' } }).warn(message),
      );
    const twins = createStagingTwinActivities({ registry, temporal: () => temporal });
    const app = buildApp({
      temporal,
      registry,
      stagingTwin: (input) => twins.checkStagingTwin({ input, nowMs: Date.now() }),
      auth: deps.auth ?? authenticatorFor(settings),
      signer,
      trustProxy: settings.REKEY_API_TRUST_PROXY,
      taskQueue: settings.REKEY_TASK_QUEUE,
      temporalUiUrl: settings.TEMPORAL_UI_URL,
      webhookTargets: webhookAllowlistOf(settings),
      secretStoreFor: createSecretStores({
        env: process.env,
        logger: pino({
          level: settings.REKEY_LOG_LEVEL,
          base: { service: 'rekey-api', component: 'secret-store' },
        }),
      }).secretStoreFor,
      evidence: createFilesystemEvidenceStore(settings.REKEY_EVIDENCE_DIR),
      appReports: createAppReportStore(settings.REKEY_APP_REPORTS_DIR),
      exposures: exposureDepsFrom(settings),
      ...(settings.REKEY_EVENT_GRID_SECRET_FILE
        ? {
            expiryEvents: {
              eventGridSecret: readSecretFile(
                'REKEY_EVENT_GRID_SECRET_FILE',
                settings.REKEY_EVENT_GRID_SECRET_FILE,
              ),
            },
          }
        : {}),
      ...(settings.REKEY_SCHEDULE_NOTICE_URL
        ? { scheduleNoticeUrl: settings.REKEY_SCHEDULE_NOTICE_URL }
        : {}),
      logger: { level: settings.REKEY_LOG_LEVEL },
      ...deps,
    });
    await beforeListen?.(app);
    const url = await app.listen({ host: settings.REKEY_API_HOST, port: settings.REKEY_API_PORT });
    if (connection) void reportTemporalAtStart(connection, app.log);
    // The registry's schedule: and expiry: entries as Temporal Schedules (api/schedules/schedule-sync.ts).
    const stopScheduleSync =
      settings.REKEY_SCHEDULE_SYNC && registry.automations
        ? startScheduleSync(
            {
              temporal,
              signer,
              taskQueue: settings.REKEY_TASK_QUEUE,
              noticeUrl: settings.REKEY_SCHEDULE_NOTICE_URL,
            },
            () => registry.automations?.() ?? [],
            app.log,
          )
        : () => undefined;
    const timeoutMs = shutdownTimeoutMs ?? settings.REKEY_API_SHUTDOWN_SECONDS * 1000;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        app.log.info({ timeoutMs }, 'shutting down: refusing new connections, finishing in-flight requests');
        stopScheduleSync();
        // A keep-alive socket whose request was just answered is closed at once, so shutdown ends when
        // the last in-flight request does, not after the keep-alive timeout.
        const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => {
          app.log.warn({ timeoutMs }, 'shutdown timeout: closing connections with requests still running');
          app.server.closeAllConnections();
        }, timeoutMs);
        try {
          await app.close();
        } finally {
          clearInterval(reaper);
          clearTimeout(deadline);
          await connection?.close();
        }
      })());
    return { app, url, close };
  } catch (err) {
    await connection?.close();
    throw err;
  }
}

/** Entry point: `npm run api`. */
export async function main(): Promise<void> {
  const server = await startServer(loadSettings());
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      server.app.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    server.app.log.info({ signal }, 'signal received');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err: { message: (err as Error).message } }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[rekey] ${(err as Error).message}`);
    process.exit(1);
  });
}
