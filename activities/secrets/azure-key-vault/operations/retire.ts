// retirePrevious, after the negative test proved the old key dead: the version promote replaced is
// disabled and tagged retired. Nothing promoted, or rolled back, means nothing to retire.
import type { SecretVersionRef } from '../../../../domain/secrets';
import { begin, versionsOf, type KeyVaultSession } from '../session';
import { promotedBy, rotationTag, stageOf, Tag, tagsOf } from '../tags';
import { refOf } from '../version-refs';
import { retag } from '../version-writes';

/** Disables the version this rotation's promote replaced; idempotent per rotation. */
export async function retirePrevious(
  s: KeyVaultSession,
  rotationId: string,
): Promise<SecretVersionRef | undefined> {
  const op = begin(s);
  const versions = await versionsOf(s, op, s.stable);
  const promoted = promotedBy(versions, rotationId);
  if (!promoted || stageOf(promoted) === 'rolled-back') return undefined;
  const previous = versions.find((v) => v.version === tagsOf(promoted)[Tag.replaces]);
  if (!previous) return undefined;
  if (previous.enabled === false && stageOf(previous) === 'retired') return refOf(s, previous);
  const retired = await retag(
    s,
    op,
    previous,
    { [Tag.stage]: 'retired', [Tag.replacedBy]: rotationTag(rotationId) },
    'disable the previous version of',
    false,
  );
  s.log.info(
    { store: s.store, secret: s.stable, rotationId, version: retired.version },
    'retired (disabled) the previous version',
  );
  return refOf(s, retired);
}
