// Which tags one operation writes and removes so that rekey's per-version facts fit AWS's 50 tags per
// secret. Pure: planned before the operation's first write, so a secret whose tags are full fails with
// nothing written (a refusal after the flip would leave a half-done promote or rollback).
import { ApplicationFailure } from '@temporalio/common';
import { AwsFailureTypes } from './aws-errors';
import { encodeFacts, factsKey, TAG_LIMITS, versionOfKey, type VersionFacts } from './version-facts';

/** One tag of the secret, as DescribeSecret lists it. */
export interface SecretTag {
  Key: string;
  Value: string;
}

/** A version as the plan needs it: whether it still has labels, and how old it is. */
export interface PlannedVersion {
  id: string;
  labels: string[];
  /** Position in the version list, oldest first. */
  order: number;
}

/** The tags to remove (first) and to write (then). */
export interface TagPlan {
  remove: string[];
  put: SecretTag[];
}

/**
 * The writes of `changes` (facts per version id) and the pruning that makes room: tags of versions AWS no
 * longer has go always; when the 50 are still exceeded, tags of the oldest unlabelled versions this
 * operation does not touch go too (their history is lost, never a live version's). Throws
 * SecretsManagerTagLimit, naming counts only, when even that is not enough.
 */
export function planFactWrites(opts: {
  secretId: string;
  store: string;
  operation: string;
  tags: SecretTag[];
  versions: PlannedVersion[];
  changes: Map<string, VersionFacts>;
}): TagPlan {
  const { secretId, store, operation, tags, versions, changes } = opts;
  const existing = new Map(tags.map((t) => [t.Key, t.Value]));
  const put: SecretTag[] = [];
  for (const [id, facts] of changes) {
    const tag = { Key: factsKey(id), Value: encodeFacts(facts) };
    if (tag.Key.length > TAG_LIMITS.keyLength || tag.Value.length > TAG_LIMITS.valueLength)
      throw ApplicationFailure.create({
        type: AwsFailureTypes.TagLimit,
        message:
          `cannot ${operation} secret ${secretId} in ${store}: rekey's facts of version ${id.slice(0, 64)} need a ` +
          `${tag.Key.length}-character tag key and a ${tag.Value.length}-character value, AWS allows ` +
          `${TAG_LIMITS.keyLength} and ${TAG_LIMITS.valueLength} (a very long gateway key id or version id?); ` +
          `nothing was written`,
        nonRetryable: true,
      });
    if (existing.get(tag.Key) !== tag.Value) put.push(tag);
  }
  if (put.length === 0) return { remove: [], put };

  const live = new Map(versions.map((v) => [v.id, v]));
  const remove = tags
    .map((t) => t.Key)
    .filter((key) => {
      const id = versionOfKey(key);
      return id !== undefined && !live.has(id) && !changes.has(id);
    });
  const count = () => existing.size - remove.length + put.filter((t) => !existing.has(t.Key)).length;
  if (count() > TAG_LIMITS.count) {
    const prunable = tags
      .map((t) => ({ key: t.Key, version: live.get(versionOfKey(t.Key) ?? '') }))
      .filter((t) => t.version && t.version.labels.length === 0 && !changes.has(t.version.id))
      .sort((a, b) => (a.version?.order ?? 0) - (b.version?.order ?? 0));
    for (const t of prunable) {
      if (count() <= TAG_LIMITS.count) break;
      remove.push(t.key);
    }
  }
  if (count() > TAG_LIMITS.count) {
    const rekey = tags.filter((t) => versionOfKey(t.Key) !== undefined).length;
    const added = put.filter((t) => !existing.has(t.Key)).length;
    throw ApplicationFailure.create({
      type: AwsFailureTypes.TagLimit,
      message:
        `cannot ${operation} secret ${secretId} in ${store}: it has ${tags.length} tags (${tags.length - rekey} ` +
        `of the platform team's, ${rekey} of rekey's, ${remove.length} of them prunable) and rekey needs ` +
        `${added} more; AWS allows ${TAG_LIMITS.count}. Nothing was written: remove at least ` +
        `${count() - TAG_LIMITS.count} tags that are not rekey's (keys not starting with "rekey:"), then retry`,
      nonRetryable: true,
    });
  }
  return { remove, put };
}
