// The credential registry: where the platform team says each credential lives and how it is rotated.
// One YAML file (config/credentials.yaml, or the file REKEY_CREDENTIALS_FILE names), validated with
// zod. Admin keys are never inline: the registry names the Key Vault secret that holds them.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CredentialRegistry } from '../activities/ports';
import { SIGNALS, type CredentialRef } from '../activities/types';
import { IDENTIFIER, ROLES } from '../common/policy';

const identifier = z.string().regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only').max(120);

const consumerSchema = z.strictObject({
  app: z.string().min(1).describe('the app, as it sends the OpenAI `user` field'),
  environment: identifier,
  reload: z.enum(['dynamic', 'on-deploy', 'restart']).describe('how the app picks up a new secret version'),
  owner: z.string().min(1).optional(),
  canary: z
    .boolean()
    .optional()
    .describe('reads the pending secret during the canary soak: the real-traffic canary cohort'),
});

const gatewaySchema = z.strictObject({
  base_url: z.url().describe('OpenAI-compatible base URL apps call'),
  admin_adapter: z.enum(['manual', 'litellm', 'openrouter']),
  admin_base_url: z.url().optional().describe('admin API root (LiteLLM proxy root, OpenRouter /api/v1)'),
  admin_key_secret: z.string().min(1).optional().describe('Key Vault secret holding the admin key'),
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

export const credentialEntrySchema = z
  .strictObject({
    name: identifier,
    environment: identifier,
    vault_url: z.url(),
    secret_name: z.string().regex(/^[0-9A-Za-z-]{1,127}$/, 'a Key Vault secret name (letters, digits, "-")'),
    pending_secret_name: z
      .string()
      .regex(/^[0-9A-Za-z-]{1,127}$/)
      .optional(),
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
    // Key Vault names are case-insensitive: a pending name equal to the stable one would stage untested
    // keys straight into production.
    if (c.pending_secret_name && c.pending_secret_name.toLowerCase() === c.secret_name.toLowerCase()) {
      ctx.addIssue({
        code: 'custom',
        path: ['pending_secret_name'],
        message: 'must differ from secret_name (Key Vault names ignore case)',
      });
    }
  });

export const registryFileSchema = z.strictObject({ credentials: z.array(credentialEntrySchema) });

export type CredentialEntry = z.infer<typeof credentialEntrySchema>;

/** A registry file that cannot be used; the message names the file and the field. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

/** The registry entry as the workflow and activities see it (references only). */
export function toCredentialRef(c: CredentialEntry): CredentialRef {
  return {
    name: c.name,
    environment: c.environment,
    vaultUrl: c.vault_url,
    secretName: c.secret_name,
    pendingSecretName: c.pending_secret_name ?? `${c.secret_name}-pending`,
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
    const hint = inlineKey ? ' (admin keys live in Key Vault: name the secret in admin_key_secret)' : '';
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
    const ref = toCredentialRef(c);
    const vault = new URL(c.vault_url).host.toLowerCase();
    for (const name of [ref.secretName, ref.pendingSecretName]) {
      const key = `${vault}/${name.toLowerCase()}`;
      const owner = secrets.get(key);
      if (owner) {
        throw new RegistryError(
          `${source}: secret ${name} in ${vault} is used by both ${owner} and ${id}; each credential needs its own stable and pending secrets`,
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
