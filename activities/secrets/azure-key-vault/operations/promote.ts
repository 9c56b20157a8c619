// promote, the flip: the canaried pending version's value becomes the newest version of the stable path,
// carrying the replaced version's metadata, and the replaced version is tagged previous. The new version
// names the one it replaces in the same write, so a retry after a crash between the two writes still knows
// which version became previous (promote-resume.ts). Only the version the canary proved, by id, is promoted.
import type { KeyVaultSecret } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import type { VaultOperation } from '../operation-budget';
import { begin, call, orMissing, versionsOf, type KeyVaultSession } from '../session';
import { promotedBy, rotationTag, Tag, tagsOf } from '../tags';
import { assertTagLimits } from '../tag-limits';
import { fingerprintOf, refOf } from '../version-refs';
import { carriedFrom, retag, setSecret } from '../version-writes';
import { dropPending } from './discard';
import { mismatch, stagedProblems, type Canaried } from './promote-checks';
import { resumePromote } from './promote-resume';

type Staged = KeyVaultSecret & { value: string };

/** The pending version `expected` (only it) becomes the newest stable version; idempotent per rotation. */
export async function promote(
  s: KeyVaultSession,
  rotationId: string,
  expected: Canaried,
): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }> {
  const op = begin(s);
  const versions = await versionsOf(s, op, s.stable);
  const done = promotedBy(versions, rotationId);
  if (done) return resumePromote(s, op, rotationId, done, versions, expected);
  const staged = await readCanaried(s, op, rotationId, expected);
  await warnOfLaterPending(s, op, rotationId, expected, staged);
  const { written, previous } = await flip(s, op, rotationId, expected, staged);
  s.log.info(
    {
      store: s.store,
      secret: s.stable,
      rotationId,
      promoted: expected.version,
      current: written.properties.version,
      previous: previous.version,
      fingerprint: fingerprint(staged.value),
    },
    'promoted the canaried pending version to the newest version of the stable path',
  );
  await dropPending(s, op, rotationId, 'delete the pending secret');
  return { current: refOf(s, written.properties, staged.value), previous: refOf(s, previous) };
}

/**
 * The version the canary proved, by id: a pending version written after the canary (a late second
 * hand-off) is never what becomes current.
 */
async function readCanaried(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  expected: Canaried,
): Promise<Staged> {
  const staged = await orMissing(s, op, `read pending version ${expected.version} of`, s.pending, () =>
    s.client.getSecret(s.pending, { ...op.sdk, version: expected.version }),
  );
  if (!staged || staged.value === undefined)
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `pending version ${expected.version} of ${s.pending} in ${s.store} (rotation ${rotationId}) is gone; nothing was promoted`,
      nonRetryable: true,
    });
  const withValue = staged as Staged;
  const problems = stagedProblems(withValue, rotationId, expected);
  if (problems.length > 0) throw mismatch(s, rotationId, expected.version, problems);
  return withValue;
}

/** Says (ids and fingerprints only) when pending versions newer than the canaried one exist. */
async function warnOfLaterPending(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  expected: Canaried,
  staged: Staged,
): Promise<void> {
  const stagedAt = staged.properties.createdOn?.getTime() ?? 0;
  const later = (await versionsOf(s, op, s.pending)).filter(
    (v) => v.version !== expected.version && (v.createdOn?.getTime() ?? 0) >= stagedAt,
  );
  if (later.length === 0) return;
  s.log.warn(
    {
      store: s.store,
      secret: s.pending,
      rotationId,
      promoting: expected.version,
      notPromoted: later.map((v) => ({
        version: v.version,
        fingerprint: tagsOf(v)[Tag.fingerprint] ?? null,
      })),
    },
    'other pending versions exist (written after the canaried one?); only the canaried version is promoted',
  );
}

/** Writes the staged value as the newest stable version, then tags the version it replaced previous. */
async function flip(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  expected: Canaried,
  staged: Staged,
) {
  const rot = rotationTag(rotationId);
  const replaced = await call(s, op, 'read the newest version of', s.stable, () =>
    s.client.getSecret(s.stable, op.sdk),
  );
  const replacedVersion = replaced.properties.version ?? '';
  const gatewayKeyId = tagsOf(staged.properties)[Tag.gatewayKey];
  const carried = carriedFrom(replaced.properties);
  const tags = {
    ...carried.tags,
    [Tag.rotation]: rot,
    [Tag.stage]: 'current',
    [Tag.fingerprint]: fingerprint(staged.value),
    [Tag.replaces]: replacedVersion,
    [Tag.promotes]: expected.version,
    ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
  };
  const previousChanges = {
    [Tag.stage]: 'previous',
    [Tag.replacedBy]: rot,
    [Tag.fingerprint]: fingerprintOf(s, replaced.properties, replaced.value),
  };
  assertTagLimits(s, 'promote into', [
    { what: `the new version of ${s.stable}`, tags },
    {
      what: `version ${replacedVersion} of ${s.stable}`,
      tags: { ...tagsOf(replaced.properties), ...previousChanges },
    },
  ]);
  const written = await setSecret(
    s,
    op,
    s.stable,
    staged.value,
    { ...carried, tags },
    'promote the pending value into',
  );
  const previous = await retag(s, op, replaced.properties, previousChanges, 'mark the replaced version of');
  return { written, previous };
}
