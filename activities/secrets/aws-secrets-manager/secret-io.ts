// The Secrets Manager calls one secret's store makes, each bounded by its operation's signal and mapped to
// an ApplicationFailure: the view of every version with its labels and rekey facts, value reads, label
// moves that recognise a resend of a move already made, the AWSPENDING write, and fact tag writes.
// Values are returned to the store only; nothing here logs or throws one.
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
  type SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import { ApplicationFailure } from '@temporalio/common';
import type { SecretStoreLogger } from '../backend';
import { AwsFailureTypes } from './aws-errors';
import type { AwsOperation } from './operation-budget';
import type { SecretTag, TagPlan } from './tag-plan';
import { decodeFacts, factsKey, type VersionFacts } from './version-facts';

/** AWS's staging labels rekey moves. */
export const Label = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' } as const;

/** One version of the secret, without its value. */
export interface VersionView {
  id: string;
  labels: string[];
  createdAt?: string;
  /** Position in AWS's version list: a tie-breaker for versions created within the same second. */
  order: number;
  facts: VersionFacts;
}

/** Every version of the secret (deprecated ones included) and the secret's tags. */
export interface SecretView {
  versions: VersionView[];
  tags: SecretTag[];
  byId(id: string | undefined): VersionView | undefined;
  /** The version holding a staging label. */
  labelled(label: string): VersionView | undefined;
}

/** One version's value, as GetSecretValue returns it. */
export interface VersionValue {
  id: string;
  value: string;
  labels: string[];
  createdAt?: string;
}

/** Labels per version id, from DescribeSecret (AWS lists labelled versions only). */
export type Labels = Map<string, string[]>;

const MAX_PAGES = 50;

/** The version id holding `label`, if any. */
export function holderOf(labels: Labels, label: string): string | undefined {
  for (const [id, ls] of labels) if (ls.includes(label)) return id;
  return undefined;
}

/** The facts rekey recorded for a version in the secret's tags. */
export function factsIn(tags: SecretTag[], versionId: string): VersionFacts {
  return decodeFacts(tags.find((t) => t.Key === factsKey(versionId))?.Value);
}

export interface SecretIo {
  readonly secretId: string;
  readonly store: string;
  view(op: AwsOperation): Promise<SecretView>;
  describe(op: AwsOperation): Promise<{ labels: Labels; tags: SecretTag[] }>;
  /** A version's value: by id, or the one holding `stage`; of this secret unless `secretId` is given. */
  value(
    op: AwsOperation,
    which: { versionId: string } | { stage: string },
    secretId?: string,
  ): Promise<VersionValue>;
  /** Writes a new version labelled AWSPENDING (idempotent per token and value). */
  putPending(op: AwsOperation, token: string, value: string): Promise<void>;
  /** Moves a label to `to` (from `from`), or removes it from `from`; a move already made counts as done. */
  moveLabel(op: AwsOperation, label: string, to: string | undefined, from: string | undefined): Promise<void>;
  applyTags(op: AwsOperation, plan: TagPlan): Promise<void>;
}

/** The calls of one secret's store through one client. */
export function secretIo(opts: {
  client: SecretsManagerClient;
  secretId: string;
  store: string;
  log: SecretStoreLogger;
}): SecretIo {
  const { client, secretId, store, log } = opts;

  async function call<T>(
    op: AwsOperation,
    operation: string,
    fn: () => Promise<T>,
    id = secretId,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw op.failure(err, { store, secretId: id, operation });
    }
  }
  const http = (op: AwsOperation) => ({ abortSignal: op.signal });

  async function describe(op: AwsOperation): Promise<{ labels: Labels; tags: SecretTag[] }> {
    const d = await call(op, 'describe', () =>
      client.send(new DescribeSecretCommand({ SecretId: secretId }), http(op)),
    );
    const labels: Labels = new Map(
      Object.entries(d.VersionIdsToStages ?? {}).filter(([, ls]) => ls.length > 0),
    );
    const tags = (d.Tags ?? []).flatMap((t) => (t.Key ? [{ Key: t.Key, Value: t.Value ?? '' }] : []));
    return { labels, tags };
  }

  async function listVersions(op: AwsOperation): Promise<SecretVersionsListEntry[]> {
    const out: SecretVersionsListEntry[] = [];
    let next: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await call(op, 'list the versions of', () =>
        client.send(
          new ListSecretVersionIdsCommand({
            SecretId: secretId,
            IncludeDeprecated: true,
            MaxResults: 100,
            ...(next ? { NextToken: next } : {}),
          }),
          http(op),
        ),
      );
      out.push(...(res.Versions ?? []));
      next = res.NextToken || undefined;
      if (!next) return out;
    }
    return out;
  }

  return {
    secretId,
    store,
    describe,

    async view(op) {
      const entries = await listVersions(op);
      const { tags } = await describe(op);
      // Oldest first; the list order breaks ties (moto reports every version as created at the time of the call).
      const versions: VersionView[] = entries
        .flatMap((v, order) =>
          v.VersionId
            ? [
                {
                  id: v.VersionId,
                  labels: v.VersionStages ?? [],
                  ...(v.CreatedDate ? { createdAt: v.CreatedDate.toISOString() } : {}),
                  order,
                  facts: factsIn(tags, v.VersionId),
                },
              ]
            : [],
        )
        .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.order - b.order)
        .map((v, order) => ({ ...v, order }));
      return {
        versions,
        tags,
        byId: (id) => versions.find((v) => v.id === id),
        labelled: (label) => versions.find((v) => v.labels.includes(label)),
      };
    },

    async value(op, which, id = secretId) {
      const what =
        'versionId' in which ? `read version ${which.versionId} of` : `read the ${which.stage} version of`;
      const res = await call(
        op,
        what,
        () =>
          client.send(
            new GetSecretValueCommand({
              SecretId: id,
              ...('versionId' in which ? { VersionId: which.versionId } : { VersionStage: which.stage }),
            }),
            http(op),
          ),
        id,
      );
      if (res.SecretString === undefined || !res.VersionId)
        throw ApplicationFailure.create({
          type: AwsFailureTypes.RequestRejected,
          message: `could not ${what} secret ${id} in ${store}: it holds SecretBinary, rekey rotates SecretString secrets`,
          nonRetryable: true,
        });
      return {
        id: res.VersionId,
        value: res.SecretString,
        labels: res.VersionStages ?? [],
        ...(res.CreatedDate ? { createdAt: res.CreatedDate.toISOString() } : {}),
      };
    },

    async putPending(op, token, value) {
      await call(op, 'write the AWSPENDING version of', () =>
        client.send(
          new PutSecretValueCommand({
            SecretId: secretId,
            ClientRequestToken: token,
            SecretString: value,
            // Without VersionStages AWS would make the new version AWSCURRENT at once.
            VersionStages: [Label.pending],
          }),
          http(op),
        ),
      );
    },

    async moveLabel(op, label, to, from) {
      const operation = to ? `move ${label} to version ${to} in` : `remove ${label} from version ${from} of`;
      try {
        await call(op, operation, () =>
          client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: secretId,
              VersionStage: label,
              ...(to ? { MoveToVersionId: to } : {}),
              ...(from ? { RemoveFromVersionId: from } : {}),
            }),
            http(op),
          ),
        );
      } catch (err) {
        // The SDK resends a request whose answer was lost; AWS then refuses the move it already made (the label
        // is no longer on RemoveFromVersionId). Where the label is now says whether the move happened.
        if (op.signal.aborted) throw err;
        const holder = holderOf((await describe(op)).labels, label);
        if (to ? holder !== to : holder === from) throw err;
        log.info(
          { store, secret: secretId, label, to: to ?? null, from: from ?? null },
          'label move already made',
        );
      }
    },

    async applyTags(op, plan) {
      if (plan.remove.length > 0) {
        await call(op, 'prune rekey tags of', () =>
          client.send(new UntagResourceCommand({ SecretId: secretId, TagKeys: plan.remove }), http(op)),
        );
        log.info(
          { store, secret: secretId, pruned: plan.remove },
          'pruned rekey tags of versions gone or long unlabelled',
        );
      }
      if (plan.put.length > 0)
        await call(op, 'tag', () =>
          client.send(new TagResourceCommand({ SecretId: secretId, Tags: plan.put }), http(op)),
        );
    },
  };
}
