// Plain functions over secret locations and version refs (no zod): safe to import from workflow code.
import type { SecretLocation } from './secrets';

/** What a reviewer reads as "the store": a vault URL, a Vault mount, an AWS region (or endpoint). */
export function storeLabel(l: SecretLocation): string {
  switch (l.backend) {
    case 'azure-key-vault':
      return l.vaultUrl;
    case 'hashicorp-vault':
      return `${l.address}/v1/${l.namespace ? `${l.namespace}/` : ''}${l.mount}`;
    case 'aws-secrets-manager':
      return l.endpoint ?? `aws-secrets-manager:${l.region}`;
  }
}

/** The name apps read (stable path) and where the replacement waits before the flip. */
export function secretPaths(l: SecretLocation): { stable: string; pending: string } {
  switch (l.backend) {
    case 'azure-key-vault':
      return { stable: l.secretName, pending: l.pendingSecretName };
    case 'hashicorp-vault':
      return { stable: l.path, pending: l.pendingPath };
    case 'aws-secrets-manager':
      return { stable: l.secretId, pending: `${l.secretId}@AWSPENDING` };
  }
}

/**
 * Rotations started before rekey 0.3 carry the Azure-only shape (`vaultUrl`, `secretName`,
 * `pendingSecretName` on the credential, `vaultUrl` on version refs) in their history. These read
 * either shape, so a worker upgrade never strands a rotation in flight. Plain code: safe in workflows.
 */
export interface LegacySecretFields {
  vaultUrl?: string;
  secretName?: string;
  pendingSecretName?: string;
}

/** The location of a credential's secret, from the current shape or the pre-0.3 Azure-only one. */
export function secretLocationOf(
  credential: { secret?: SecretLocation } & LegacySecretFields,
): SecretLocation {
  if (credential.secret) return credential.secret;
  if (credential.vaultUrl && credential.secretName)
    return {
      backend: 'azure-key-vault',
      vaultUrl: credential.vaultUrl.replace(/\/+$/, ''),
      secretName: credential.secretName,
      pendingSecretName: credential.pendingSecretName ?? `${credential.secretName}-pending`,
    };
  throw new Error('the credential names no secret location (neither `secret` nor the pre-0.3 `vaultUrl`)');
}

/** The store label of a version ref, from the current shape or the pre-0.3 one (`vaultUrl`). */
export function storeOf(ref: { store?: string; vaultUrl?: string }): string {
  return ref.store ?? ref.vaultUrl ?? '';
}
