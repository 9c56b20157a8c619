// The credential registry: where the platform team says each credential lives and how it is rotated.
// One YAML file (config/credentials.yaml, or the file REKEY_CREDENTIALS_FILE names), validated with
// zod. Where each credential's secret lives is a discriminated union by `backend` (domain/secrets.ts):
// Azure Key Vault, HashiCorp Vault KV v2, AWS Secrets Manager. Admin keys are never inline: the registry
// names the secret, in the same store, that holds them.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CredentialRegistry } from '../domain/ports';
import { SIGNALS, type CredentialRef } from '../domain/activity-io';
import { adminAdapterKindSchema, RELOAD_METHODS } from '../domain/credentials';
import { secretLocationYaml, type SecretLocation } from '../domain/secrets';
import { secretPaths, storeLabel } from '../domain/secret-refs';
import { IDENTIFIER, ROLES } from '../domain/policy';
import { autoRotationPolicy, type CredentialAutomation } from '../domain/automation';

const identifier = z.string().regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only').max(120);

const consumerSchema = z.strictObject({
  app: z.string().min(1).describe('the app, as it sends the OpenAI `user` field'),
  environment: identifier,
  reload: z.enum(RELOAD_METHODS).describe('how the app picks up a new secret version'),
  owner: z.string().min(1).optional(),
  canary: z
    .boolean()
    .optional()
    .describe('reads the pending secret during the canary soak: the real-traffic canary cohort'),
});

const gatewaySchema = z.strictObject({
  base_url: z.url().describe('OpenAI-compatible base URL apps call'),
  admin_adapter: adminAdapterKindSchema,
  admin_base_url: z
    .url()
    .optional()
    .describe('admin API root (LiteLLM proxy root, OpenRouter /api/v1, Portkey and OpenAI /v1)'),
  admin_key_secret: z
    .string()
    .min(1)
    .optional()
    .describe(
      'the secret, in the same store as the credential, holding the admin key (name, KV path or secret id)',
    ),
  portkey_workspace_id: z
    .string()
    .min(1)
    .optional()
    .describe('portkey: the workspace (id or slug) rekey creates its service API keys in'),
  openai_project_id: z
    .string()
    .regex(/^proj_[A-Za-z0-9]+$/, 'an OpenAI project id, e.g. proj_abc123')
    .optional()
    .describe('openai-admin: the project whose service-account keys rekey issues and deletes'),
  status_check: z.enum(['models', 'key']).default('models').describe('`key` where /models needs no key'),
  replicas: z
    .array(z.url())
    .min(1)
    .optional()
    .describe(
      'OpenAI base URL of each replica behind base_url: probes and the negative test run on every one',
    ),
  replicas_dns: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, 'a DNS name')
    .optional()
    .describe('a name whose A/AAAA records are the replicas; each address replaces the host of base_url'),
  canary: z
    .strictObject({
      chat_model: z.string().min(1).default('gpt-4o-mini'),
      embedding_model: z.string().min(1).default('text-embedding-3-small'),
      timeout_seconds: z.number().min(1).max(300).default(30),
      user: z
        .string()
        .min(1)
        .default('rekey-canary')
        .describe(
          "the end-user id on every canary call, so the gateway's routing and cooldowns can be configured around rekey's probes",
        ),
    })
    .default({
      chat_model: 'gpt-4o-mini',
      embedding_model: 'text-embedding-3-small',
      timeout_seconds: 30,
      user: 'rekey-canary',
    }),
});

const unobservable = z
  .array(z.enum(SIGNALS))
  .optional()
  .describe(
    'per-key signals this deployment cannot see (e.g. authErrors where the gateway records 401s without the key hash); checks that need them are inconclusive',
  );

const telemetrySchema = z.discriminatedUnion('adapter', [
  z.strictObject({
    adapter: z.literal('prometheus'),
    url: z.url(),
    queries: z.record(z.string(), z.string()).optional().describe('PromQL template overrides'),
    bearer_token_secret: z
      .string()
      .min(1)
      .optional()
      .describe(
        "the secret, in the same store as the credential, holding a bearer token for Prometheus' HTTP API (name, KV path or secret id); read by the worker, never in history",
      ),
    unobservable,
  }),
  z.strictObject({
    adapter: z.literal('litellm-spend-logs'),
    lag_seconds: z
      .number()
      .min(0)
      .max(600)
      .default(5)
      .describe(
        'how far past a window’s end the spend log must hold a row before the window is judged (rows land in batches); until then the window is inconclusive',
      ),
    unobservable,
  }),
  z.strictObject({ adapter: z.literal('openrouter-usage'), unobservable }),
  // The apps push their own per-key counts (POST /v1/credentials/:environment/:name/usage-reports).
  z.strictObject({ adapter: z.literal('app-reports'), unobservable }),
]);

/** What each telemetry adapter reads, for the registry's messages. */
const TELEMETRY_NEEDS: Record<string, string> = {
  prometheus: 'prometheus needs only url (no admin key)',
  'litellm-spend-logs': "litellm-spend-logs reads the gateway's admin API",
  'openrouter-usage': "openrouter-usage reads the gateway's admin API",
  'app-reports': 'app-reports needs no admin key (the apps report their own counts)',
};

/** Fields one admin adapter needs and the others must not carry (they would be silently ignored). */
function adapterFieldIssues(g: z.output<typeof gatewaySchema>): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const need = (field: 'portkey_workspace_id' | 'openai_project_id', adapter: string, what: string) => {
    if (g.admin_adapter === adapter && !g[field])
      issues.push({ path: ['gateway', field], message: `${adapter} needs ${field}: ${what}` });
    if (g.admin_adapter !== adapter && g[field])
      issues.push({ path: ['gateway', field], message: `only the ${adapter} admin adapter reads ${field}` });
  };
  need('portkey_workspace_id', 'portkey', 'the workspace its service API keys are created in');
  need('openai_project_id', 'openai-admin', 'the project (proj_…) whose service-account keys rekey manages');
  return issues;
}

/**
 * The pre-0.3 Azure-only fields (`vault_url`, `secret_name`, `pending_secret_name` at the top of an entry)
 * are still read: they become `secret: { backend: azure-key-vault, … }`. New registries write `secret:`.
 */
function liftLegacyLocation(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const entry = raw as Record<string, unknown>;
  if (entry.secret !== undefined || entry.vault_url === undefined) return raw;
  const { vault_url, secret_name, pending_secret_name, ...rest } = entry;
  return {
    ...rest,
    secret: {
      backend: 'azure-key-vault',
      vault_url,
      name: secret_name,
      ...(pending_secret_name === undefined ? {} : { pending_name: pending_secret_name }),
    },
  };
}

/** A rotation schedule (issue 16): a Temporal Schedule per credential (api/schedules/schedule-sync.ts). */
export const scheduleSchema = z
  .strictObject({
    every: z
      .string()
      .regex(/^[1-9][0-9]*(m|h|d)$/, 'an interval like 30d, 12h or 90m')
      .optional()
      .describe('start a rotation this often (m, h or d); exactly one of every and cron'),
    cron: z
      .string()
      .min(9)
      .max(200)
      .optional()
      .describe('a 5-field cron expression in UTC, e.g. "0 3 * * 1"; exactly one of every and cron'),
    window: z
      .strictObject({
        start: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'HH:MM in UTC'),
        duration_minutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60),
      })
      .optional()
      .describe('a daily window (UTC) outside which a scheduled rotation does not start'),
    jitter_minutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(0),
    notice_hours: z
      .number()
      .min(0)
      .max(14 * 24)
      .default(0)
      .describe('a notice webhook this many hours before each scheduled start'),
    paused: z.boolean().default(false),
    pause_on_failure: z
      .boolean()
      .default(true)
      .describe('pause the schedule when a scheduled rotation fails'),
    catchup_window_minutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(60)
      .describe('a start missed by at most this much (Temporal down) still runs; older ones are skipped'),
  })
  .refine((s) => (s.every === undefined) !== (s.cron === undefined), {
    message: 'give exactly one of every and cron',
  });
export type ScheduleConfig = z.output<typeof scheduleSchema>;

/** Expiry-driven starts (issue 16): rotate a lead time before the key or secret expires. */
export const expirySchema = z.strictObject({
  lead_days: z.number().min(0.01).max(365).default(14),
  reminder_days: z.array(z.number().min(0).max(365)).max(10).default([7, 3, 1]),
  check_every_hours: z
    .number()
    .min(0.01)
    .max(7 * 24)
    .default(24),
});
export type ExpiryConfig = z.output<typeof expirySchema>;

/**
 * The rotation policy rekey uses when it starts a rotation itself (schedule, expiry, leak alert, fleet):
 * the `rotation:` body of a policy minus what the registry already knows (credential, environment, owner,
 * apps, gateway, change ticket). Checked at load by building a full policy (config/auto-policy.ts).
 */
export const policyDefaultsSchema = z
  .record(z.string(), z.unknown())
  .default({})
  .describe(
    'rotation policy fields for rotations rekey starts itself, e.g. allowed_routes, cutover, approvals',
  );

const twinSchema = z.strictObject({
  name: identifier,
  environment: identifier.default('staging'),
  within_days: z.number().min(0.01).max(365).default(7),
  mode: z
    .enum(['require', 'run'])
    .default('require')
    .describe('require: a recent successful staging rotation must exist; run: rekey runs one first'),
});

export const credentialEntrySchema = z.preprocess(
  liftLegacyLocation,
  z
    .strictObject({
      name: identifier,
      environment: identifier,
      secret: secretLocationYaml.describe(
        'where the secret apps read lives: backend azure-key-vault | hashicorp-vault | aws-secrets-manager',
      ),
      gateway: gatewaySchema,
      telemetry: telemetrySchema,
      consumers: z.array(consumerSchema).min(1),
      approval_roles: z
        .strictObject({
          flip: z.array(z.enum(ROLES)).min(1).optional(),
          revoke: z.array(z.enum(ROLES)).min(1).optional(),
        })
        .optional(),
      owner: z.string().min(1).max(200).optional().describe('the owning team; fleet selector owner='),
      tags: z.array(identifier).max(50).optional().describe('fleet selector tag='),
      readers: z
        .array(z.string().min(1).max(200))
        .max(500)
        .optional()
        .describe('people or groups who can read the secret; fleet selector reader= (offboarding)'),
      paired_with: z
        .array(identifier)
        .max(20)
        .optional()
        .describe('credentials of the same environment that share consumers: never in HOLDING together'),
      staging_twin: twinSchema
        .optional()
        .describe('the staging credential rotated with the same policy first'),
      schedule: scheduleSchema.optional(),
      expiry: expirySchema.optional(),
      rotation_policy: policyDefaultsSchema,
    })
    .superRefine((c, ctx) => {
      if (c.gateway.replicas && c.gateway.replicas_dns) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway', 'replicas_dns'],
          message: 'name the replicas either as a list (replicas) or by DNS (replicas_dns), not both',
        });
      }
      const automated = c.gateway.admin_adapter !== 'manual';
      if (automated && (!c.gateway.admin_base_url || !c.gateway.admin_key_secret)) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway'],
          message: `${c.gateway.admin_adapter} needs admin_base_url and admin_key_secret (the Key Vault secret with the admin key)`,
        });
      }
      for (const issue of adapterFieldIssues(c.gateway)) ctx.addIssue({ code: 'custom', ...issue });
      // Gateway-usage telemetry reads the gateway's admin API, so it needs the admin key even when the
      // keys themselves are rotated by hand; Prometheus and app reports need none.
      const usage = c.telemetry.adapter !== 'prometheus' && c.telemetry.adapter !== 'app-reports';
      if (usage && (!c.gateway.admin_base_url || !c.gateway.admin_key_secret)) {
        ctx.addIssue({
          code: 'custom',
          path: ['telemetry'],
          message: `${TELEMETRY_NEEDS[c.telemetry.adapter]}: set gateway.admin_base_url and gateway.admin_key_secret (or use telemetry ${TELEMETRY_NEEDS.prometheus}, or ${TELEMETRY_NEEDS['app-reports']})`,
        });
      }
      // A pending location equal to the stable one would stage untested keys straight into production
      // (Key Vault names ignore case). AWS keeps the pending value as a labelled version of the same secret.
      const { stable, pending } = secretPaths(c.secret);
      // (The location's own issues, if any, are already reported: a location that did not parse is skipped.)
      if (typeof stable !== 'string' || typeof pending !== 'string') return;
      const same =
        c.secret.backend === 'azure-key-vault'
          ? pending.toLowerCase() === stable.toLowerCase()
          : c.secret.backend === 'hashicorp-vault' && pending === stable;
      if (same) {
        ctx.addIssue({
          code: 'custom',
          path: ['secret', c.secret.backend === 'azure-key-vault' ? 'pending_name' : 'pending_path'],
          message: `must differ from the stable ${c.secret.backend === 'azure-key-vault' ? 'name (Key Vault names ignore case)' : 'path'}`,
        });
      }
    }),
);

export const registryFileSchema = z.strictObject({ credentials: z.array(credentialEntrySchema) });

export type CredentialEntry = z.output<typeof credentialEntrySchema>;

/** A registry file that cannot be used; the message names the file and the field. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

/** The registry entry as the workflow and activities see it (references only). */
export function toCredentialRef(
  c: CredentialEntry,
  pairedWith: string[] = c.paired_with ?? [],
): CredentialRef {
  return {
    name: c.name,
    environment: c.environment,
    secret: c.secret,
    gatewayBaseUrl: c.gateway.base_url,
    adminAdapter: c.gateway.admin_adapter,
    ...(c.gateway.replicas ? { gatewayReplicas: c.gateway.replicas } : {}),
    ...(c.gateway.replicas_dns ? { gatewayReplicasDns: c.gateway.replicas_dns } : {}),
    ...(pairedWith.length > 0 ? { pairedWith } : {}),
    consumers: c.consumers.map(({ app, environment, reload, owner, canary }) => ({
      app,
      environment,
      reload,
      ...(owner ? { owner } : {}),
      ...(canary ? { canary } : {}),
    })),
  };
}

/** What automation (schedules, expiry, leak alerts, fleets) reads of an entry: no secrets, no admin details. */
export function toAutomation(c: CredentialEntry): CredentialAutomation {
  const s = c.schedule;
  return {
    name: c.name,
    environment: c.environment,
    ...(c.owner ? { owner: c.owner } : {}),
    tags: c.tags ?? [],
    readers: c.readers ?? [],
    apps: c.consumers.map((x) => x.app),
    gatewayBaseUrl: c.gateway.base_url,
    pairedWith: c.paired_with ?? [],
    ...(c.staging_twin
      ? {
          stagingTwin: {
            name: c.staging_twin.name,
            environment: c.staging_twin.environment,
            withinDays: c.staging_twin.within_days,
            mode: c.staging_twin.mode,
          },
        }
      : {}),
    ...(s
      ? {
          schedule: {
            ...(s.every ? { every: s.every } : {}),
            ...(s.cron ? { cron: s.cron } : {}),
            ...(s.window
              ? { window: { start: s.window.start, durationMinutes: s.window.duration_minutes } }
              : {}),
            jitterMinutes: s.jitter_minutes,
            noticeHours: s.notice_hours,
            paused: s.paused,
            pauseOnFailure: s.pause_on_failure,
            catchupWindowMinutes: s.catchup_window_minutes,
          },
        }
      : {}),
    ...(c.expiry
      ? {
          expiry: {
            leadDays: c.expiry.lead_days,
            reminderDays: c.expiry.reminder_days,
            checkEveryHours: c.expiry.check_every_hours,
          },
        }
      : {}),
    policyDefaults: c.rotation_policy,
  };
}

/** Parses registry YAML; `source` names it in errors. */
export function parseRegistry(
  text: string,
  source: string,
): CredentialRegistry & { entries: CredentialEntry[] } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RegistryError(`${source}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = registryFileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const inlineKey =
      issue.code === 'unrecognized_keys' &&
      issue.keys.some((k) => /key$/.test(k) && k !== 'admin_key_secret');
    const hint = inlineKey
      ? ' (admin keys live in the secret store: name the secret in admin_key_secret)'
      : '';
    throw new RegistryError(`${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}${hint}`);
  }
  const entries = parsed.data.credentials;
  const seen = new Set<string>();
  // Every secret rekey writes belongs to exactly one credential: one entry's pending secret must not be
  // another's stable secret (or pending secret) in the same vault.
  const secrets = new Map<string, string>();
  for (const c of entries) {
    const id = `${c.environment}/${c.name}`;
    if (seen.has(id))
      throw new RegistryError(`${source}: ${c.name} is registered twice for ${c.environment}`);
    seen.add(id);
    const store = storeKey(c.secret);
    const { stable, pending } = secretPaths(c.secret);
    for (const name of c.secret.backend === 'aws-secrets-manager' ? [stable] : [stable, pending]) {
      const key = `${store}/${c.secret.backend === 'azure-key-vault' ? name.toLowerCase() : name}`;
      const owner = secrets.get(key);
      if (owner) {
        throw new RegistryError(
          `${source}: secret ${name} in ${storeLabel(c.secret)} is used by both ${owner} and ${id}; each credential needs its own stable and pending secrets`,
        );
      }
      secrets.set(key, id);
    }
  }
  entries.forEach((c, i) => {
    const at = `${source}: credentials[${i}] (${c.environment}/${c.name})`;
    try {
      autoRotationPolicy(toAutomation(c), {
        mode: 'scheduled',
        reason: 'registry check',
        ticketId: 'registry-check',
      });
    } catch (err) {
      throw new RegistryError(`${at}: ${(err as Error).message}`);
    }
    for (const other of c.paired_with ?? []) {
      if (other === c.name || !seen.has(`${c.environment}/${other}`))
        throw new RegistryError(
          `${at}: paired_with names ${other}, which is not another credential of ${c.environment}`,
        );
    }
    const twin = c.staging_twin;
    if (twin && (twin.environment === c.environment || !seen.has(`${twin.environment}/${twin.name}`)))
      throw new RegistryError(
        `${at}: staging_twin ${twin.environment}/${twin.name} is not a credential of another environment in the registry`,
      );
  });
  // A pair is one pair whichever side names it: both rotations must know to wait for the other.
  const pairs = new Map<string, Set<string>>();
  for (const c of entries) {
    for (const other of c.paired_with ?? []) {
      for (const [a, b] of [
        [c.name, other],
        [other, c.name],
      ] as const) {
        const key = `${c.environment}/${a}`;
        pairs.set(key, (pairs.get(key) ?? new Set()).add(b));
      }
    }
  }
  const pairedWith = (c: CredentialEntry) => [...(pairs.get(`${c.environment}/${c.name}`) ?? [])].sort();
  return {
    entries,
    lookup: (name, environment) => {
      const entry = entries.find((c) => c.name === name && c.environment === environment);
      return entry ? toCredentialRef(entry, pairedWith(entry)) : undefined;
    },
    names: () => [...new Set(entries.map((c) => c.name))].sort(),
    automations: () => entries.map(toAutomation),
  };
}

/** One store, however its URL is spelled (Key Vault hosts ignore case). */
function storeKey(l: SecretLocation): string {
  return l.backend === 'azure-key-vault'
    ? `${l.backend}:${new URL(l.vaultUrl).host.toLowerCase()}`
    : `${l.backend}:${storeLabel(l)}`;
}

/** Loads the registry file. */
export function loadRegistry(path: string): CredentialRegistry & { entries: CredentialEntry[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RegistryError(
      `${path}: cannot read the credential registry (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return parseRegistry(text, path);
}
