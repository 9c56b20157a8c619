// The reads of the port: the AWSCURRENT version (what apps read), this rotation's AWSPENDING version, and
// one version's value by ref (refused when the version has no label left).
import { FailureTypes } from '../../../../domain/failure-types';
import type { SecretVersionRef } from '../../../../domain/secrets';
import { fingerprint } from '../../../../domain/fingerprint';
import { factsIn, holderOf, Label } from '../secret-io';
import { begin, fail, ref, type SecretsManagerSession } from '../session';
import { rotationTag } from '../version-facts';

/** The secret id a ref names: the pending path `<id>@AWSPENDING` (secretPaths) is the same secret. */
function secretIdOf(name: string): string {
  return name.endsWith(`@${Label.pending}`) ? name.slice(0, -`@${Label.pending}`.length) : name;
}

/** The version labelled AWSCURRENT, what production reads. */
export async function readCurrent(s: SecretsManagerSession): Promise<SecretVersionRef> {
  const op = begin(s);
  // Always by label: moto 5.2.5 answers GetSecretValue without a stage with the version first written.
  const v = await s.io.value(op, { stage: Label.current });
  const { tags } = await s.io.describe(op);
  return ref(s, v.id, fingerprint(v.value), v.labels, v.createdAt, factsIn(tags, v.id));
}

/** The AWSPENDING version when this rotation staged it (and it is not AWSCURRENT); undefined otherwise. */
export async function readPending(
  s: SecretsManagerSession,
  rotationId: string,
): Promise<SecretVersionRef | undefined> {
  const op = begin(s);
  const { labels, tags } = await s.io.describe(op);
  const id = holderOf(labels, Label.pending);
  if (!id) return undefined;
  const facts = factsIn(tags, id);
  if (facts.rotation !== rotationTag(rotationId) || labels.get(id)?.includes(Label.current)) return undefined;
  const v = await s.io.value(op, { versionId: id });
  return ref(s, id, fingerprint(v.value), v.labels, v.createdAt, facts);
}

/** In-process only: the value of the version a ref names; SecretDisabled when it has no label. */
export async function resolve(
  s: SecretsManagerSession,
  r: Pick<SecretVersionRef, 'name' | 'version'>,
): Promise<string> {
  const op = begin(s);
  const id = secretIdOf(r.name);
  const v = await s.io.value(op, { versionId: r.version }, id);
  if (v.labels.length === 0)
    throw fail(
      FailureTypes.SecretDisabled,
      `version ${r.version} of ${id} in ${s.store} has no staging label (rolled back, retired or discarded); ` +
        `rekey does not use its value`,
    );
  return v.value;
}
