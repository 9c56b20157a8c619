// rollback, before revoke: the old value is written again as the newest version of the stable path (copy
// forward, so apps reading "newest" never change code), then the rolled-back version is disabled — in
// that order, so apps never meet a disabled newest version. A retry finds the copy by its tags.
import type { SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import type { VaultOperation } from '../operation-budget';
import { begin, call, versionsOf, type KeyVaultSession } from '../session';
import { promotedBy, rollbackCopy, rotationTag, stageOf, Tag, tagsOf } from '../tags';
import { assertTagLimits } from '../tag-limits';
import { noValue, refOf } from '../version-refs';
import { carriedFrom, retag, setSecret } from '../version-writes';

/** Restores the value promote replaced and disables the promoted version; nothing promoted is `{}`. */
export async function rollback(
  s: KeyVaultSession,
  rotationId: string,
): Promise<{ restored?: SecretVersionRef; disabled?: SecretVersionRef }> {
  const op = begin(s);
  const versions = await versionsOf(s, op, s.stable);
  const promoted = promotedBy(versions, rotationId);
  // Nothing was promoted: the stable path still holds the old key (pre-flip rollback discards pending).
  if (!promoted) return {};
  const copy =
    rollbackCopy(versions, rotationId, promoted.version ?? '') ??
    (await writeRollbackCopy(s, op, rotationId, promoted));
  const disabled =
    promoted.enabled === false && stageOf(promoted) === 'rolled-back'
      ? promoted
      : await retag(
          s,
          op,
          promoted,
          { [Tag.stage]: 'rolled-back' },
          'disable the rolled-back version of',
          false,
        );
  s.log.info(
    { store: s.store, secret: s.stable, rotationId, restored: copy.version, disabled: disabled.version },
    'rolled the stable path back: old value copied forward, new version disabled',
  );
  return { restored: refOf(s, copy), disabled: refOf(s, disabled) };
}

/** Writes the value of the version `promoted` replaced as the newest stable version. */
async function writeRollbackCopy(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  promoted: SecretProperties,
): Promise<SecretProperties> {
  const previousVersion = tagsOf(promoted)[Tag.replaces];
  if (!previousVersion)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${promoted.version} of ${s.stable} has no ${Tag.replaces} tag: nothing to roll back to`,
      nonRetryable: true,
    });
  const previous = await call(s, op, `read the previous version ${previousVersion} of`, s.stable, () =>
    s.client.getSecret(s.stable, { ...op.sdk, version: previousVersion }),
  );
  if (previous.value === undefined) throw noValue(s, s.stable, previousVersion);
  const gatewayKeyId = tagsOf(previous.properties)[Tag.gatewayKey];
  // The copy replaces the rolled-back version as the newest: it keeps that version's metadata.
  const carried = carriedFrom(promoted);
  const tags = {
    ...carried.tags,
    [Tag.rotation]: rotationTag(rotationId),
    [Tag.stage]: 'current',
    [Tag.fingerprint]: fingerprint(previous.value),
    [Tag.rollsBack]: promoted.version ?? '',
    [Tag.restores]: previousVersion,
    ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
  };
  assertTagLimits(s, 'roll back', [
    { what: `the rollback copy in ${s.stable}`, tags },
    {
      what: `version ${promoted.version} of ${s.stable}`,
      tags: { ...tagsOf(promoted), [Tag.stage]: 'rolled-back' },
    },
  ]);
  const written = await setSecret(
    s,
    op,
    s.stable,
    previous.value,
    { ...carried, tags },
    'restore the previous value into',
  );
  return written.properties;
}
