// stagePending: the replacement key becomes the newest version of the pending secret, tagged with the
// rotation. A retry finds the version an earlier attempt wrote (same rotation, same value) and reuses it.
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { begin, newest, type KeyVaultSession } from '../session';
import { rotationTag, Tag, tagsOf } from '../tags';
import { refOf } from '../version-refs';
import { setSecret } from '../version-writes';

/** In-process only: writes a replacement key as the pending secret, once per rotation and value. */
export async function stagePending(
  s: KeyVaultSession,
  rotationId: string,
  value: string,
  gatewayKeyId?: string,
): Promise<SecretVersionRef> {
  const op = begin(s);
  const rot = rotationTag(rotationId);
  const fp = fingerprint(value);
  const existing = await newest(s, op, s.pending, 'read the pending secret');
  if (existing && tagsOf(existing.properties)[Tag.rotation] === rot && existing.value === value) {
    s.log.info(
      {
        store: s.store,
        secret: s.pending,
        rotationId,
        version: existing.properties.version,
        fingerprint: fp,
      },
      'pending version already staged by this rotation; reused',
    );
    return refOf(s, existing.properties, existing.value);
  }
  const tags: Record<string, string> = {
    [Tag.rotation]: rot,
    [Tag.stage]: 'pending',
    [Tag.fingerprint]: fp,
    ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
  };
  const written = await setSecret(s, op, s.pending, value, { tags }, 'stage the replacement key as');
  s.log.info(
    { store: s.store, secret: s.pending, rotationId, version: written.properties.version, fingerprint: fp },
    'staged the replacement key as the pending version',
  );
  return refOf(s, written.properties, value);
}
