// SecretStore on Azure Key Vault (DESIGN "Secret version model"): apps read the stable path `name`
// (its newest version); the replacement waits in `name-pending`; promote copies the canaried pending
// version forward as the newest stable version, rollback copies the old value forward again and disables
// the rolled-back version, retirement disables the previous version. Every operation first looks at the
// versions' rekey tags for what an earlier attempt of the same rotation already did, so a retried activity
// never writes twice, and every operation is bounded in time (operation-budget.ts) so that an attempt
// that outlived its activity timeout stops before its retry starts.
// Key values stay inside this module: results, logs and errors carry ids, stages and fingerprints only.
import type {
  KeyVaultSecret,
  PollerLike,
  PollOperationState,
  SecretClient,
  SecretProperties,
} from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../common/failures';
import { fingerprint } from '../../fingerprint';
import type { SecretStore } from '../../ports';
import type { Fingerprint, SecretStage, SecretVersionRecord, SecretVersionRef } from '../../types';
import {
  currentActivitySignal,
  OPERATION_DEADLINE_MS,
  REQUEST_TIMEOUT_MS,
  SETTLE,
  startOperation,
  untilAborted,
  type VaultOperation,
} from './operation-budget';
import {
  isRekeyTag,
  promotedBy,
  rollbackCopy,
  rotationTag,
  stageOf,
  Tag,
  TAG_LIMITS,
  tagsOf,
  userTagsOf,
} from './tags';
import { isDisabledError, statusOf, VaultFailureTypes } from './vault-errors';

/** What the store logs through: pino's `info(obj, msg)` shape. Fields never include a value. */
export interface SecretStoreLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface KeyVaultSecretStoreOptions {
  client: SecretClient;
  vaultUrl: string;
  /** The stable path apps read. */
  secretName: string;
  /** Where the replacement waits before the flip, read by canaries; never the stable name. */
  pendingSecretName: string;
  logger?: SecretStoreLogger;
  /** Key Vault deletes, purges and recovers asynchronously; how long a reused name may stay in conflict. */
  settle?: { attempts: number; intervalMs: number };
  /** Per-operation deadline and per-request timeout (defaults in operation-budget.ts). */
  budget?: { deadlineMs?: number; requestTimeoutMs?: number };
  /** The calling activity's cancellation; defaults to Temporal's activity Context, none outside one. */
  cancellationSignal?: () => AbortSignal | undefined;
}

/** A write the store is about to make, for the tag-limit check that precedes every write of an operation. */
interface PlannedTags {
  /** "the new version of kv-x", "version 1a2b of kv-x", … */
  what: string;
  tags: Record<string, string>;
}

/** What a copy forward writes besides the value: the platform team's metadata of the replaced version. */
interface CarriedForward {
  tags: Record<string, string>;
  contentType?: string;
  expiresOn?: Date;
  notBefore?: Date;
}

type Poller<T> = PollerLike<PollOperationState<T>, T>;

const silent: SecretStoreLogger = { info: () => undefined, warn: () => undefined };

/** A SecretStore over one credential's stable and pending secrets in one vault. */
export function createKeyVaultSecretStore(opts: KeyVaultSecretStoreOptions): SecretStore {
  const { client, secretName: stable, pendingSecretName: pending } = opts;
  const vaultUrl = opts.vaultUrl.replace(/\/+$/, '');
  // Key Vault names are case-insensitive: `Name-Pending` and `name-pending` are one secret. A pending name
  // equal to the stable one would stage the unproven key straight into what production reads.
  if (stable.toLowerCase() === pending.toLowerCase())
    throw ApplicationFailure.create({
      type: VaultFailureTypes.SecretNamesCollide,
      message:
        `the pending secret name ${pending} is the stable secret name ${stable} in ${vaultUrl} (Key Vault ` +
        `names are case-insensitive): staging would overwrite what production reads; register a distinct ` +
        `pending name (e.g. ${stable}-pending)`,
      nonRetryable: true,
    });
  const log = opts.logger ?? silent;
  const settle = opts.settle ?? SETTLE;
  const budget = {
    deadlineMs: opts.budget?.deadlineMs ?? OPERATION_DEADLINE_MS,
    requestTimeoutMs: opts.budget?.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
  };
  const cancellationSignal = opts.cancellationSignal ?? currentActivitySignal;

  /** Starts one operation's clock: every SDK call below gets its signal and request timeout. */
  function begin(): VaultOperation {
    const cancellation = cancellationSignal();
    return startOperation({ ...budget, ...(cancellation ? { cancellation } : {}) });
  }

  async function call<T>(
    op: VaultOperation,
    operation: string,
    name: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw op.failure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** Like call, but a 404 (no such secret or version, or a deleted one) is `undefined`. */
  async function orMissing<T>(
    op: VaultOperation,
    operation: string,
    name: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (!op.signal.aborted && statusOf(err) === 404) return undefined;
      throw op.failure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** Every version's properties (no values); none when the secret does not exist. */
  async function versionsOf(op: VaultOperation, name: string): Promise<SecretProperties[]> {
    return (
      (await orMissing(op, 'list the versions of', name, async () => {
        const out: SecretProperties[] = [];
        // Pages after the first go out without the operation's signal (an SDK gap): stop waiting for them.
        const pages = client.listPropertiesOfSecretVersions(name, op.sdk).byPage();
        for (;;) {
          const page = await untilAborted(pages.next(), op.signal);
          if (page.done) return out;
          out.push(...page.value);
        }
      })) ?? []
    );
  }

  /** The newest version with its value; undefined when missing, deleted or disabled. */
  async function newest(
    op: VaultOperation,
    name: string,
    operation: string,
  ): Promise<KeyVaultSecret | undefined> {
    try {
      return await client.getSecret(name, op.sdk);
    } catch (err) {
      if (!op.signal.aborted && (statusOf(err) === 404 || isDisabledError(err))) return undefined;
      throw op.failure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** The newest version's properties, also when it is disabled; undefined when missing or deleted. */
  async function newestProps(
    op: VaultOperation,
    name: string,
    operation: string,
  ): Promise<SecretProperties | undefined> {
    try {
      return (await client.getSecret(name, op.sdk)).properties;
    } catch (err) {
      if (!op.signal.aborted && statusOf(err) === 404) return undefined;
      if (op.signal.aborted || !isDisabledError(err))
        throw op.failure(err, { vaultUrl, secretName: name, operation });
    }
    // Disabled: the list has its properties; creation times are whole seconds, so this is best effort.
    return (await versionsOf(op, name)).sort(
      (a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0),
    )[0];
  }

  /** Polls a delete or recover until Key Vault reports it done, sleeping abortably in between. */
  async function settled<T>(
    op: VaultOperation,
    poller: Poller<T>,
    operation: string,
    name: string,
  ): Promise<void> {
    while (!poller.isDone()) {
      await op.sleep(settle.intervalMs, { vaultUrl, secretName: name, operation });
      await poller.poll({ abortSignal: op.signal });
    }
  }

  function noValue(name: string, version: string | undefined): ApplicationFailure {
    return ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${version ?? '(newest)'} of ${name} in ${vaultUrl} came back without a value`,
      nonRetryable: true,
    });
  }

  function fingerprintOf(p: SecretProperties, value?: string): Fingerprint {
    if (value !== undefined) return fingerprint(value);
    const tagged = tagsOf(p)[Tag.fingerprint];
    if (tagged?.startsWith('sha256:')) return tagged as Fingerprint;
    throw ApplicationFailure.create({
      type: FailureTypes.SecretNotFound,
      message: `version ${p.version} of ${p.name} in ${vaultUrl} has no rekey fingerprint tag and its value cannot be read`,
      nonRetryable: true,
    });
  }

  function ref(p: SecretProperties, value?: string): SecretVersionRef {
    const gatewayKeyId = tagsOf(p)[Tag.gatewayKey];
    return {
      vaultUrl,
      name: p.name,
      version: p.version ?? '',
      fingerprint: fingerprintOf(p, value),
      enabled: p.enabled ?? true,
      ...(p.createdOn ? { createdAt: p.createdOn.toISOString() } : {}),
      ...(gatewayKeyId ? { gatewayKeyId } : {}),
    };
  }

  function record(p: SecretProperties): SecretVersionRecord {
    const tags = tagsOf(p);
    const fp = tags[Tag.fingerprint];
    const stage: SecretStage | undefined = stageOf(p);
    return {
      vaultUrl,
      name: p.name,
      version: p.version ?? '',
      enabled: p.enabled ?? true,
      ...(p.createdOn ? { createdAt: p.createdOn.toISOString() } : {}),
      ...(p.updatedOn ? { updatedAt: p.updatedOn.toISOString() } : {}),
      ...(fp?.startsWith('sha256:') ? { fingerprint: fp as Fingerprint } : {}),
      ...(stage ? { stage } : {}),
      ...(tags[Tag.rotation] ? { rotationId: tags[Tag.rotation] } : {}),
      ...(tags[Tag.gatewayKey] ? { gatewayKeyId: tags[Tag.gatewayKey] } : {}),
      tags: { ...tags },
    };
  }

  /**
   * Fails before anything is written when one of an operation's writes would break Key Vault's tag limits:
   * a 400 after the flip would leave a half-done promote or rollback. Names only, never tag values.
   */
  function assertTagLimits(operation: string, planned: PlannedTags[]): void {
    for (const { what, tags } of planned) {
      const names = Object.keys(tags);
      if (names.length > TAG_LIMITS.count) {
        const user = names.filter((n) => !isRekeyTag(n));
        const rekey = names.length - user.length;
        throw ApplicationFailure.create({
          type: VaultFailureTypes.VaultTagLimit,
          message:
            `cannot ${operation} ${stable} in ${vaultUrl}: ${what} would need ${names.length} tags ` +
            `(${rekey} of rekey's and ${user.length} carried forward: ${user.join(', ')}), Key Vault allows ` +
            `${TAG_LIMITS.count}; nothing was written. Remove at least ${names.length - TAG_LIMITS.count} ` +
            `of those tags from the current version of ${stable} (at most ${TAG_LIMITS.count - rekey} can be ` +
            `carried), then retry`,
          nonRetryable: true,
        });
      }
      for (const [name, value] of Object.entries(tags)) {
        if (name.length > TAG_LIMITS.nameLength || value.length > TAG_LIMITS.valueLength)
          throw ApplicationFailure.create({
            type: VaultFailureTypes.VaultTagLimit,
            message:
              `cannot ${operation} ${stable} in ${vaultUrl}: tag ${name.slice(0, 64)} of ${what} has a ` +
              `${name.length}-character name and a ${value.length}-character value; Key Vault allows ` +
              `${TAG_LIMITS.nameLength} and ${TAG_LIMITS.valueLength}; nothing was written`,
            nonRetryable: true,
          });
      }
    }
  }

  /**
   * What a copy forward keeps of the version it replaces, so apps and policies see the same secret with a
   * new value: its content type, the platform team's (non-rekey) tags, and these validity dates:
   * - expiry: kept while it is still ahead. An expiry an Azure Policy demands ("secrets should have an
   *   expiration date") survives the flip, and a rotation never quietly extends the lifetime the platform
   *   set (renewing it is the owner's call). A past expiry is not copied — it would publish a version that
   *   is expired on arrival; a policy that then denies the write surfaces as VaultPolicyDenied.
   * - not-before: kept once reached; a future one is dropped, because the copy must be valid the moment it
   *   becomes the newest version apps read.
   */
  function carriedFrom(p: SecretProperties): CarriedForward {
    const now = Date.now();
    return {
      tags: userTagsOf(p),
      ...(p.contentType ? { contentType: p.contentType } : {}),
      ...(p.expiresOn && p.expiresOn.getTime() > now ? { expiresOn: p.expiresOn } : {}),
      ...(p.notBefore && p.notBefore.getTime() <= now ? { notBefore: p.notBefore } : {}),
    };
  }

  /** Replaces a version's tags (Key Vault replaces the whole set) and optionally disables it. */
  async function retag(
    op: VaultOperation,
    p: SecretProperties,
    changes: Record<string, string>,
    operation: string,
    enabled?: boolean,
  ): Promise<SecretProperties> {
    const tags = { ...tagsOf(p), ...changes };
    assertTagLimits(operation, [{ what: `version ${p.version} of ${p.name}`, tags }]);
    return call(op, operation, p.name, () =>
      client.updateSecretProperties(p.name, p.version ?? '', {
        ...op.sdk,
        tags,
        ...(enabled === undefined ? {} : { enabled }),
      }),
    );
  }

  /**
   * Set Secret that also copes with the name being soft-deleted (a pending secret deleted by an earlier
   * rotation): purge it, or recover it where purging is not allowed (purge protection, no permission),
   * then write again. Key Vault finishes deletes, purges and recovers asynchronously (409 meanwhile),
   * hence the bounded waiting.
   */
  async function setSecret(
    op: VaultOperation,
    name: string,
    value: string,
    write: CarriedForward,
    operation: string,
  ): Promise<KeyVaultSecret> {
    assertTagLimits(operation, [{ what: `the new version of ${name}`, tags: write.tags }]);
    const ctx = { vaultUrl, secretName: name, operation };
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.setSecret(name, value, { ...op.sdk, ...write });
      } catch (err) {
        if (op.signal.aborted || statusOf(err) !== 409 || attempt >= settle.attempts)
          throw op.failure(err, ctx);
      }
      const deleted = await orMissing(op, 'look up the deleted secret', name, () =>
        client.getDeletedSecret(name, op.sdk),
      );
      if (deleted) await clearDeleted(op, name);
      await op.sleep(settle.intervalMs, ctx);
    }
  }

  /** Frees a soft-deleted name: purge when allowed, else recover it (its old versions come back). */
  async function clearDeleted(op: VaultOperation, name: string): Promise<void> {
    try {
      await client.purgeDeletedSecret(name, op.sdk);
      log.info({ vaultUrl, secret: name }, 'purged the soft-deleted secret so its name can be reused');
      return;
    } catch (err) {
      const status = op.signal.aborted ? undefined : statusOf(err);
      if (status === 404) return;
      if (status === 409) return; // still being deleted: the caller waits and tries again
      if (status !== 403) throw op.failure(err, { vaultUrl, secretName: name, operation: 'purge' });
    }
    await call(op, 'recover', name, async () =>
      settled(
        op,
        await client.beginRecoverDeletedSecret(name, { ...op.sdk, intervalInMs: settle.intervalMs }),
        'recover',
        name,
      ),
    );
    log.info(
      { vaultUrl, secret: name },
      'recovered the soft-deleted secret (purge not allowed) to reuse its name',
    );
  }

  /** Soft-deletes the pending secret of this rotation and purges it where allowed; gone already is fine. */
  async function dropPending(op: VaultOperation, rotationId: string, operation: string): Promise<void> {
    const rot = rotationTag(rotationId);
    const props = await newestProps(op, pending, 'read the pending secret');
    if (props) {
      const owner = tagsOf(props)[Tag.rotation];
      if (owner !== rot) {
        // Staged by another rotation since, or not by rekey at all: not ours to remove.
        log.warn(
          { vaultUrl, secret: pending, rotationId, owner: owner ?? null },
          'the pending secret is not this rotation’s; left in place',
        );
        return;
      }
      await orMissing(op, operation, pending, async () =>
        settled(
          op,
          await client.beginDeleteSecret(pending, { ...op.sdk, intervalInMs: settle.intervalMs }),
          operation,
          pending,
        ),
      );
      log.info({ vaultUrl, secret: pending, rotationId }, 'soft-deleted the pending secret');
    }
    const deleted = await orMissing(op, 'look up the deleted secret', pending, () =>
      client.getDeletedSecret(pending, op.sdk),
    );
    if (!deleted) return;
    if (tagsOf(deleted.properties)[Tag.rotation] !== rot) return;
    try {
      await client.purgeDeletedSecret(pending, op.sdk);
      log.info({ vaultUrl, secret: pending, rotationId }, 'purged the pending secret');
    } catch (err) {
      // Purge protection or no purge permission: the soft-deleted secret expires on its own, and the next
      // stagePending recovers or purges it first.
      if (op.signal.aborted || ![403, 404, 409].includes(statusOf(err) ?? 0))
        throw op.failure(err, { vaultUrl, secretName: pending, operation: 'purge' });
      log.info(
        { vaultUrl, secret: pending, rotationId, status: statusOf(err) },
        'pending secret left soft-deleted',
      );
    }
  }

  function mismatch(rotationId: string, version: string, problems: string[]): ApplicationFailure {
    return ApplicationFailure.create({
      type: FailureTypes.StagedKeyMismatch,
      message:
        `refusing to promote pending version ${version} of ${pending} in ${vaultUrl} for rotation ` +
        `${rotationId}: ${problems.join('; ')}`,
      nonRetryable: true,
    });
  }

  return {
    async readCurrent() {
      const op = begin();
      const s = await call(op, 'read the newest version of', stable, () => client.getSecret(stable, op.sdk));
      return ref(s.properties, s.value);
    },

    async readPending(rotationId) {
      const op = begin();
      const s = await newest(op, pending, 'read the pending secret');
      if (!s || tagsOf(s.properties)[Tag.rotation] !== rotationTag(rotationId)) return undefined;
      return ref(s.properties, s.value);
    },

    async resolve(r) {
      const op = begin();
      const s = await call(op, `read version ${r.version} of`, r.name, () =>
        client.getSecret(r.name, { ...op.sdk, version: r.version }),
      );
      if (s.value === undefined) throw noValue(r.name, r.version);
      return s.value;
    },

    async stagePending(rotationId, value, gatewayKeyId) {
      const op = begin();
      const rot = rotationTag(rotationId);
      const fp = fingerprint(value);
      const existing = await newest(op, pending, 'read the pending secret');
      if (existing && tagsOf(existing.properties)[Tag.rotation] === rot && existing.value === value) {
        log.info(
          { vaultUrl, secret: pending, rotationId, version: existing.properties.version, fingerprint: fp },
          'pending version already staged by this rotation; reused',
        );
        return ref(existing.properties, existing.value);
      }
      const tags: Record<string, string> = {
        [Tag.rotation]: rot,
        [Tag.stage]: 'pending',
        [Tag.fingerprint]: fp,
        ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
      };
      const written = await setSecret(op, pending, value, { tags }, 'stage the replacement key as');
      log.info(
        { vaultUrl, secret: pending, rotationId, version: written.properties.version, fingerprint: fp },
        'staged the replacement key as the pending version',
      );
      return ref(written.properties, value);
    },

    async promote(rotationId, expected) {
      const op = begin();
      const rot = rotationTag(rotationId);
      const versions = await versionsOf(op, stable);
      const done = promotedBy(versions, rotationId);
      if (done) return finishPromote(op, rotationId, done, versions, expected);

      // The version the canary proved, by id: a pending version written after the canary (a late second
      // hand-off) is never what becomes current.
      const staged = await orMissing(op, `read pending version ${expected.version} of`, pending, () =>
        client.getSecret(pending, { ...op.sdk, version: expected.version }),
      );
      if (!staged || staged.value === undefined)
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `pending version ${expected.version} of ${pending} in ${vaultUrl} (rotation ${rotationId}) is gone; nothing was promoted`,
          nonRetryable: true,
        });
      const stagedTags = tagsOf(staged.properties);
      const fp = fingerprint(staged.value);
      const problems: string[] = [];
      if (stagedTags[Tag.rotation] !== rot)
        problems.push(`it is tagged for rotation ${stagedTags[Tag.rotation] ?? '(none)'}, not this one`);
      if (stagedTags[Tag.fingerprint] !== expected.fingerprint)
        problems.push(
          `its fingerprint tag is ${stagedTags[Tag.fingerprint] ?? '(none)'}, the canary proved ${expected.fingerprint}`,
        );
      if (fp !== expected.fingerprint)
        problems.push(`its value's fingerprint is ${fp}, the canary proved ${expected.fingerprint}`);
      if (problems.length > 0) throw mismatch(rotationId, expected.version, problems);

      const later = (await versionsOf(op, pending)).filter(
        (v) =>
          v.version !== expected.version &&
          (v.createdOn?.getTime() ?? 0) >= (staged.properties.createdOn?.getTime() ?? 0),
      );
      if (later.length > 0)
        log.warn(
          {
            vaultUrl,
            secret: pending,
            rotationId,
            promoting: expected.version,
            notPromoted: later.map((v) => ({
              version: v.version,
              fingerprint: tagsOf(v)[Tag.fingerprint] ?? null,
            })),
          },
          'other pending versions exist (written after the canaried one?); only the canaried version is promoted',
        );

      const replaced = await call(op, 'read the newest version of', stable, () =>
        client.getSecret(stable, op.sdk),
      );
      const replacedVersion = replaced.properties.version ?? '';
      const gatewayKeyId = stagedTags[Tag.gatewayKey];
      const carried = carriedFrom(replaced.properties);
      // The new version names the one it replaces, in the same write: a retry after a crash between
      // here and the re-tagging below still knows which version became "previous".
      const tags = {
        ...carried.tags,
        [Tag.rotation]: rot,
        [Tag.stage]: 'current',
        [Tag.fingerprint]: fp,
        [Tag.replaces]: replacedVersion,
        [Tag.promotes]: expected.version,
        ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
      };
      const previousChanges = {
        [Tag.stage]: 'previous',
        [Tag.replacedBy]: rot,
        [Tag.fingerprint]: fingerprintOf(replaced.properties, replaced.value),
      };
      assertTagLimits('promote into', [
        { what: `the new version of ${stable}`, tags },
        {
          what: `version ${replacedVersion} of ${stable}`,
          tags: { ...tagsOf(replaced.properties), ...previousChanges },
        },
      ]);
      const written = await setSecret(
        op,
        stable,
        staged.value,
        { ...carried, tags },
        'promote the pending value into',
      );
      const previous = await retag(op, replaced.properties, previousChanges, 'mark the replaced version of');
      log.info(
        {
          vaultUrl,
          secret: stable,
          rotationId,
          promoted: expected.version,
          current: written.properties.version,
          previous: previous.version,
          fingerprint: fp,
        },
        'promoted the canaried pending version to the newest version of the stable path',
      );
      await dropPending(op, rotationId, 'delete the pending secret');
      return { current: ref(written.properties, staged.value), previous: ref(previous) };
    },

    async rollback(rotationId) {
      const op = begin();
      const rot = rotationTag(rotationId);
      const versions = await versionsOf(op, stable);
      const promoted = promotedBy(versions, rotationId);
      // Nothing was promoted: the stable path still holds the old key (pre-flip rollback discards pending).
      if (!promoted) return {};
      let copy = rollbackCopy(versions, rotationId, promoted.version ?? '');
      const rolledBackTags = { ...tagsOf(promoted), [Tag.stage]: 'rolled-back' };
      if (!copy) {
        const previousVersion = tagsOf(promoted)[Tag.replaces];
        if (!previousVersion)
          throw ApplicationFailure.create({
            type: FailureTypes.SecretNotFound,
            message: `version ${promoted.version} of ${stable} has no ${Tag.replaces} tag: nothing to roll back to`,
            nonRetryable: true,
          });
        const previous = await call(op, `read the previous version ${previousVersion} of`, stable, () =>
          client.getSecret(stable, { ...op.sdk, version: previousVersion }),
        );
        if (previous.value === undefined) throw noValue(stable, previousVersion);
        const gatewayKeyId = tagsOf(previous.properties)[Tag.gatewayKey];
        // The copy replaces the rolled-back version as the newest: it keeps that version's metadata.
        const carried = carriedFrom(promoted);
        const tags = {
          ...carried.tags,
          [Tag.rotation]: rot,
          [Tag.stage]: 'current',
          [Tag.fingerprint]: fingerprint(previous.value),
          [Tag.rollsBack]: promoted.version ?? '',
          [Tag.restores]: previousVersion,
          ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
        };
        assertTagLimits('roll back', [
          { what: `the rollback copy in ${stable}`, tags },
          { what: `version ${promoted.version} of ${stable}`, tags: rolledBackTags },
        ]);
        // Copy forward first, disable second: apps reading the newest version never meet a disabled one.
        const written = await setSecret(
          op,
          stable,
          previous.value,
          { ...carried, tags },
          'restore the previous value into',
        );
        copy = written.properties;
      }
      const disabled =
        promoted.enabled === false && stageOf(promoted) === 'rolled-back'
          ? promoted
          : await retag(
              op,
              promoted,
              { [Tag.stage]: 'rolled-back' },
              'disable the rolled-back version of',
              false,
            );
      log.info(
        { vaultUrl, secret: stable, rotationId, restored: copy.version, disabled: disabled.version },
        'rolled the stable path back: old value copied forward, new version disabled',
      );
      return { restored: ref(copy), disabled: ref(disabled) };
    },

    async retirePrevious(rotationId) {
      const op = begin();
      const versions = await versionsOf(op, stable);
      const promoted = promotedBy(versions, rotationId);
      if (!promoted || stageOf(promoted) === 'rolled-back') return undefined;
      const previous = versions.find((v) => v.version === tagsOf(promoted)[Tag.replaces]);
      if (!previous) return undefined;
      if (previous.enabled === false && stageOf(previous) === 'retired') return ref(previous);
      const retired = await retag(
        op,
        previous,
        { [Tag.stage]: 'retired', [Tag.replacedBy]: rotationTag(rotationId) },
        'disable the previous version of',
        false,
      );
      log.info(
        { vaultUrl, secret: stable, rotationId, version: retired.version },
        'retired (disabled) the previous version',
      );
      return ref(retired);
    },

    async discardPending(rotationId) {
      await dropPending(begin(), rotationId, 'discard the pending secret');
    },

    async history() {
      const op = begin();
      const all = [...(await versionsOf(op, stable)), ...(await versionsOf(op, pending))].map(record);
      // Key Vault lists versions in no particular order and keeps creation times to the second; within a
      // second, a version that names another (replaces, rolls back, restores) comes after it.
      const byVersion = new Map(all.map((r) => [r.version, r]));
      const depth = (r: SecretVersionRecord, seen = new Set<string>()): number => {
        if (seen.has(r.version)) return 0;
        seen.add(r.version);
        const refs = [Tag.replaces, Tag.rollsBack, Tag.restores]
          .map((t) => byVersion.get(r.tags[t] ?? ''))
          .filter((x): x is SecretVersionRecord => x !== undefined);
        return refs.length ? 1 + Math.max(...refs.map((x) => depth(x, new Set(seen)))) : 0;
      };
      return all.sort(
        (a, b) =>
          (a.createdAt ?? '').localeCompare(b.createdAt ?? '') ||
          depth(a) - depth(b) ||
          a.name.localeCompare(b.name) ||
          a.version.localeCompare(b.version),
      );
    },
  };

  /** promote after an earlier attempt already wrote the new version: check it is the canaried one, finish. */
  async function finishPromote(
    op: VaultOperation,
    rotationId: string,
    promoted: SecretProperties,
    versions: SecretProperties[],
    expected: { version: string; fingerprint: Fingerprint },
  ): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }> {
    if (stageOf(promoted) === 'rolled-back')
      throw ApplicationFailure.create({
        type: VaultFailureTypes.RotationRolledBack,
        message: `rotation ${rotationId} already rolled ${stable} back (version ${promoted.version} is disabled); promote refused`,
        nonRetryable: true,
      });
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
    if (problems.length > 0) throw mismatch(rotationId, expected.version, problems);
    let previous = versions.find((v) => v.version === tags[Tag.replaces]);
    if (!previous)
      throw ApplicationFailure.create({
        type: FailureTypes.SecretNotFound,
        message: `the version ${stable} had before rotation ${rotationId} is gone from ${vaultUrl}`,
        nonRetryable: true,
      });
    if (tagsOf(previous)[Tag.replacedBy] !== rotationTag(rotationId)) {
      const value = previous.enabled === false ? undefined : await resolveValue(op, previous);
      previous = await retag(
        op,
        previous,
        {
          [Tag.stage]: 'previous',
          [Tag.replacedBy]: rotationTag(rotationId),
          [Tag.fingerprint]: fingerprintOf(previous, value),
        },
        'mark the replaced version of',
      );
    }
    await dropPending(op, rotationId, 'delete the pending secret');
    log.info(
      { vaultUrl, secret: stable, rotationId, current: promoted.version, previous: previous.version },
      'promote already done by an earlier attempt; nothing written',
    );
    return { current: ref(promoted), previous: ref(previous) };
  }

  async function resolveValue(op: VaultOperation, p: SecretProperties): Promise<string | undefined> {
    const s = await call(op, `read version ${p.version} of`, p.name, () =>
      client.getSecret(p.name, { ...op.sdk, version: p.version ?? '' }),
    );
    return s.value;
  }
}
