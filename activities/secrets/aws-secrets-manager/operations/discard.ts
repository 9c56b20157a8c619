// discardPending, when a rotation stops before the flip: AWSPENDING comes off this rotation's version, and
// only off this rotation's.
import { factsIn, holderOf, Label } from '../secret-io';
import { begin, type SecretsManagerSession } from '../session';
import { rotationTag } from '../version-facts';

/** Removes AWSPENDING when this rotation's version holds it; leaves another's in place. */
export async function discardPending(s: SecretsManagerSession, rotationId: string): Promise<void> {
  const op = begin(s);
  const { labels, tags } = await s.io.describe(op);
  const id = holderOf(labels, Label.pending);
  if (!id) return;
  const owner = factsIn(tags, id).rotation;
  if (owner !== rotationTag(rotationId)) {
    // Staged by another rotation since, or not by rekey at all: not ours to remove.
    s.log.warn(
      { ...s.where, rotationId, version: id, owner: owner ?? null },
      'AWSPENDING is not this rotation’s; left in place',
    );
    return;
  }
  // AWS cannot delete one version: without a label it is deprecated, never read by rekey, deleted by AWS in time.
  await s.io.moveLabel(op, Label.pending, undefined, id);
  s.log.info({ ...s.where, rotationId, version: id }, 'discarded the pending version: AWSPENDING removed');
}
