// The reads of the port: what apps read now (the newest version of the stable path), this rotation's
// pending version, one version's value; and, for gateway admin keys, another secret of the same vault.
import type { KeyVaultSecret } from '@azure/keyvault-secrets';
import type { SecretVersionRef } from '../../../../domain/secrets';
import {
  begin,
  call,
  failure,
  newest,
  versionsOf,
  type KeyVaultConnection,
  type KeyVaultSession,
} from '../session';
import { newestFirst, rotationTag, Tag, tagsOf } from '../tags';
import { noValue, refOf } from '../version-refs';
import { isDisabledError } from '../vault-errors';

/** The newest version of the stable path, what production reads; SecretNotFound / SecretDisabled else. */
export async function readCurrent(s: KeyVaultSession): Promise<SecretVersionRef> {
  const op = begin(s);
  const got = await call(s, op, 'read the newest version of', s.stable, () =>
    s.client.getSecret(s.stable, op.sdk),
  );
  return refOf(s, got.properties, got.value);
}

/** The newest pending version when this rotation staged it; undefined otherwise. */
export async function readPending(
  s: KeyVaultSession,
  rotationId: string,
): Promise<SecretVersionRef | undefined> {
  const op = begin(s);
  const got = await newest(s, op, s.pending, 'read the pending secret');
  if (!got || tagsOf(got.properties)[Tag.rotation] !== rotationTag(rotationId)) return undefined;
  return refOf(s, got.properties, got.value);
}

/** In-process only: the value of one version. */
export async function resolve(
  c: KeyVaultConnection,
  ref: Pick<SecretVersionRef, 'name' | 'version'>,
): Promise<string> {
  const op = begin(c);
  const got = await call(c, op, `read version ${ref.version} of`, ref.name, () =>
    c.client.getSecret(ref.name, { ...op.sdk, version: ref.version }),
  );
  if (got.value === undefined) throw noValue(c, ref.name, ref.version);
  return got.value;
}

/**
 * In-process only: the value of the newest enabled version of `name` (a gateway admin key). When the
 * platform team disabled the newest version (a bad write), the newest enabled one is read instead; none
 * enabled is SecretDisabled, no such secret SecretNotFound.
 */
export async function readNewestEnabled(c: KeyVaultConnection, name: string): Promise<string> {
  const op = begin(c);
  const operation = 'read the newest enabled version of';
  let got: KeyVaultSecret;
  try {
    got = await c.client.getSecret(name, op.sdk);
  } catch (err) {
    if (op.signal.aborted || !isDisabledError(err)) throw failure(c, op, err, operation, name);
    const version = newestFirst((await versionsOf(c, op, name)).filter((v) => v.enabled !== false))[0]
      ?.version;
    if (!version) throw failure(c, op, err, operation, name);
    got = await call(c, op, `read version ${version} of`, name, () =>
      c.client.getSecret(name, { ...op.sdk, version }),
    );
  }
  if (got.value === undefined) throw noValue(c, name, got.properties.version);
  return got.value;
}
