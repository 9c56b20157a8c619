// discardPending, and the end of every promote: the pending secret of this rotation is soft-deleted and
// purged where allowed. A pending secret another rotation staged since, or one rekey never wrote, is left
// alone; one already gone is fine.
import type { VaultOperation } from '../operation-budget';
import { begin, failure, newestProps, orMissing, settled, type KeyVaultSession } from '../session';
import { rotationTag, Tag, tagsOf } from '../tags';
import { statusOf } from '../vault-errors';

/** Removes this rotation's pending value; twice is harmless. */
export async function discardPending(s: KeyVaultSession, rotationId: string): Promise<void> {
  await dropPending(s, begin(s), rotationId, 'discard the pending secret');
}

/** Soft-deletes the pending secret of this rotation and purges it where allowed; gone already is fine. */
export async function dropPending(
  s: KeyVaultSession,
  op: VaultOperation,
  rotationId: string,
  operation: string,
): Promise<void> {
  const rot = rotationTag(rotationId);
  const props = await newestProps(s, op, s.pending, 'read the pending secret');
  if (props) {
    const owner = tagsOf(props)[Tag.rotation];
    if (owner !== rot) {
      // Staged by another rotation since, or not by rekey at all: not ours to remove.
      s.log.warn(
        { store: s.store, secret: s.pending, rotationId, owner: owner ?? null },
        'the pending secret is not this rotation’s; left in place',
      );
      return;
    }
    await orMissing(s, op, operation, s.pending, async () =>
      settled(
        s,
        op,
        await s.client.beginDeleteSecret(s.pending, { ...op.sdk, intervalInMs: s.settle.intervalMs }),
        operation,
        s.pending,
      ),
    );
    s.log.info({ store: s.store, secret: s.pending, rotationId }, 'soft-deleted the pending secret');
  }
  await purgeOwnPending(s, op, rot, rotationId);
}

/** Purges the soft-deleted pending secret when this rotation wrote it. */
async function purgeOwnPending(s: KeyVaultSession, op: VaultOperation, rot: string, rotationId: string) {
  const deleted = await orMissing(s, op, 'look up the deleted secret', s.pending, () =>
    s.client.getDeletedSecret(s.pending, op.sdk),
  );
  if (!deleted || tagsOf(deleted.properties)[Tag.rotation] !== rot) return;
  try {
    await s.client.purgeDeletedSecret(s.pending, op.sdk);
    s.log.info({ store: s.store, secret: s.pending, rotationId }, 'purged the pending secret');
  } catch (err) {
    // Purge protection or no purge permission: the soft-deleted secret expires on its own, and the next
    // stagePending recovers or purges it first.
    if (op.signal.aborted || ![403, 404, 409].includes(statusOf(err) ?? 0))
      throw failure(s, op, err, 'purge', s.pending);
    s.log.info(
      { store: s.store, secret: s.pending, rotationId, status: statusOf(err) },
      'pending secret left soft-deleted',
    );
  }
}
