// Response shapes of the Key Vault secrets API: SecretBundle, SecretItem, DeletedSecretBundle and
// DeletedSecretItem, with epoch-second times in `attributes` as the service sends them. Only Get and Set
// return a value; updates, lists, deletes and recoveries never do.
import type { KeyVaultState, StoredSecret, StoredVersion } from './state';

/** `attributes` of a version as the service reports them. */
export function attributesOf(v: StoredVersion, state: KeyVaultState) {
  return {
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoverableDays: state.retentionDays,
    recoveryLevel: state.recoveryLevel,
  };
}

function common(v: StoredVersion, state: KeyVaultState) {
  return {
    attributes: attributesOf(v, state),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
  };
}

/** A SecretBundle: one version, with its value only when `withValue` (Get and Set). */
export function secretBundle(
  base: string,
  secret: StoredSecret,
  v: StoredVersion,
  state: KeyVaultState,
  withValue: boolean,
) {
  return {
    ...(withValue ? { value: v.value } : {}),
    id: `${base}/secrets/${secret.name}/${v.version}`,
    ...common(v, state),
  };
}

/** A SecretItem of Get Secret Versions: the versioned id, no value. */
export function versionItem(base: string, secret: StoredSecret, v: StoredVersion, state: KeyVaultState) {
  return { id: `${base}/secrets/${secret.name}/${v.version}`, ...common(v, state) };
}

/** A SecretItem of Get Secrets: the unversioned id and the latest version's attributes and tags. */
export function secretItem(base: string, secret: StoredSecret, state: KeyVaultState) {
  return { id: `${base}/secrets/${secret.name}`, ...common(latest(secret), state) };
}

function deletion(base: string, secret: StoredSecret) {
  const d = secret.deleted ?? { deletedDate: 0, scheduledPurgeDate: 0 };
  return {
    recoveryId: `${base}/deletedsecrets/${secret.name}`,
    deletedDate: d.deletedDate,
    scheduledPurgeDate: d.scheduledPurgeDate,
  };
}

/** A DeletedSecretBundle (Delete Secret, Get Deleted Secret): the latest version, no value. */
export function deletedSecretBundle(base: string, secret: StoredSecret, state: KeyVaultState) {
  return { ...deletion(base, secret), ...secretBundle(base, secret, latest(secret), state, false) };
}

/** A DeletedSecretItem of Get Deleted Secrets. */
export function deletedSecretItem(base: string, secret: StoredSecret, state: KeyVaultState) {
  return { ...deletion(base, secret), ...secretItem(base, secret, state) };
}

function latest(secret: StoredSecret): StoredVersion {
  const v = secret.versions.at(-1);
  if (!v) throw new Error(`secret ${secret.name} has no versions`);
  return v;
}
