// A credential as the registry describes it once parsed: who uses it, where its secret lives (any
// backend), which gateway issues it and through which admin API. The registry (config/registry.ts)
// parses its snake_case YAML into this shape; workflows carry it in their input (references only).
import { z } from 'zod';
import { secretLocationSchema } from './secrets';
import { IDENTIFIER } from './vocabulary';

/** Which admin API the gateway has; `manual` means a human issues and revokes keys. */
export const ADMIN_ADAPTER_KINDS = ['manual', 'litellm', 'openrouter', 'portkey', 'openai-admin'] as const;
export const adminAdapterKindSchema = z.enum(ADMIN_ADAPTER_KINDS);
export type AdminAdapterKind = z.infer<typeof adminAdapterKindSchema>;

/** How an app picks up a new secret version. */
export const RELOAD_METHODS = ['dynamic', 'on-deploy', 'restart'] as const;

/** What names may contain (domain/vocabulary.ts, zod-free for the workflows). */
export { IDENTIFIER };
export const identifierSchema = z
  .string()
  .min(1)
  .max(120)
  .regex(IDENTIFIER, 'letters, digits, ".", "_" and "-" only');

/** A consumer of the credential as registered by the platform team. */
export const consumerSchema = z.object({
  app: z.string().min(1).describe('the app, as it sends the OpenAI `user` field'),
  environment: identifierSchema,
  reload: z.enum(RELOAD_METHODS).describe('how the app picks up a new secret version'),
  owner: z
    .string()
    .min(1)
    .optional()
    .describe('who remediates the app when it cannot rotate in time (the evidence’s exception list)'),
  canary: z
    .boolean()
    .optional()
    .describe('reads the pending secret during the canary soak: the real-traffic canary cohort'),
});
export type Consumer = z.infer<typeof consumerSchema>;

/** The registry entry of a credential, without its admin key (only where that key lives). */
export const credentialRefSchema = z.object({
  name: identifierSchema.describe('credential name in the registry'),
  environment: identifierSchema.describe('environment, e.g. production'),
  secret: secretLocationSchema.describe('where the secret apps read lives, in whichever backend'),
  gatewayBaseUrl: z.url().describe('OpenAI-compatible base URL apps call'),
  adminAdapter: adminAdapterKindSchema,
  consumers: z.array(consumerSchema),
  /** Replica base URLs behind a load balancer: probes and the negative test run on each (issue 15 item 3). */
  gatewayReplicas: z.array(z.url()).min(1).optional(),
  /** A name resolving (A/AAAA) to every replica; each address replaces the host of `gatewayBaseUrl`. */
  gatewayReplicasDns: z.string().min(1).optional(),
  /**
   * Credentials of the same environment that share consumers, named by either side's `paired_with`:
   * never flipped and held at the same time (issue 16 item 1).
   */
  pairedWith: z.array(identifierSchema).min(1).optional(),
});
export type CredentialRef = z.infer<typeof credentialRefSchema>;
