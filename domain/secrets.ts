// Where a credential's secret lives, in any backend, and how a version of it is referred to. One
// discriminated union keyed by `backend`: the registry parses its YAML form, the workflow carries the
// parsed form (references only, never a value), and activities/secrets/<backend>/ opens a store on it.
// Adding a backend is one member here plus one folder under activities/secrets/.
import { z } from 'zod';

/** The secret backends rekey can keep a credential in. */
export const SECRET_BACKENDS = ['azure-key-vault', 'hashicorp-vault', 'aws-secrets-manager'] as const;
export type SecretBackendKind = (typeof SECRET_BACKENDS)[number];

/** `sha256:` + the first 12 hex characters of the key's SHA-256. */
export const fingerprintSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{12}$/, 'sha256: and 12 hex characters')
  .transform((s) => s as Fingerprint);
export type Fingerprint = `sha256:${string}`;

const keyVaultName = z
  .string()
  .regex(/^[0-9A-Za-z-]{1,127}$/, 'a Key Vault secret name (letters, digits, "-")');
/** A KV v2 path below the mount: segments of letters, digits, ".", "_" and "-", joined by "/". */
const kvPath = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a KV v2 path below the mount (segments joined by "/")')
  .max(512);
/** A Secrets Manager secret name or ARN. */
const awsSecretId = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@:-]{1,2048}$/, 'a Secrets Manager secret name or ARN (letters, digits, /_+=.@-)');

/** Azure Key Vault: apps read the newest version of `secretName`; the replacement waits in `pendingSecretName`. */
export const azureKeyVaultLocation = z.strictObject({
  backend: z.literal('azure-key-vault'),
  vaultUrl: z.url(),
  secretName: keyVaultName,
  pendingSecretName: keyVaultName,
});
/**
 * HashiCorp Vault (or OpenBao) KV v2: apps read `field` of the current version of `path`; the
 * replacement waits at `pendingPath`. rekey's per-version tags live in the secret's custom_metadata.
 */
export const hashicorpVaultLocation = z.strictObject({
  backend: z.literal('hashicorp-vault'),
  address: z.url(),
  namespace: z.string().min(1).optional(),
  mount: kvPath,
  path: kvPath,
  pendingPath: kvPath,
  field: z.string().min(1).max(128),
  /** Retired previous versions are destroyed (value gone for good) rather than soft-deleted (undeletable). */
  destroyRetired: z.boolean().optional(),
});
/**
 * AWS Secrets Manager: apps read the version labelled AWSCURRENT of `secretId`; the replacement is a
 * version of the same secret labelled AWSPENDING (AWS's own rotation model).
 */
export const awsSecretsManagerLocation = z.strictObject({
  backend: z.literal('aws-secrets-manager'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1'),
  /** A VPC or local endpoint (moto); absent means AWS's regional endpoint. */
  endpoint: z.url().optional(),
  secretId: awsSecretId,
});

export const secretLocationSchema = z.discriminatedUnion('backend', [
  azureKeyVaultLocation,
  hashicorpVaultLocation,
  awsSecretsManagerLocation,
]);
export type SecretLocation = z.infer<typeof secretLocationSchema>;
export type SecretLocationOf<K extends SecretBackendKind> = Extract<SecretLocation, { backend: K }>;

/**
 * The registry's YAML form of a location (snake_case, defaults filled), parsed into a SecretLocation.
 * `admin_key_secret` of the gateway names another secret in the same store (a name, path or secret id).
 */
export const secretLocationYaml = z.discriminatedUnion('backend', [
  z
    .strictObject({
      backend: z.literal('azure-key-vault'),
      vault_url: z.url(),
      name: keyVaultName,
      pending_name: keyVaultName.optional(),
    })
    .transform((s): SecretLocationOf<'azure-key-vault'> => ({
      backend: s.backend,
      vaultUrl: s.vault_url.replace(/\/+$/, ''),
      secretName: s.name,
      pendingSecretName: s.pending_name ?? `${s.name}-pending`,
    })),
  z
    .strictObject({
      backend: z.literal('hashicorp-vault'),
      address: z.url(),
      namespace: z.string().min(1).optional(),
      mount: kvPath.default('secret'),
      path: kvPath,
      pending_path: kvPath.optional(),
      field: z.string().min(1).max(128).default('api_key').describe('the key of the data map apps read'),
      destroy_retired: z
        .boolean()
        .default(false)
        .describe('destroy retired versions instead of soft-deleting them (no undelete afterwards)'),
    })
    .transform((s): SecretLocationOf<'hashicorp-vault'> => ({
      backend: s.backend,
      address: s.address.replace(/\/+$/, ''),
      ...(s.namespace ? { namespace: s.namespace } : {}),
      mount: s.mount,
      path: s.path,
      pendingPath: s.pending_path ?? `${s.path}-pending`,
      field: s.field,
      ...(s.destroy_retired ? { destroyRetired: true } : {}),
    })),
  z
    .strictObject({
      backend: z.literal('aws-secrets-manager'),
      region: awsSecretsManagerLocation.shape.region,
      endpoint: z.url().optional(),
      secret_id: awsSecretId,
    })
    .transform((s): SecretLocationOf<'aws-secrets-manager'> => ({
      backend: s.backend,
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint.replace(/\/+$/, '') } : {}),
      secretId: s.secret_id,
    })),
]);

/** One version of a secret, by reference: where, which, its fingerprint. Never a value. */
export const secretVersionRefSchema = z.object({
  /** storeLabel() of the location. */
  store: z.string().min(1),
  name: z.string().min(1),
  version: z.string().min(1),
  fingerprint: fingerprintSchema,
  enabled: z.boolean(),
  createdAt: z.string().optional(),
  /** The gateway's id of the key this version holds, when rekey issued it. */
  gatewayKeyId: z.string().optional(),
  /**
   * When this version expires (ISO), where the store says so: Key Vault `attributes.expires`, Vault KV v2
   * custom_metadata `expires_at`, an AWS Secrets Manager tag `rekey-expires-at` (issue 16, expiry starts).
   */
  expiresAt: z.string().optional(),
});
export type SecretVersionRef = z.infer<typeof secretVersionRefSchema>;

/** Where a secret version stands in a rotation. */
export const SECRET_STAGES = ['pending', 'current', 'previous', 'rolled-back', 'retired'] as const;
export type SecretStage = (typeof SECRET_STAGES)[number];

/** One version of a credential's stable or pending secret for the evidence: tags and times, never a value. */
export const secretVersionRecordSchema = z.object({
  store: z.string().min(1),
  name: z.string().min(1),
  version: z.string().min(1),
  enabled: z.boolean(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  /** rekey's fingerprint of the value; versions rekey never touched may have none. */
  fingerprint: fingerprintSchema.optional(),
  stage: z.enum(SECRET_STAGES).optional(),
  rotationId: z.string().optional(),
  gatewayKeyId: z.string().optional(),
  /** Every tag, label or metadata entry of the version (rekey's and anyone else's). */
  tags: z.record(z.string(), z.string()),
});
export type SecretVersionRecord = z.infer<typeof secretVersionRecordSchema>;
