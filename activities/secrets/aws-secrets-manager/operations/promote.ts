// promote: AWSCURRENT moves onto the canaried version (AWS moves AWSPREVIOUS onto the one it left) and
// AWSPENDING is removed. The facts of both versions are written before the move, so a retry after a crash
// knows which version it replaces and finishes what is left.
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import type { AwsOperation } from '../operation-budget';
import { holderOf, Label, type SecretView } from '../secret-io';
import { begin, plan, ref, type SecretsManagerSession } from '../session';
import { rotationTag, type VersionFacts } from '../version-facts';
import { checkedStaged, replacedVersion, type Canaried } from './promote-checks';

/** Makes the canaried version AWSCURRENT; idempotent per rotation. */
export async function promote(
  s: SecretsManagerSession,
  rotationId: string,
  expected: Canaried,
): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }> {
  const op = begin(s);
  const view = await s.io.view(op);
  const { staged, stagedValue, fp } = await checkedStaged(s, op, view, rotationId, expected);
  const { previous, flipped } = replacedVersion(s, view, staged, rotationId);
  const previousValue = await s.io.value(op, { versionId: previous.id });
  const previousFp = fingerprint(previousValue.value);
  const promotedFacts: VersionFacts = {
    ...staged.facts,
    stage: 'current',
    fingerprint: fp,
    replaces: previous.id,
  };
  const previousFacts: VersionFacts = { ...previous.facts, stage: 'previous', fingerprint: previousFp };
  const tags = plan(s, view, 'promote into', [
    [staged.id, promotedFacts],
    [previous.id, previousFacts],
  ]);

  // Facts first: a retry after a crash between here and the move knows which version it replaces.
  await s.io.applyTags(op, tags);
  if (!flipped) await s.io.moveLabel(op, Label.current, staged.id, previous.id);
  await settleLabels(s, op, view, rotationId, staged.id, previous.id);
  s.log.info(
    { ...s.where, rotationId, current: staged.id, previous: previous.id, fingerprint: fp },
    flipped
      ? 'promote already done by an earlier attempt; finished'
      : 'promoted the canaried version: AWSCURRENT moved to it, AWSPREVIOUS to the replaced one',
  );
  return {
    current: ref(s, staged.id, fp, [Label.current], stagedValue.createdAt, promotedFacts),
    previous: ref(s, previous.id, previousFp, [Label.previous], previousValue.createdAt, previousFacts),
  };
}

/** After the move: AWSPREVIOUS on the replaced version, AWSPENDING off this rotation's versions. */
async function settleLabels(
  s: SecretsManagerSession,
  op: AwsOperation,
  view: SecretView,
  rotationId: string,
  promoted: string,
  previous: string,
): Promise<void> {
  const { labels } = await s.io.describe(op);
  // AWS moves AWSPREVIOUS onto the version AWSCURRENT left; make sure, whoever moved what since.
  const previousHolder = holderOf(labels, Label.previous);
  if (previousHolder !== previous) await s.io.moveLabel(op, Label.previous, previous, previousHolder);
  const pendingHolder = holderOf(labels, Label.pending);
  if (
    pendingHolder &&
    (pendingHolder === promoted || view.byId(pendingHolder)?.facts.rotation === rotationTag(rotationId))
  ) {
    if (pendingHolder !== promoted)
      s.log.warn(
        { ...s.where, rotationId, promoted, notPromoted: pendingHolder },
        'a later hand-off of this rotation held AWSPENDING; only the canaried version is promoted, the label is removed',
      );
    await s.io.moveLabel(op, Label.pending, undefined, pendingHolder);
  } else if (pendingHolder)
    s.log.warn(
      { ...s.where, rotationId, version: pendingHolder },
      'AWSPENDING is held by a version of another rotation or outside rekey; left in place',
    );
}
