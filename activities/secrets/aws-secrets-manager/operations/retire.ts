// retirePrevious, after the negative test proved the old key dead: the version promote replaced loses
// AWSPREVIOUS (every label) and is tagged retired. Nothing promoted, or rolled back, means nothing to retire.
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { AwsFailureTypes } from '../aws-errors';
import { Label } from '../secret-io';
import { begin, fail, plan, promotedBy, ref, strip, type SecretsManagerSession } from '../session';
import { rotationTag, type VersionFacts } from '../version-facts';

/** Strips the version this rotation's promote replaced of its labels; idempotent per rotation. */
export async function retirePrevious(
  s: SecretsManagerSession,
  rotationId: string,
): Promise<SecretVersionRef | undefined> {
  const op = begin(s);
  const view = await s.io.view(op);
  const promoted = promotedBy(view, rotationTag(rotationId));
  if (!promoted || promoted.facts.stage === 'rolled-back') return undefined;
  const previous = view.byId(promoted.facts.replaces);
  if (!previous) return undefined;
  if (previous.labels.includes(Label.current))
    throw fail(
      AwsFailureTypes.LabelsMovedElsewhere,
      `version ${previous.id} of ${s.secretId} in ${s.store}, which rotation ${rotationId} replaced, is AWSCURRENT ` +
        `again (moved outside this rotation): not retired`,
    );
  const fp =
    previous.facts.fingerprint ?? fingerprint((await s.io.value(op, { versionId: previous.id })).value);
  const facts: VersionFacts = { ...previous.facts, stage: 'retired', fingerprint: fp };
  const tags = plan(s, view, 'retire the previous version of', [[previous.id, facts]]);
  await s.io.applyTags(op, tags);
  if (previous.labels.length > 0) {
    await strip(s, op, previous.id);
    s.log.info(
      { ...s.where, rotationId, version: previous.id },
      'retired the previous version: it has no labels',
    );
  }
  return ref(s, previous.id, fp, [], undefined, facts);
}
