// The writes every operation is built from: a new version (Set Secret, coping with a soft-deleted name), a
// re-tag (Key Vault replaces a version's whole tag set, and optionally disables it), and what a copy
// forward carries over from the version it replaces. Each checks Key Vault's tag limits before writing.
import type { KeyVaultSecret, SecretProperties } from '@azure/keyvault-secrets';
import type { VaultOperation } from './operation-budget';
import { call, failure, orMissing, settled, type KeyVaultConnection, type KeyVaultSession } from './session';
import { assertTagLimits } from './tag-limits';
import { tagsOf, userTagsOf } from './tags';
import { statusOf } from './vault-errors';

/** What a new version gets besides its value: tags and, on a copy forward, the replaced version's metadata. */
export interface CarriedForward {
  tags: Record<string, string>;
  contentType?: string;
  expiresOn?: Date;
  notBefore?: Date;
}

/**
 * What a copy forward keeps of the version it replaces, so apps and policies see the same secret with a
 * new value: its content type, the platform team's (non-rekey) tags, and these validity dates:
 * - expiry: kept while it is still ahead. An expiry an Azure Policy demands ("secrets should have an
 *   expiration date") survives the flip, and a rotation never quietly extends the lifetime the platform
 *   set (renewing it is the owner's call). A past expiry is not copied — it would publish a version that
 *   is expired on arrival; a policy that then denies the write surfaces as VaultPolicyDenied.
 * - not-before: kept once reached; a future one is dropped, because the copy must be valid the moment it
 *   becomes the newest version apps read.
 */
export function carriedFrom(p: SecretProperties): CarriedForward {
  const now = Date.now();
  return {
    tags: userTagsOf(p),
    ...(p.contentType ? { contentType: p.contentType } : {}),
    ...(p.expiresOn && p.expiresOn.getTime() > now ? { expiresOn: p.expiresOn } : {}),
    ...(p.notBefore && p.notBefore.getTime() <= now ? { notBefore: p.notBefore } : {}),
  };
}

/** Replaces a version's tags (Key Vault replaces the whole set) and optionally disables it. */
export async function retag(
  s: KeyVaultSession,
  op: VaultOperation,
  p: SecretProperties,
  changes: Record<string, string>,
  operation: string,
  enabled?: boolean,
): Promise<SecretProperties> {
  const tags = { ...tagsOf(p), ...changes };
  assertTagLimits(s, operation, [{ what: `version ${p.version} of ${p.name}`, tags }]);
  return call(s, op, operation, p.name, () =>
    s.client.updateSecretProperties(p.name, p.version ?? '', {
      ...op.sdk,
      tags,
      ...(enabled === undefined ? {} : { enabled }),
    }),
  );
}

/**
 * Set Secret that also copes with the name being soft-deleted (a pending secret deleted by an earlier
 * rotation): purge it, or recover it where purging is not allowed (purge protection, no permission),
 * then write again. Key Vault finishes deletes, purges and recovers asynchronously (409 meanwhile),
 * hence the bounded waiting.
 */
export async function setSecret(
  s: KeyVaultSession,
  op: VaultOperation,
  name: string,
  value: string,
  write: CarriedForward,
  operation: string,
): Promise<KeyVaultSecret> {
  assertTagLimits(s, operation, [{ what: `the new version of ${name}`, tags: write.tags }]);
  for (let attempt = 1; ; attempt++) {
    try {
      return await s.client.setSecret(name, value, { ...op.sdk, ...write });
    } catch (err) {
      if (op.signal.aborted || statusOf(err) !== 409 || attempt >= s.settle.attempts)
        throw failure(s, op, err, operation, name);
    }
    const deleted = await orMissing(s, op, 'look up the deleted secret', name, () =>
      s.client.getDeletedSecret(name, op.sdk),
    );
    if (deleted) await clearDeleted(s, op, name);
    await op.sleep(s.settle.intervalMs, { vaultUrl: s.store, secretName: name, operation });
  }
}

/** Frees a soft-deleted name: purge when allowed, else recover it (its old versions come back). */
export async function clearDeleted(c: KeyVaultConnection, op: VaultOperation, name: string): Promise<void> {
  try {
    await c.client.purgeDeletedSecret(name, op.sdk);
    c.log.info({ store: c.store, secret: name }, 'purged the soft-deleted secret so its name can be reused');
    return;
  } catch (err) {
    const status = op.signal.aborted ? undefined : statusOf(err);
    if (status === 404) return;
    if (status === 409) return; // still being deleted: the caller waits and tries again
    if (status !== 403) throw failure(c, op, err, 'purge', name);
  }
  await call(c, op, 'recover', name, async () =>
    settled(
      c,
      op,
      await c.client.beginRecoverDeletedSecret(name, { ...op.sdk, intervalInMs: c.settle.intervalMs }),
      'recover',
      name,
    ),
  );
  c.log.info(
    { store: c.store, secret: name },
    'recovered the soft-deleted secret (purge not allowed) to reuse its name',
  );
}
