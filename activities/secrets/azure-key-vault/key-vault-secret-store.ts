// SecretStore on Azure Key Vault (DESIGN "Secret version model"): apps read the stable path `name`
// (its newest version); the replacement waits in `name-pending`; promote copies it forward as the newest
// stable version, rollback copies the old value forward again and disables the rolled-back version,
// retirement disables the previous version. Every operation first looks at the versions' rekey tags for
// what an earlier attempt of the same rotation already did, so a retried activity never writes twice.
// Key values stay inside this module: results, logs and errors carry ids, stages and fingerprints only.
import type { KeyVaultSecret, SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../common/failures';
import { fingerprint } from '../../fingerprint';
import type { SecretStore } from '../../ports';
import type { Fingerprint, SecretStage, SecretVersionRecord, SecretVersionRef } from '../../types';
import { promotedBy, rollbackCopy, stageOf, Tag, tagsOf } from './tags';
import { isDisabledError, statusOf, vaultFailure, VaultFailureTypes } from './vault-errors';

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
  /** Where the replacement waits before the flip, read by canaries. */
  pendingSecretName: string;
  logger?: SecretStoreLogger;
  /** Key Vault deletes, purges and recovers asynchronously; how long a reused name may stay in conflict. */
  settle?: { attempts: number; intervalMs: number };
}

const silent: SecretStoreLogger = { info: () => undefined, warn: () => undefined };

/** A SecretStore over one credential's stable and pending secrets in one vault. */
export function createKeyVaultSecretStore(opts: KeyVaultSecretStoreOptions): SecretStore {
  const { client, secretName: stable, pendingSecretName: pending } = opts;
  const vaultUrl = opts.vaultUrl.replace(/\/+$/, '');
  const log = opts.logger ?? silent;
  const settle = opts.settle ?? { attempts: 10, intervalMs: 1_000 };

  async function call<T>(operation: string, name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw vaultFailure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** Like call, but a 404 (no such secret or version, or a deleted one) is `undefined`. */
  async function orMissing<T>(operation: string, name: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw vaultFailure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** Every version's properties (no values); none when the secret does not exist. */
  async function versionsOf(name: string): Promise<SecretProperties[]> {
    return (
      (await orMissing('list the versions of', name, async () => {
        const out: SecretProperties[] = [];
        for await (const p of client.listPropertiesOfSecretVersions(name)) out.push(p);
        return out;
      })) ?? []
    );
  }

  /** The newest version with its value; undefined when missing, deleted or disabled. */
  async function newest(name: string, operation: string): Promise<KeyVaultSecret | undefined> {
    try {
      return await client.getSecret(name);
    } catch (err) {
      if (statusOf(err) === 404 || isDisabledError(err)) return undefined;
      throw vaultFailure(err, { vaultUrl, secretName: name, operation });
    }
  }

  /** The newest version's properties, also when it is disabled; undefined when missing or deleted. */
  async function newestProps(name: string, operation: string): Promise<SecretProperties | undefined> {
    try {
      return (await client.getSecret(name)).properties;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      if (!isDisabledError(err)) throw vaultFailure(err, { vaultUrl, secretName: name, operation });
    }
    // Disabled: the list has its properties; creation times are whole seconds, so this is best effort.
    return (await versionsOf(name)).sort(
      (a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0),
    )[0];
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

  /** Replaces a version's tags (Key Vault replaces the whole set) and optionally disables it. */
  async function retag(
    p: SecretProperties,
    changes: Record<string, string>,
    operation: string,
    enabled?: boolean,
  ): Promise<SecretProperties> {
    return call(operation, p.name, () =>
      client.updateSecretProperties(p.name, p.version ?? '', {
        tags: { ...tagsOf(p), ...changes },
        ...(enabled === undefined ? {} : { enabled }),
      }),
    );
  }

  /**
   * Set Secret that also copes with the name being soft-deleted (a pending secret deleted by an earlier
   * rotation): purge it, or recover it where purging is not allowed (purge protection, no permission),
   * then write again. Key Vault finishes deletes and purges asynchronously, hence the bounded waiting.
   */
  async function setSecret(
    name: string,
    value: string,
    tags: Record<string, string>,
    operation: string,
  ): Promise<KeyVaultSecret> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.setSecret(name, value, { tags });
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= settle.attempts)
          throw vaultFailure(err, { vaultUrl, secretName: name, operation });
      }
      const deleted = await orMissing('look up the deleted secret', name, () =>
        client.getDeletedSecret(name),
      );
      if (deleted) await clearDeleted(name);
      await new Promise((r) => setTimeout(r, settle.intervalMs));
    }
  }

  /** Frees a soft-deleted name: purge when allowed, else recover it (its old versions come back). */
  async function clearDeleted(name: string): Promise<void> {
    try {
      await client.purgeDeletedSecret(name);
      log.info({ vaultUrl, secret: name }, 'purged the soft-deleted secret so its name can be reused');
      return;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      if (status === 409) return; // still being deleted: the caller waits and tries again
      if (status !== 403) throw vaultFailure(err, { vaultUrl, secretName: name, operation: 'purge' });
    }
    const poller = await call('recover', name, () => client.beginRecoverDeletedSecret(name));
    await call('recover', name, () => poller.pollUntilDone());
    log.info(
      { vaultUrl, secret: name },
      'recovered the soft-deleted secret (purge not allowed) to reuse its name',
    );
  }

  /** Soft-deletes the pending secret of this rotation and purges it where allowed; gone already is fine. */
  async function dropPending(rotationId: string, operation: string): Promise<void> {
    const props = await newestProps(pending, 'read the pending secret');
    if (props) {
      const owner = tagsOf(props)[Tag.rotation];
      if (owner !== rotationId) {
        // Staged by another rotation since, or not by rekey at all: not ours to remove.
        log.warn(
          { vaultUrl, secret: pending, rotationId, owner: owner ?? null },
          'the pending secret is not this rotation’s; left in place',
        );
        return;
      }
      const poller = await orMissing(operation, pending, () => client.beginDeleteSecret(pending));
      if (poller) await orMissing(operation, pending, () => poller.pollUntilDone());
      log.info({ vaultUrl, secret: pending, rotationId }, 'soft-deleted the pending secret');
    }
    const deleted = await orMissing('look up the deleted secret', pending, () =>
      client.getDeletedSecret(pending),
    );
    if (!deleted) return;
    if (tagsOf(deleted.properties)[Tag.rotation] !== rotationId) return;
    try {
      await client.purgeDeletedSecret(pending);
      log.info({ vaultUrl, secret: pending, rotationId }, 'purged the pending secret');
    } catch (err) {
      // Purge protection or no purge permission: the soft-deleted secret expires on its own, and the next
      // stagePending recovers or purges it first.
      if (![403, 404, 409].includes(statusOf(err) ?? 0))
        throw vaultFailure(err, { vaultUrl, secretName: pending, operation: 'purge' });
      log.info(
        { vaultUrl, secret: pending, rotationId, status: statusOf(err) },
        'pending secret left soft-deleted',
      );
    }
  }

  return {
    async readCurrent() {
      const s = await call('read the newest version of', stable, () => client.getSecret(stable));
      return ref(s.properties, s.value);
    },

    async readPending(rotationId) {
      const s = await newest(pending, 'read the pending secret');
      if (!s || tagsOf(s.properties)[Tag.rotation] !== rotationId) return undefined;
      return ref(s.properties, s.value);
    },

    async resolve(r) {
      const s = await call(`read version ${r.version} of`, r.name, () =>
        client.getSecret(r.name, { version: r.version }),
      );
      if (s.value === undefined) throw noValue(r.name, r.version);
      return s.value;
    },

    async stagePending(rotationId, value, gatewayKeyId) {
      const fp = fingerprint(value);
      const existing = await newest(pending, 'read the pending secret');
      if (existing && tagsOf(existing.properties)[Tag.rotation] === rotationId && existing.value === value) {
        log.info(
          { vaultUrl, secret: pending, rotationId, version: existing.properties.version, fingerprint: fp },
          'pending version already staged by this rotation; reused',
        );
        return ref(existing.properties, existing.value);
      }
      const tags: Record<string, string> = {
        [Tag.rotation]: rotationId,
        [Tag.stage]: 'pending',
        [Tag.fingerprint]: fp,
        ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
      };
      const written = await setSecret(pending, value, tags, 'stage the replacement key as');
      log.info(
        { vaultUrl, secret: pending, rotationId, version: written.properties.version, fingerprint: fp },
        'staged the replacement key as the pending version',
      );
      return ref(written.properties, value);
    },

    async promote(rotationId) {
      const versions = await versionsOf(stable);
      const done = promotedBy(versions, rotationId);
      if (done) return finishPromote(rotationId, done, versions);

      const staged = await newest(pending, 'read the pending secret');
      if (!staged || tagsOf(staged.properties)[Tag.rotation] !== rotationId || staged.value === undefined) {
        throw ApplicationFailure.create({
          type: FailureTypes.SecretNotFound,
          message: `no pending version of rotation ${rotationId} in ${pending} at ${vaultUrl} to promote`,
          nonRetryable: true,
        });
      }
      const replaced = await call('read the newest version of', stable, () => client.getSecret(stable));
      const fp = fingerprint(staged.value);
      const gatewayKeyId = tagsOf(staged.properties)[Tag.gatewayKey];
      // The new version names the one it replaces, in the same write: a retry after a crash between
      // here and the re-tagging below still knows which version became "previous".
      const written = await setSecret(
        stable,
        staged.value,
        {
          [Tag.rotation]: rotationId,
          [Tag.stage]: 'current',
          [Tag.fingerprint]: fp,
          [Tag.replaces]: replaced.properties.version ?? '',
          ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
        },
        'promote the pending value into',
      );
      const previous = await retag(
        replaced.properties,
        {
          [Tag.stage]: 'previous',
          [Tag.replacedBy]: rotationId,
          [Tag.fingerprint]: fingerprintOf(replaced.properties, replaced.value),
        },
        'mark the replaced version of',
      );
      log.info(
        {
          vaultUrl,
          secret: stable,
          rotationId,
          current: written.properties.version,
          previous: previous.version,
          fingerprint: fp,
        },
        'promoted the pending value to the newest version of the stable path',
      );
      await dropPending(rotationId, 'delete the pending secret');
      return { current: ref(written.properties, staged.value), previous: ref(previous) };
    },

    async rollback(rotationId) {
      const versions = await versionsOf(stable);
      const promoted = promotedBy(versions, rotationId);
      // Nothing was promoted: the stable path still holds the old key (pre-flip rollback discards pending).
      if (!promoted) return {};
      let copy = rollbackCopy(versions, rotationId, promoted.version ?? '');
      if (!copy) {
        const previousVersion = tagsOf(promoted)[Tag.replaces];
        if (!previousVersion)
          throw ApplicationFailure.create({
            type: FailureTypes.SecretNotFound,
            message: `version ${promoted.version} of ${stable} has no ${Tag.replaces} tag: nothing to roll back to`,
            nonRetryable: true,
          });
        const previous = await call(`read the previous version ${previousVersion} of`, stable, () =>
          client.getSecret(stable, { version: previousVersion }),
        );
        if (previous.value === undefined) throw noValue(stable, previousVersion);
        const gatewayKeyId = tagsOf(previous.properties)[Tag.gatewayKey];
        // Copy forward first, disable second: apps reading the newest version never meet a disabled one.
        const written = await setSecret(
          stable,
          previous.value,
          {
            [Tag.rotation]: rotationId,
            [Tag.stage]: 'current',
            [Tag.fingerprint]: fingerprint(previous.value),
            [Tag.rollsBack]: promoted.version ?? '',
            [Tag.restores]: previousVersion,
            ...(gatewayKeyId ? { [Tag.gatewayKey]: gatewayKeyId } : {}),
          },
          'restore the previous value into',
        );
        copy = written.properties;
      }
      const disabled =
        promoted.enabled === false && stageOf(promoted) === 'rolled-back'
          ? promoted
          : await retag(
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
      const versions = await versionsOf(stable);
      const promoted = promotedBy(versions, rotationId);
      if (!promoted || stageOf(promoted) === 'rolled-back') return undefined;
      const previous = versions.find((v) => v.version === tagsOf(promoted)[Tag.replaces]);
      if (!previous) return undefined;
      if (previous.enabled === false && stageOf(previous) === 'retired') return ref(previous);
      const retired = await retag(
        previous,
        { [Tag.stage]: 'retired', [Tag.replacedBy]: rotationId },
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
      await dropPending(rotationId, 'discard the pending secret');
    },

    async history() {
      const all = [...(await versionsOf(stable)), ...(await versionsOf(pending))].map(record);
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

  /** promote after an earlier attempt already wrote the new version: finish what is missing. */
  async function finishPromote(
    rotationId: string,
    promoted: SecretProperties,
    versions: SecretProperties[],
  ): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }> {
    if (stageOf(promoted) === 'rolled-back')
      throw ApplicationFailure.create({
        type: VaultFailureTypes.RotationRolledBack,
        message: `rotation ${rotationId} already rolled ${stable} back (version ${promoted.version} is disabled); promote refused`,
        nonRetryable: true,
      });
    let previous = versions.find((v) => v.version === tagsOf(promoted)[Tag.replaces]);
    if (!previous)
      throw ApplicationFailure.create({
        type: FailureTypes.SecretNotFound,
        message: `the version ${stable} had before rotation ${rotationId} is gone from ${vaultUrl}`,
        nonRetryable: true,
      });
    if (tagsOf(previous)[Tag.replacedBy] !== rotationId) {
      const value = previous.enabled === false ? undefined : await resolveValue(previous);
      previous = await retag(
        previous,
        {
          [Tag.stage]: 'previous',
          [Tag.replacedBy]: rotationId,
          [Tag.fingerprint]: fingerprintOf(previous, value),
        },
        'mark the replaced version of',
      );
    }
    await dropPending(rotationId, 'delete the pending secret');
    log.info(
      { vaultUrl, secret: stable, rotationId, current: promoted.version, previous: previous.version },
      'promote already done by an earlier attempt; nothing written',
    );
    return { current: ref(promoted), previous: ref(previous) };
  }

  async function resolveValue(p: SecretProperties): Promise<string | undefined> {
    const s = await call(`read version ${p.version} of`, p.name, () =>
      client.getSecret(p.name, { version: p.version ?? '' }),
    );
    return s.value;
  }
}
