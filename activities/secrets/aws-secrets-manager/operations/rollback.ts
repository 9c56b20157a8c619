// rollback: AWSCURRENT moves back to the version this rotation's promote replaced, and the rolled-back
// version loses every label, so nothing reads it again. Nothing promoted means nothing to roll back.
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { Label } from '../secret-io';
import { begin, fail, plan, promotedBy, ref, strip, type SecretsManagerSession } from '../session';
import { rotationTag, type VersionFacts } from '../version-facts';

/** Moves AWSCURRENT back to the replaced version and strips the rolled-back one; idempotent per rotation. */
export async function rollback(
  s: SecretsManagerSession,
  rotationId: string,
): Promise<{ restored?: SecretVersionRef; disabled?: SecretVersionRef }> {
  const op = begin(s);
  const view = await s.io.view(op);
  const promoted = promotedBy(view, rotationTag(rotationId));
  // Nothing was promoted: AWSCURRENT still holds the old key (a pre-flip rollback discards pending).
  if (!promoted) return {};
  const previous = view.byId(promoted.facts.replaces);
  if (!previous)
    throw fail(
      FailureTypes.SecretNotFound,
      `version ${promoted.facts.replaces} of ${s.secretId} in ${s.store}, which rotation ${rotationId} replaced, is gone: nothing to roll back to`,
    );
  const restoredValue = await s.io.value(op, { versionId: previous.id });
  const restoredFp = fingerprint(restoredValue.value);
  const restoredFacts: VersionFacts = { ...previous.facts, stage: 'current', fingerprint: restoredFp };
  const rolledBackFacts: VersionFacts = { ...promoted.facts, stage: 'rolled-back' };
  const tags = plan(s, view, 'roll back', [
    [promoted.id, rolledBackFacts],
    [previous.id, restoredFacts],
  ]);
  const current = view.labelled(Label.current);
  if (current && current.id !== previous.id && current.id !== promoted.id)
    s.log.warn(
      { ...s.where, rotationId, current: current.id, restoring: previous.id },
      'AWSCURRENT was moved to another version since the flip; rolling back to the replaced version all the same',
    );
  await s.io.applyTags(op, tags);
  if (current?.id !== previous.id) await s.io.moveLabel(op, Label.current, previous.id, current?.id);
  // AWS moved AWSPREVIOUS onto the rolled-back version: it loses every label, so nothing reads it.
  await strip(s, op, promoted.id);
  s.log.info(
    { ...s.where, rotationId, restored: previous.id, rolledBack: promoted.id },
    'rolled back: AWSCURRENT moved back to the replaced version, the rolled-back version has no labels',
  );
  return {
    restored: ref(s, previous.id, restoredFp, [Label.current], restoredValue.createdAt, restoredFacts),
    disabled: ref(
      s,
      promoted.id,
      promoted.facts.fingerprint ?? fingerprint((await s.io.value(op, { versionId: promoted.id })).value),
      [],
      undefined,
      rolledBackFacts,
    ),
  };
}
