// stagePending: the replacement key becomes a new version labelled AWSPENDING, written with a
// ClientRequestToken derived from the rotation id and the key's fingerprint. A retry finds the version an
// earlier attempt wrote (same token, same value) and reuses it; an AWSPENDING left elsewhere is removed.
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { AwsFailureTypes } from '../aws-errors';
import type { AwsOperation } from '../operation-budget';
import { Label, type SecretView, type VersionView } from '../secret-io';
import { begin, fail, plan, ref, type SecretsManagerSession } from '../session';
import { rotationTag, stageToken, type VersionFacts } from '../version-facts';

/** In-process only: writes a replacement key as the AWSPENDING version, once per rotation and value. */
export async function stagePending(
  s: SecretsManagerSession,
  rotationId: string,
  value: string,
  gatewayKeyId?: string,
): Promise<SecretVersionRef> {
  const op = begin(s);
  const rot = rotationTag(rotationId);
  const fp = fingerprint(value);
  const token = stageToken(rotationId, fp);
  const view = await s.io.view(op);
  const mine = view.byId(token);
  if (mine) await checkEarlierHandOff(s, op, rotationId, mine, token, value);
  const facts: VersionFacts = {
    ...mine?.facts,
    stage: 'pending',
    fingerprint: fp,
    rotation: rot,
    ...(gatewayKeyId ? { gatewayKeyId } : {}),
  };
  const tags = plan(s, view, 'stage the replacement key in', [[token, facts]]);

  await freePendingLabel(s, op, view, rotationId, token);
  if (!mine) await s.io.putPending(op, token, value);
  else if (!mine.labels.includes(Label.pending)) await s.io.moveLabel(op, Label.pending, token, undefined);
  await s.io.applyTags(op, tags);
  const staged = await s.io.value(op, { versionId: token });
  s.log.info(
    { ...s.where, rotationId, version: token, fingerprint: fp },
    mine
      ? 'pending version already staged by this rotation; reused'
      : 'staged the replacement key as the AWSPENDING version',
  );
  return ref(s, token, fp, staged.labels, staged.createdAt, facts);
}

/** The version of this token exists already: it must still be pending and hold this very value. */
async function checkEarlierHandOff(
  s: SecretsManagerSession,
  op: AwsOperation,
  rotationId: string,
  mine: VersionView,
  token: string,
  value: string,
): Promise<void> {
  if (mine.facts.stage && mine.facts.stage !== 'pending')
    throw fail(
      AwsFailureTypes.RequestRejected,
      `rotation ${rotationId} already took this key past pending in ${s.secretId} (version ${token} is ` +
        `${mine.facts.stage}); staging it again is refused`,
    );
  // The token is derived from the fingerprint; the value itself decides (moto overwrites on a reused token).
  if ((await s.io.value(op, { versionId: token })).value !== value)
    throw fail(
      FailureTypes.StagedKeyMismatch,
      `version ${token} of ${s.secretId} in ${s.store} holds another value than this hand-off of rotation ${rotationId}`,
    );
}

/**
 * AWS's rule: an AWSPENDING on a version that is not AWSCURRENT means "a rotation is in progress" and
 * blocks the next one. Whoever left it (another run, AWS's own rotation Lambda, an earlier hand-off of
 * this rotation), the label moves to this hand-off, on record.
 */
async function freePendingLabel(
  s: SecretsManagerSession,
  op: AwsOperation,
  view: SecretView,
  rotationId: string,
  token: string,
): Promise<void> {
  const holder = view.labelled(Label.pending);
  if (!holder || holder.id === token) return;
  const fields = { ...s.where, rotationId, version: holder.id, owner: holder.facts.rotation ?? null };
  if (holder.labels.includes(Label.current))
    s.log.info(fields, 'AWSPENDING was left on the AWSCURRENT version by an earlier rotation; removed');
  else if (holder.facts.rotation === rotationTag(rotationId))
    s.log.info(fields, 'an earlier hand-off of this rotation held AWSPENDING; the new key replaces it');
  else
    s.log.warn(
      fields,
      'a stale AWSPENDING (on a version that is not AWSCURRENT, left by another run) would block this rotation; removed',
    );
  await s.io.moveLabel(op, Label.pending, undefined, holder.id);
}
