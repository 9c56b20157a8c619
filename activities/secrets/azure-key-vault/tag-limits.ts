// Key Vault refuses a version with more than 15 tags or an over-long tag (400). An operation checks every
// write it is about to make before the first one: a 400 after the flip would leave a half-done promote or
// rollback. Messages name tags and counts, never tag values.
import { ApplicationFailure } from '@temporalio/common';
import type { KeyVaultSession } from './session';
import { isRekeyTag, TAG_LIMITS } from './tags';
import { VaultFailureTypes } from './vault-errors';

/** A write the store is about to make, for the tag-limit check that precedes every write of an operation. */
export interface PlannedTags {
  /** "the new version of kv-x", "version 1a2b of kv-x", … */
  what: string;
  tags: Record<string, string>;
}

/** Fails, before anything is written, when one of an operation's writes would break Key Vault's tag limits. */
export function assertTagLimits(s: KeyVaultSession, operation: string, planned: PlannedTags[]): void {
  for (const { what, tags } of planned) {
    assertTagCount(s, operation, what, Object.keys(tags));
    for (const [name, value] of Object.entries(tags)) {
      if (name.length > TAG_LIMITS.nameLength || value.length > TAG_LIMITS.valueLength)
        throw ApplicationFailure.create({
          type: VaultFailureTypes.VaultTagLimit,
          message:
            `cannot ${operation} ${s.stable} in ${s.store}: tag ${name.slice(0, 64)} of ${what} has a ` +
            `${name.length}-character name and a ${value.length}-character value; Key Vault allows ` +
            `${TAG_LIMITS.nameLength} and ${TAG_LIMITS.valueLength}; nothing was written`,
          nonRetryable: true,
        });
    }
  }
}

function assertTagCount(s: KeyVaultSession, operation: string, what: string, names: string[]): void {
  if (names.length <= TAG_LIMITS.count) return;
  const user = names.filter((n) => !isRekeyTag(n));
  const rekey = names.length - user.length;
  throw ApplicationFailure.create({
    type: VaultFailureTypes.VaultTagLimit,
    message:
      `cannot ${operation} ${s.stable} in ${s.store}: ${what} would need ${names.length} tags ` +
      `(${rekey} of rekey's and ${user.length} carried forward: ${user.join(', ')}), Key Vault allows ` +
      `${TAG_LIMITS.count}; nothing was written. Remove at least ${names.length - TAG_LIMITS.count} ` +
      `of those tags from the current version of ${s.stable} (at most ${TAG_LIMITS.count - rekey} can be ` +
      `carried), then retry`,
    nonRetryable: true,
  });
}
