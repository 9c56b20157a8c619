import { z } from 'zod';
import { authSettings } from './auth-settings';
import { parseWebhookTargets, webhookAllowlist, type WebhookAllowlist } from '../domain/webhook-targets';

/** Thrown when an environment variable has a value rekey cannot use; its message is one line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const port = z.coerce.number().int().min(1).max(65535);
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

/** A webhook allowlist setting, checked at load so a bad entry is named before anything starts. */
const webhookHosts = (allowPrivate: boolean) =>
  z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      try {
        parseWebhookTargets(value, allowPrivate);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    });

/** Every setting rekey reads from the environment, with its variable name, default and meaning. */
export const settingsSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233').describe('Temporal frontend gRPC address'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default').describe('Temporal namespace'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233').describe('Temporal Web UI base URL, for links'),
  REKEY_TASK_QUEUE: z
    .string()
    .min(1)
    .default('rekey-rotations')
    .describe('task queue of the rotation worker'),
  REKEY_WEBHOOK_SIGNING_SECRET: z
    .string()
    .min(16)
    .optional()
    .describe('HMAC-SHA256 secret that signs ticket webhook bodies (X-Rekey-Signature)'),
  REKEY_WEBHOOK_ALLOWED_HOSTS: webhookHosts(false).describe(
    'hosts ticket webhooks may go to, comma-separated [http://]host[:port] or *.domain; unset: none',
  ),
  REKEY_WEBHOOK_PRIVATE_HOSTS: webhookHosts(true).describe(
    'webhook hosts, same syntax, that may resolve to private, loopback or link-local addresses',
  ),
  REKEY_API_HOST: z.string().min(1).default('127.0.0.1').describe('address the API listens on'),
  REKEY_API_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8080)
    .describe('port the API listens on; 0 picks a free one'),
  REKEY_API_TOKENS_FILE: z
    .string()
    .min(1)
    .default('config/api-tokens.yaml')
    .describe(
      'API bearer tokens: a YAML list of {sha256, principal, roles}; tokens are never stored in clear',
    ),
  REKEY_API_SHUTDOWN_SECONDS: z.coerce
    .number()
    .min(0)
    .max(300)
    .default(10)
    .describe('how long a stopping API lets in-flight requests finish before closing their connections'),
  REKEY_MESSAGE_SIGNING_KEY_FILES: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Ed25519 private keys (PKCS#8 PEM; `openssl genpkey -algorithm ed25519`) that sign every message the API sends a rotation, comma-separated files, the current key first; unset: an ephemeral key (rotations it starts can be messaged only by this API process)',
    ),
  REKEY_ALLOW_UNSIGNED_SIGNALS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe(
      "true: rotations started now also count unsigned signals (`temporal workflow signal` without --print-signal): Temporal's own authorization is then the boundary",
    ),
  ...authSettings,
  REKEY_TEMPORAL_CALL_TIMEOUT_SECONDS: z.coerce
    .number()
    .min(0.1)
    .max(60)
    .default(1.5)
    .describe(
      "the API's deadline for a Temporal call that waits on the server alone (retries included): past it, 503",
    ),
  REKEY_WORKER_METRICS_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('address both worker metrics endpoints listen on (0.0.0.0 where Prometheus is elsewhere)'),
  REKEY_WORKER_METRICS_PORT: port.default(9464).describe('port of the worker /metrics endpoint'),
  REKEY_TEMPORAL_METRICS_PORT: port
    .default(9465)
    .describe("port of the Temporal SDK's own /metrics (Core's Prometheus exporter) in the worker"),
  // The worker's cache and concurrency (worker.ts workerTuningOf); unset: the Temporal SDK's defaults.
  // bench/fleet.ts measures the worker's memory under a fleet with them.
  REKEY_WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .optional()
    .describe(
      "workflow runs the worker keeps in memory between tasks; unset: the SDK's default (600 per GiB of V8 heap over 200 MiB); an evicted run is replayed at its next task",
    ),
  REKEY_WORKER_REUSE_V8_CONTEXT: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true'))
    .describe(
      "false: a V8 context per cached workflow run (much more memory); unset: the SDK's default, true",
    ),
  REKEY_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
    .number()
    .int()
    .min(2)
    .max(10_000)
    .optional()
    .describe("workflow tasks the worker runs at once; unset: the SDK's default (40)"),
  REKEY_WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe(
      "activities the worker runs at once (gateway admin calls among them); unset: the SDK's default (100)",
    ),
  REKEY_GATEWAY_ADMIN_CALLS_PER_SECOND: z.coerce
    .number()
    .min(0)
    .max(10_000)
    .default(20)
    .describe(
      'gateway admin calls the worker makes per second to one gateway (per origin), across every rotation it runs, with a burst of one second; 0: no limit',
    ),
  REKEY_WORKFLOW_BUNDLE_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      'a workflow bundle written by `tsx worker.ts --write-bundle <file>` from the same sources; unset: the worker bundles workflows/ itself at start, which leaves about 180 MiB more in its RSS',
    ),
  REKEY_CREDENTIALS_FILE: z
    .string()
    .min(1)
    .default('config/credentials.yaml')
    .describe('credential registry'),
  REKEY_EVIDENCE_DIR: z.string().min(1).default('.run/evidence').describe('filesystem evidence store'),
  REKEY_TELEMETRY_CATCH_UP_SECONDS: z.coerce
    .number()
    .min(0)
    .max(40)
    .default(30)
    .describe(
      'how long a hold observation re-reads a window its telemetry has not caught up with (spend-log batches) before answering it inconclusive; at most 40 (the activity has 1 minute)',
    ),
  REKEY_APP_REPORTS_DIR: z
    .string()
    .min(1)
    .default('.run/app-reports')
    .describe('app-reported usage (JSONL per credential per day): the API writes it, the worker reads it'),
  REKEY_EXPOSURES_DIR: z
    .string()
    .min(1)
    .default('.run/exposures')
    .describe('leak-alert records (one JSON file per alert, fingerprints only): the API writes them'),
  REKEY_GITHUB_WEBHOOK_SECRET_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('file holding the GitHub webhook secret (X-Hub-Signature-256 of secret_scanning_alert)'),
  REKEY_GITHUB_SECRET_SCANNING_KEYS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "GitHub's secret-scanning partner public keys, the JSON of api.github.com/meta/public_keys/secret_scanning",
    ),
  REKEY_GITGUARDIAN_SIGNATURE_TOKEN_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('file holding the GitGuardian custom webhook signature token'),
  REKEY_GITGUARDIAN_TOLERANCE_SECONDS: z.coerce
    .number()
    .min(1)
    .max(3600)
    .default(300)
    .describe('how far a GitGuardian Timestamp may be from now, either way, before the alert is refused'),
  REKEY_EVENT_GRID_SECRET_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      'file holding the secret Azure Event Grid sends as the X-Rekey-Event-Grid-Secret delivery property (Key Vault expiry events); absent: that endpoint answers 503',
    ),
  REKEY_SCHEDULE_NOTICE_URL: z
    .url()
    .optional()
    .describe(
      'where schedule notices (notice_hours ahead) and expiry reminders are POSTed; absent: they are only logged',
    ),
  REKEY_SCHEDULE_SYNC: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .describe('whether the API makes Temporal’s schedules match the registry when it starts'),
  REKEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type Settings = z.infer<typeof settingsSchema>;

/** Parses settings from an environment; a bad value throws a ConfigError naming the variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const known = Object.fromEntries(
    Object.keys(settingsSchema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const parsed = settingsSchema.safeParse(known);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? '?');
  const got = env[variable];
  throw new ConfigError(
    `${variable}: ${issue?.message ?? 'invalid'}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`,
  );
}

/** The ticket webhook allowlist the two settings describe (empty when neither is set). */
export function webhookAllowlistOf(
  settings: Pick<Settings, 'REKEY_WEBHOOK_ALLOWED_HOSTS' | 'REKEY_WEBHOOK_PRIVATE_HOSTS'>,
): WebhookAllowlist {
  return webhookAllowlist({
    ...(settings.REKEY_WEBHOOK_ALLOWED_HOSTS ? { allowed: settings.REKEY_WEBHOOK_ALLOWED_HOSTS } : {}),
    ...(settings.REKEY_WEBHOOK_PRIVATE_HOSTS ? { private: settings.REKEY_WEBHOOK_PRIVATE_HOSTS } : {}),
  });
}
