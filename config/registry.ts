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
  admin_base_url: z.url().optional().describe('admin API root (LiteLLM proxy root, OpenRouter /api/v1)'),
  admin_key_secret: z
    .string()
    .min(1)
    .optional()
    .describe(
      'the secret, in the same store as the credential, holding the admin key (name, KV path or secret id)',
    ),
  status_check: z.enum(['models', 'key']).default('models').describe('`key` where /models needs no key'),
  canary: z
    .strictObject({
      chat_model: z.string().min(1).default('gpt-4o-mini'),
      embedding_model: z.string().min(1).default('text-embedding-3-small'),
      timeout_seconds: z.number().min(1).max(300).default(30),
    })
    .default({ chat_model: 'gpt-4o-mini', embedding_model: 'text-embedding-3-small', timeout_seconds: 30 }),
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
    unobservable,
  }),
  z.strictObject({ adapter: z.literal('litellm-spend-logs'), unobservable }),
  z.strictObject({ adapter: z.literal('openrouter-usage'), unobservable }),
]);

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
    })
    .superRefine((c, ctx) => {
      const automated = c.gateway.admin_adapter !== 'manual';
      if (automated && (!c.gateway.admin_base_url || !c.gateway.admin_key_secret)) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway'],
          message: `${c.gateway.admin_adapter} needs admin_base_url and admin_key_secret (the Key Vault secret with the admin key)`,
        });
      }
      // Gateway-usage telemetry reads the gateway's admin API, so it needs the admin key even when the
      // keys themselves are rotated by hand.
      const usage = c.telemetry.adapter !== 'prometheus';
      if (usage && (!c.gateway.admin_base_url || !c.gateway.admin_key_secret)) {
        ctx.addIssue({
          code: 'custom',
          path: ['telemetry'],
          message: `${c.telemetry.adapter} reads the gateway's admin API: set gateway.admin_base_url and gateway.admin_key_secret`,
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
export function toCredentialRef(c: CredentialEntry): CredentialRef {
  return {
    name: c.name,
    environment: c.environment,
    secret: c.secret,
    gatewayBaseUrl: c.gateway.base_url,
    adminAdapter: c.gateway.admin_adapter,
    consumers: c.consumers.map(({ app, environment, reload, owner, canary }) => ({
      app,
      environment,
      reload,
      ...(owner ? { owner } : {}),
      ...(canary ? { canary } : {}),
    })),
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
  return {
    entries,
    lookup: (name, environment) => {
      const entry = entries.find((c) => c.name === name && c.environment === environment);
      return entry ? toCredentialRef(entry) : undefined;
    },
    names: () => [...new Set(entries.map((c) => c.name))].sort(),
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
