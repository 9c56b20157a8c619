// SecretStore on AWS Secrets Manager, in AWS's own rotation model: apps (and AWS's caching clients) read the
// version labelled AWSCURRENT of one secret; the replacement is a new version of the same secret labelled
// AWSPENDING, written by PutSecretValue with a ClientRequestToken derived from the rotation id and the key's
// fingerprint; promote moves AWSCURRENT onto the canaried version (AWS moves AWSPREVIOUS onto the one it
// left) and removes AWSPENDING; rollback moves AWSCURRENT back and strips the rolled-back version of its
// labels; retirement strips the previous version of AWSPREVIOUS. A version without labels is what the
// port calls disabled: AWS deprecates it and deletes it in time, and rekey never uses its value again.
// Per-version facts (stage, rotation, fingerprint, gateway key id, replaced version) live in the secret's
// tags (version-facts.ts). Every operation looks first at labels and facts for what an earlier attempt of
// the same rotation did, so a retried activity never writes twice, and is bounded in time
// (operation-budget.ts). Key values stay inside this module: results, logs and errors carry ids only.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import {
  type Fingerprint,
  type SecretLocationOf,
  type SecretVersionRecord,
  type SecretVersionRef,
} from '../../../domain/secrets';
import { storeLabel } from '../../../domain/secret-refs';
import { fingerprint } from '../../../domain/fingerprint';
import type { SecretStore } from '../../../domain/ports';
import type { SecretStoreLogger } from '../backend';
import { AwsFailureTypes } from './aws-errors';
import {
  currentActivitySignal,
  OPERATION_DEADLINE_MS,
  startOperation,
  type AwsOperation,
} from './operation-budget';
import { factsIn, holderOf, Label, secretIo, type SecretView, type VersionView } from './secret-io';
import { planFactWrites } from './tag-plan';
import { rotationTag, stageToken, type VersionFacts } from './version-facts';

export interface SecretsManagerStoreOptions {
  client: SecretsManagerClient;
  location: SecretLocationOf<'aws-secrets-manager'>;
  logger?: SecretStoreLogger;
  /** One operation's deadline (default OPERATION_DEADLINE_MS). */
  deadlineMs?: number;
  /** The calling activity's cancellation; defaults to Temporal's activity Context, none outside one. */
  cancellationSignal?: () => AbortSignal | undefined;
}

const silent: SecretStoreLogger = { info: () => undefined, warn: () => undefined };

/** The secret id a ref names: the pending path `<id>@AWSPENDING` (secretPaths) is the same secret. */
function secretIdOf(name: string): string {
  return name.endsWith(`@${Label.pending}`) ? name.slice(0, -`@${Label.pending}`.length) : name;
}

/**
 * Oldest first, and never a version before the one it replaced: AWS's creation times can tie, and moto's
 * version list has no real ones (it reports the time of the call), so the list order decides ties.
 */
function chronological(versions: VersionView[]): VersionView[] {
  const out = [...versions];
  for (let guard = out.length * out.length, moved = true; moved && guard > 0; guard--) {
    moved = false;
    for (let i = 0; i < out.length && !moved; i++) {
      const j = out.findIndex((x) => x.id === out[i]?.facts.replaces);
      if (j > i) {
        out.splice(j, 0, ...out.splice(i, 1));
        moved = true;
      }
    }
  }
  return out;
}

/** The version this rotation's promote made AWSCURRENT (it records the version it replaced). */
function promotedBy(view: SecretView, rot: string): VersionView | undefined {
  return view.versions.find((v) => v.facts.rotation === rot && v.facts.replaces !== undefined);
}

/** A SecretStore over one Secrets Manager secret: AWSCURRENT is what apps read, AWSPENDING the replacement. */
export function createSecretsManagerStore(opts: SecretsManagerStoreOptions): SecretStore {
  const { location } = opts;
  const secretId = location.secretId;
  const store = storeLabel(location);
  const log = opts.logger ?? silent;
  const deadlineMs = opts.deadlineMs ?? OPERATION_DEADLINE_MS;
  const cancellationSignal = opts.cancellationSignal ?? currentActivitySignal;
  const io = secretIo({ client: opts.client, secretId, store, log });
  const where = { store, secret: secretId };

  function begin(): AwsOperation {
    const cancellation = cancellationSignal();
    return startOperation({ deadlineMs, ...(cancellation ? { cancellation } : {}) });
  }

  /** A ref; `createdAt` only from a value read (moto's version list reports the time of the call). */
  function ref(
    version: string,
    fp: Fingerprint,
    labels: string[],
    createdAt: string | undefined,
    facts: VersionFacts,
  ): SecretVersionRef {
    return {
      store,
      name: secretId,
      version,
      fingerprint: fp,
      enabled: labels.length > 0,
      ...(createdAt ? { createdAt } : {}),
      ...(facts.gatewayKeyId ? { gatewayKeyId: facts.gatewayKeyId } : {}),
    };
  }

  function fail(type: string, message: string): ApplicationFailure {
    return ApplicationFailure.create({ type, message, nonRetryable: true });
  }

  function mismatch(rotationId: string, version: string, problems: string[]): ApplicationFailure {
    return fail(
      FailureTypes.StagedKeyMismatch,
      `refusing to promote version ${version} of ${secretId} in ${store} for rotation ${rotationId}: ${problems.join('; ')}`,
    );
  }

  /** Plans the fact writes of an operation (throws on AWS's tag limits before anything is written). */
  function plan(view: SecretView, operation: string, changes: Array<[string, VersionFacts]>) {
    return planFactWrites({
      secretId,
      store,
      operation,
      tags: view.tags,
      versions: view.versions,
      changes: new Map(changes),
    });
  }

  /** Removes every label of a version (after AWSCURRENT has left it): rolled back or retired. */
  async function strip(op: AwsOperation, versionId: string): Promise<void> {
    const { labels } = await io.describe(op);
    for (const label of labels.get(versionId) ?? []) await io.moveLabel(op, label, undefined, versionId);
  }

  return {
    async readCurrent() {
      const op = begin();
      // Always by label: moto 5.2.5 answers GetSecretValue without a stage with the version first written.
      const v = await io.value(op, { stage: Label.current });
      const { tags } = await io.describe(op);
      return ref(v.id, fingerprint(v.value), v.labels, v.createdAt, factsIn(tags, v.id));
    },

    async readPending(rotationId) {
      const op = begin();
      const { labels, tags } = await io.describe(op);
      const id = holderOf(labels, Label.pending);
      if (!id) return undefined;
      const facts = factsIn(tags, id);
      if (facts.rotation !== rotationTag(rotationId) || labels.get(id)?.includes(Label.current))
        return undefined;
      const v = await io.value(op, { versionId: id });
      return ref(id, fingerprint(v.value), v.labels, v.createdAt, facts);
    },

    async resolve(r) {
      const op = begin();
      const id = secretIdOf(r.name);
      const v = await io.value(op, { versionId: r.version }, id);
      if (v.labels.length === 0)
        throw fail(
          FailureTypes.SecretDisabled,
          `version ${r.version} of ${id} in ${store} has no staging label (rolled back, retired or discarded); ` +
            `rekey does not use its value`,
        );
      return v.value;
    },

    async stagePending(rotationId, value, gatewayKeyId) {
      const op = begin();
      const rot = rotationTag(rotationId);
      const fp = fingerprint(value);
      const token = stageToken(rotationId, fp);
      const view = await io.view(op);
      const mine = view.byId(token);
      if (mine) {
        if (mine.facts.stage && mine.facts.stage !== 'pending')
          throw fail(
            AwsFailureTypes.RequestRejected,
            `rotation ${rotationId} already took this key past pending in ${secretId} (version ${token} is ` +
              `${mine.facts.stage}); staging it again is refused`,
          );
        // The token is derived from the fingerprint; the value itself decides (moto overwrites on a reused token).
        if ((await io.value(op, { versionId: token })).value !== value)
          throw fail(
            FailureTypes.StagedKeyMismatch,
            `version ${token} of ${secretId} in ${store} holds another value than this hand-off of rotation ${rotationId}`,
          );
      }
      const facts: VersionFacts = {
        ...mine?.facts,
        stage: 'pending',
        fingerprint: fp,
        rotation: rot,
        ...(gatewayKeyId ? { gatewayKeyId } : {}),
      };
      const tags = plan(view, 'stage the replacement key in', [[token, facts]]);

      // AWS's rule: an AWSPENDING on a version that is not AWSCURRENT means "a rotation is in progress" and
      // blocks the next one. Whoever left it (another run, AWS's own rotation Lambda, an earlier hand-off of
      // this rotation), the label moves to this hand-off, on record.
      const holder = view.labelled(Label.pending);
      if (holder && holder.id !== token) {
        const fields = { ...where, rotationId, version: holder.id, owner: holder.facts.rotation ?? null };
        if (holder.labels.includes(Label.current))
          log.info(fields, 'AWSPENDING was left on the AWSCURRENT version by an earlier rotation; removed');
        else if (holder.facts.rotation === rot)
          log.info(fields, 'an earlier hand-off of this rotation held AWSPENDING; the new key replaces it');
        else
          log.warn(
            fields,
            'a stale AWSPENDING (on a version that is not AWSCURRENT, left by another run) would block this rotation; removed',
          );
        await io.moveLabel(op, Label.pending, undefined, holder.id);
      }
      if (!mine) await io.putPending(op, token, value);
      else if (!mine.labels.includes(Label.pending)) await io.moveLabel(op, Label.pending, token, undefined);
      await io.applyTags(op, tags);
      const staged = await io.value(op, { versionId: token });
      log.info(
        { ...where, rotationId, version: token, fingerprint: fp },
        mine
          ? 'pending version already staged by this rotation; reused'
          : 'staged the replacement key as the AWSPENDING version',
      );
      return ref(token, fp, staged.labels, staged.createdAt, facts);
    },

    async promote(rotationId, expected) {
      const op = begin();
      const rot = rotationTag(rotationId);
      const view = await io.view(op);
      const staged = view.byId(expected.version);
      if (!staged)
        throw fail(
          FailureTypes.SecretNotFound,
          `pending version ${expected.version} of ${secretId} in ${store} (rotation ${rotationId}) is gone; nothing was promoted`,
        );
      const problems: string[] = [];
      if (staged.facts.rotation !== rot)
        problems.push(`it is recorded for rotation ${staged.facts.rotation ?? '(none)'}, not this one`);
      if (staged.facts.fingerprint !== expected.fingerprint)
        problems.push(
          `its recorded fingerprint is ${staged.facts.fingerprint ?? '(none)'}, the canary proved ${expected.fingerprint}`,
        );
      const earlier = promotedBy(view, rot);
      if (earlier && earlier.id !== staged.id)
        problems.push(`this rotation already promoted version ${earlier.id}`);
      if (problems.length > 0) throw mismatch(rotationId, expected.version, problems);
      if (staged.facts.stage === 'rolled-back')
        throw fail(
          AwsFailureTypes.RotationRolledBack,
          `rotation ${rotationId} already rolled ${secretId} back (version ${staged.id} has no labels); promote refused`,
        );
      const stagedValue = await io.value(op, { versionId: staged.id });
      const fp = fingerprint(stagedValue.value);
      if (fp !== expected.fingerprint)
        throw mismatch(rotationId, expected.version, [
          `its value's fingerprint is ${fp}, the canary proved ${expected.fingerprint}`,
        ]);

      const current = view.labelled(Label.current);
      const flipped = current?.id === staged.id;
      // The version AWSCURRENT leaves; after a flip (a retry) the one this rotation recorded.
      const previous = view.byId(
        flipped ? (staged.facts.replaces ?? view.labelled(Label.previous)?.id) : current?.id,
      );
      if (!previous)
        throw fail(
          FailureTypes.SecretNotFound,
          `${secretId} in ${store} has no AWSCURRENT version for rotation ${rotationId} to replace`,
        );
      const previousValue = await io.value(op, { versionId: previous.id });
      const previousFp = fingerprint(previousValue.value);
      const promotedFacts: VersionFacts = {
        ...staged.facts,
        stage: 'current',
        fingerprint: fp,
        replaces: previous.id,
      };
      const previousFacts: VersionFacts = { ...previous.facts, stage: 'previous', fingerprint: previousFp };
      const tags = plan(view, 'promote into', [
        [staged.id, promotedFacts],
        [previous.id, previousFacts],
      ]);

      // Facts first: a retry after a crash between here and the move knows which version it replaces.
      await io.applyTags(op, tags);
      if (!flipped) await io.moveLabel(op, Label.current, staged.id, previous.id);
      const { labels } = await io.describe(op);
      // AWS moves AWSPREVIOUS onto the version AWSCURRENT left; make sure, whoever moved what since.
      const previousHolder = holderOf(labels, Label.previous);
      if (previousHolder !== previous.id) await io.moveLabel(op, Label.previous, previous.id, previousHolder);
      const pendingHolder = holderOf(labels, Label.pending);
      if (
        pendingHolder &&
        (pendingHolder === staged.id || view.byId(pendingHolder)?.facts.rotation === rot)
      ) {
        if (pendingHolder !== staged.id)
          log.warn(
            { ...where, rotationId, promoted: staged.id, notPromoted: pendingHolder },
            'a later hand-off of this rotation held AWSPENDING; only the canaried version is promoted, the label is removed',
          );
        await io.moveLabel(op, Label.pending, undefined, pendingHolder);
      } else if (pendingHolder)
        log.warn(
          { ...where, rotationId, version: pendingHolder },
          'AWSPENDING is held by a version of another rotation or outside rekey; left in place',
        );
      log.info(
        { ...where, rotationId, current: staged.id, previous: previous.id, fingerprint: fp },
        flipped
          ? 'promote already done by an earlier attempt; finished'
          : 'promoted the canaried version: AWSCURRENT moved to it, AWSPREVIOUS to the replaced one',
      );
      return {
        current: ref(staged.id, fp, [Label.current], stagedValue.createdAt, promotedFacts),
        previous: ref(previous.id, previousFp, [Label.previous], previousValue.createdAt, previousFacts),
      };
    },

    async rollback(rotationId) {
      const op = begin();
      const view = await io.view(op);
      const promoted = promotedBy(view, rotationTag(rotationId));
      // Nothing was promoted: AWSCURRENT still holds the old key (a pre-flip rollback discards pending).
      if (!promoted) return {};
      const previous = view.byId(promoted.facts.replaces);
      if (!previous)
        throw fail(
          FailureTypes.SecretNotFound,
          `version ${promoted.facts.replaces} of ${secretId} in ${store}, which rotation ${rotationId} replaced, is gone: nothing to roll back to`,
        );
      const restoredValue = await io.value(op, { versionId: previous.id });
      const restoredFp = fingerprint(restoredValue.value);
      const restoredFacts: VersionFacts = { ...previous.facts, stage: 'current', fingerprint: restoredFp };
      const rolledBackFacts: VersionFacts = { ...promoted.facts, stage: 'rolled-back' };
      const tags = plan(view, 'roll back', [
        [promoted.id, rolledBackFacts],
        [previous.id, restoredFacts],
      ]);
      const current = view.labelled(Label.current);
      if (current && current.id !== previous.id && current.id !== promoted.id)
        log.warn(
          { ...where, rotationId, current: current.id, restoring: previous.id },
          'AWSCURRENT was moved to another version since the flip; rolling back to the replaced version all the same',
        );
      await io.applyTags(op, tags);
      if (current?.id !== previous.id) await io.moveLabel(op, Label.current, previous.id, current?.id);
      // AWS moved AWSPREVIOUS onto the rolled-back version: it loses every label, so nothing reads it.
      await strip(op, promoted.id);
      log.info(
        { ...where, rotationId, restored: previous.id, rolledBack: promoted.id },
        'rolled back: AWSCURRENT moved back to the replaced version, the rolled-back version has no labels',
      );
      return {
        restored: ref(previous.id, restoredFp, [Label.current], restoredValue.createdAt, restoredFacts),
        disabled: ref(
          promoted.id,
          promoted.facts.fingerprint ?? fingerprint((await io.value(op, { versionId: promoted.id })).value),
          [],
          undefined,
          rolledBackFacts,
        ),
      };
    },

    async retirePrevious(rotationId) {
      const op = begin();
      const view = await io.view(op);
      const promoted = promotedBy(view, rotationTag(rotationId));
      if (!promoted || promoted.facts.stage === 'rolled-back') return undefined;
      const previous = view.byId(promoted.facts.replaces);
      if (!previous) return undefined;
      if (previous.labels.includes(Label.current))
        throw fail(
          AwsFailureTypes.LabelsMovedElsewhere,
          `version ${previous.id} of ${secretId} in ${store}, which rotation ${rotationId} replaced, is AWSCURRENT ` +
            `again (moved outside this rotation): not retired`,
        );
      const fp =
        previous.facts.fingerprint ?? fingerprint((await io.value(op, { versionId: previous.id })).value);
      const facts: VersionFacts = { ...previous.facts, stage: 'retired', fingerprint: fp };
      const tags = plan(view, 'retire the previous version of', [[previous.id, facts]]);
      await io.applyTags(op, tags);
      if (previous.labels.length > 0) {
        await strip(op, previous.id);
        log.info(
          { ...where, rotationId, version: previous.id },
          'retired the previous version: it has no labels',
        );
      }
      return ref(previous.id, fp, [], undefined, facts);
    },

    async discardPending(rotationId) {
      const op = begin();
      const { labels, tags } = await io.describe(op);
      const id = holderOf(labels, Label.pending);
      if (!id) return;
      const owner = factsIn(tags, id).rotation;
      if (owner !== rotationTag(rotationId)) {
        // Staged by another rotation since, or not by rekey at all: not ours to remove.
        log.warn(
          { ...where, rotationId, version: id, owner: owner ?? null },
          'AWSPENDING is not this rotation’s; left in place',
        );
        return;
      }
      // AWS cannot delete one version: without a label it is deprecated, never read by rekey, deleted by AWS in time.
      await io.moveLabel(op, Label.pending, undefined, id);
      log.info({ ...where, rotationId, version: id }, 'discarded the pending version: AWSPENDING removed');
    },

    async history() {
      return chronological((await io.view(begin())).versions).map(record);
    },
  };

  function record(v: VersionView): SecretVersionRecord {
    const f = v.facts;
    const tags: Record<string, string> = {
      'aws-staging-labels': v.labels.join(','),
      ...(f.stage ? { 'rekey-stage': f.stage } : {}),
      ...(f.rotation ? { 'rekey-rotation': f.rotation } : {}),
      ...(f.fingerprint ? { 'rekey-fingerprint': f.fingerprint } : {}),
      ...(f.gatewayKeyId ? { 'rekey-gateway-key': f.gatewayKeyId } : {}),
      ...(f.replaces ? { 'rekey-replaces': f.replaces } : {}),
    };
    return {
      store,
      name: secretId,
      version: v.id,
      enabled: v.labels.length > 0,
      ...(v.createdAt ? { createdAt: v.createdAt } : {}),
      ...(f.fingerprint ? { fingerprint: f.fingerprint } : {}),
      ...(f.stage ? { stage: f.stage } : {}),
      ...(f.rotation ? { rotationId: f.rotation } : {}),
      ...(f.gatewayKeyId ? { gatewayKeyId: f.gatewayKeyId } : {}),
      tags,
    };
  }
}
