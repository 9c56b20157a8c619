// promote after an earlier attempt already wrote the new stable version (the activity timed out or the
// worker died after the flip): accept it only when it holds the canaried key, finish what the attempt may
// not have done (mark the replaced version previous, drop the pending secret), write nothing else.
import type { SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import type { VaultOperation } from '../operation-budget';
import { call, type KeyVaultSession } from '../session';
import { rotationTag, stageOf, Tag, tagsOf } from '../tags';
import { fingerprintOf, refOf } from '../version-refs';
import { retag } from '../version-writes';
import { VaultFailureTypes } from '../vault-errors';
import { dropPending } from './discard';
import { mismatch, promotedProblems, type Canaried } from './promote-checks';

/** Finishes a promote whose new version `promoted` an earlier attempt of this rotation wrote. */
export async function resumePromote(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  promoted: SecretProperties,
  versions: SecretProperties[],
  expected: Canaried,
): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }> {
  if (stageOf(promoted) === 'rolled-back')
    throw ApplicationFailure.create({
      type: VaultFailureTypes.RotationRolledBack,
      message: `rotation ${rotationId} already rolled ${s.stable} back (version ${promoted.version} is disabled); promote refused`,
      nonRetryable: true,
    });
  const problems = promotedProblems(promoted, expected);
  if (problems.length > 0) throw mismatch(s, rotationId, expected.version, problems);
  let previous = versions.find((v) => v.version === tagsOf(promoted)[Tag.replaces]);
  if (!previous)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `the version ${s.stable} had before rotation ${rotationId} is gone from ${s.store}`,
      nonRetryable: true,
    });
  if (tagsOf(previous)[Tag.replacedBy] !== rotationTag(rotationId))
    previous = await markPrevious(s, op, rotationId, previous);
  await dropPending(s, op, rotationId, 'delete the pending secret');
  s.log.info(
    { store: s.store, secret: s.stable, rotationId, current: promoted.version, previous: previous.version },
    'promote already done by an earlier attempt; nothing written',
  );
  return { current: refOf(s, promoted), previous: refOf(s, previous) };
}

/** Tags the replaced version previous (with its fingerprint) when the earlier attempt stopped before. */
async function markPrevious(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  previous: SecretProperties,
): Promise<SecretProperties> {
  const value =
    previous.enabled === false
      ? undefined
      : (
          await call(s, op, `read version ${previous.version} of`, previous.name, () =>
            s.client.getSecret(previous.name, { ...op.sdk, version: previous.version ?? '' }),
          )
        ).value;
  return retag(
    s,
    op,
    previous,
    {
      [Tag.stage]: 'previous',
      [Tag.replacedBy]: rotationTag(rotationId),
      [Tag.fingerprint]: fingerprintOf(s, previous, value),
    },
    'mark the replaced version of',
  );
}
