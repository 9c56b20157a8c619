// What promote checks before it writes anything: the version asked for is the one the canary proved (this
// rotation's record, the proven fingerprint in the record and in the value, no other version promoted by
// this rotation, not rolled back), and which version AWSCURRENT leaves.
import { FailureTypes } from '../../../../domain/failure-types';
import type { Fingerprint } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { AwsFailureTypes } from '../aws-errors';
import type { AwsOperation } from '../operation-budget';
import { Label, type SecretView, type VersionValue, type VersionView } from '../secret-io';
import { fail, mismatch, promotedBy, type SecretsManagerSession } from '../session';
import { rotationTag } from '../version-facts';

/** The version the canary proved: its id and its value's fingerprint. */
export interface Canaried {
  version: string;
  fingerprint: Fingerprint;
}

/** The canaried version, with its value and fingerprint, once it proved to be what the canary saw. */
export async function checkedStaged(
  s: SecretsManagerSession,
  op: AwsOperation,
  view: SecretView,
  rotationId: string,
  expected: Canaried,
): Promise<{ staged: VersionView; stagedValue: VersionValue; fp: Fingerprint }> {
  const rot = rotationTag(rotationId);
  const staged = view.byId(expected.version);
  if (!staged)
    throw fail(
      FailureTypes.SecretNotFound,
      `pending version ${expected.version} of ${s.secretId} in ${s.store} (rotation ${rotationId}) is gone; nothing was promoted`,
    );
  const problems = recordProblems(view, staged, rot, expected);
  if (problems.length > 0) throw mismatch(s, rotationId, expected.version, problems);
  if (staged.facts.stage === 'rolled-back')
    throw fail(
      AwsFailureTypes.RotationRolledBack,
      `rotation ${rotationId} already rolled ${s.secretId} back (version ${staged.id} has no labels); promote refused`,
    );
  const stagedValue = await s.io.value(op, { versionId: staged.id });
  const fp = fingerprint(stagedValue.value);
  if (fp !== expected.fingerprint)
    throw mismatch(s, rotationId, expected.version, [
      `its value's fingerprint is ${fp}, the canary proved ${expected.fingerprint}`,
    ]);
  return { staged, stagedValue, fp };
}

/** How the staged version's recorded facts disagree with the canary and this rotation; none when fine. */
function recordProblems(view: SecretView, staged: VersionView, rot: string, expected: Canaried): string[] {
  const problems: string[] = [];
  if (staged.facts.rotation !== rot)
    problems.push(`it is recorded for rotation ${staged.facts.rotation ?? '(none)'}, not this one`);
  if (staged.facts.fingerprint !== expected.fingerprint)
    problems.push(
      `its recorded fingerprint is ${staged.facts.fingerprint ?? '(none)'}, the canary proved ${expected.fingerprint}`,
    );
  const earlier = promotedBy(view, rot);
  if (earlier && earlier.id !== staged.id)
    problems.push(`this rotation already promoted version ${earlier.id}`);
  return problems;
}

/** The version AWSCURRENT leaves; after a flip (a retry) the one this rotation recorded. */
export function replacedVersion(
  s: SecretsManagerSession,
  view: SecretView,
  staged: VersionView,
  rotationId: string,
): { previous: VersionView; flipped: boolean } {
  const current = view.labelled(Label.current);
  const flipped = current?.id === staged.id;
  const previous = view.byId(
    flipped ? (staged.facts.replaces ?? view.labelled(Label.previous)?.id) : current?.id,
  );
  if (!previous)
    throw fail(
      FailureTypes.SecretNotFound,
      `${s.secretId} in ${s.store} has no AWSCURRENT version for rotation ${rotationId} to replace`,
    );
  return { previous, flipped };
}
