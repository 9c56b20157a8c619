// What promote checks before it writes, or before it accepts an earlier attempt's write: that the version
// is the one the canary proved — same pending version id, same fingerprint, this rotation's tag — else
// StagedKeyMismatch (non-retryable: a retry cannot make another key the canaried one).
import type { KeyVaultSecret, SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../../domain/failure-types';
import type { Fingerprint } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import type { KeyVaultSession } from '../session';
import { rotationTag, Tag, tagsOf } from '../tags';

/** The pending version the workflow hands promote: the one the canary proved. */
export interface Canaried {
  version: string;
  fingerprint: Fingerprint;
}

/** Why a pending version read by id is not the canaried one of this rotation; none when it is. */
export function stagedProblems(
  staged: KeyVaultSecret & { value: string },
  rotationId: string,
  expected: Canaried,
) {
  const tags = tagsOf(staged.properties);
  const fp = fingerprint(staged.value);
  const problems: string[] = [];
  if (tags[Tag.rotation] !== rotationTag(rotationId))
    problems.push(`it is tagged for rotation ${tags[Tag.rotation] ?? '(none)'}, not this one`);
  if (tags[Tag.fingerprint] !== expected.fingerprint)
    problems.push(
      `its fingerprint tag is ${tags[Tag.fingerprint] ?? '(none)'}, the canary proved ${expected.fingerprint}`,
    );
  if (fp !== expected.fingerprint)
    problems.push(`its value's fingerprint is ${fp}, the canary proved ${expected.fingerprint}`);
  return problems;
}

/** Why the version an earlier attempt promoted does not hold the canaried key; none when it does. */
export function promotedProblems(promoted: SecretProperties, expected: Canaried): string[] {
  const tags = tagsOf(promoted);
  const problems: string[] = [];
  // Versions written before the `rekey-promotes` tag existed carry only the fingerprint.
  if (tags[Tag.promotes] !== undefined && tags[Tag.promotes] !== expected.version)
    problems.push(
      `this rotation already promoted pending version ${tags[Tag.promotes]} (as ${promoted.version})`,
    );
  if (tags[Tag.fingerprint] !== expected.fingerprint)
    problems.push(
      `the version it already promoted (${promoted.version}) has fingerprint ${tags[Tag.fingerprint] ?? '(none)'}, the canary proved ${expected.fingerprint}`,
    );
  return problems;
}

/** StagedKeyMismatch naming the pending version, the rotation and every problem found. */
export function mismatch(
  s: KeyVaultSession,
  rotationId: string,
  version: string,
  problems: string[],
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.StagedKeyMismatch,
    message:
      `refusing to promote pending version ${version} of ${s.pending} in ${s.store} for rotation ` +
      `${rotationId}: ${problems.join('; ')}`,
    nonRetryable: true,
  });
}
