// What rekey knows about each version of a Secrets Manager secret, and where it keeps it. AWS has no
// per-version tags or metadata, and staging labels are the wrong carrier: a label keeps a version alive
// (AWS deprecates only unlabelled versions), the stage of a retired version must survive losing its
// labels, and a version may hold at most 20 labels. So the facts live in the *secret's* tags, one tag per
// version: key `rekey:<version id>`, value `s=<stage> f=<fingerprint> r=<rotation> g=<gateway key id>
// p=<version it replaced>` (fields present as known). AWS allows 50 tags of 128-character keys and
// 256-character values in letters, digits, spaces and `+ - = . _ : / @`: field values are escaped into
// that set, a rotation id longer than ROTATION_MAX escaped characters is stored as its SHA-256, and tags of
// versions AWS has deleted (or, when the 50 run out, of the oldest unlabelled versions) are pruned.
// Tag keys without the `rekey:` prefix belong to the platform team and are never touched.
import { createHash } from 'node:crypto';
import { SECRET_STAGES, type Fingerprint, type SecretStage } from '../../../domain/secrets';

/** AWS's limits on a secret's tags. */
export const TAG_LIMITS = { count: 50, keyLength: 128, valueLength: 256 } as const;
/** The prefix of rekey's tag keys; the rest of the key is a version id. */
export const TAG_PREFIX = 'rekey:';
/** A rotation id longer than this (escaped) is stored as `sha256:` + 32 hex characters. */
export const ROTATION_MAX = 64;

/** One version's facts. */
export interface VersionFacts {
  stage?: SecretStage;
  fingerprint?: Fingerprint;
  /** rotationTag() of the rotation that wrote the version. */
  rotation?: string;
  gatewayKeyId?: string;
  /** On the version a promote made AWSCURRENT: the version that was AWSCURRENT before. */
  replaces?: string;
}

const FIELDS = [
  ['stage', 's'],
  ['fingerprint', 'f'],
  ['rotation', 'r'],
  ['gatewayKeyId', 'g'],
  ['replaces', 'p'],
] as const satisfies ReadonlyArray<readonly [keyof VersionFacts, string]>;

/** Characters a tag value keeps as they are; `_` starts an escape, a space separates fields. */
const KEPT = /[A-Za-z0-9+\-=.:/@]/;

/** Escapes a field value into AWS's tag character set: every other UTF-8 byte becomes `_XX`. */
export function escapeField(value: string): string {
  let out = '';
  for (const ch of value) {
    if (KEPT.test(ch)) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of escapeField. */
export function unescapeField(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value[i] === '_' ? value.slice(i + 1, i + 3) : '';
    if (/^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(value[i] ?? '', 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * How rekey records a rotation: its id, or `sha256:<32 hex>` of an id too long for the tag's budget.
 * Every look-up compares against this, never the raw id.
 */
export function rotationTag(rotationId: string): string {
  if (escapeField(rotationId).length <= ROTATION_MAX) return rotationId;
  return `sha256:${createHash('sha256').update(rotationId, 'utf8').digest('hex').slice(0, 32)}`;
}

/**
 * The ClientRequestToken (and so the version id) of the version stagePending writes for this rotation and
 * value: the same for every retry of the same hand-off (AWS ignores a resent PutSecretValue with the same
 * token and value), another for a second hand-off with another key. Built from the rotation id and the
 * value's public fingerprint only; 38 characters, within AWS's 32–64.
 */
export function stageToken(rotationId: string, fp: Fingerprint): string {
  const digest = createHash('sha256').update(`rekey-pending\n${rotationId}\n${fp}`, 'utf8').digest('hex');
  return `rekey-${digest.slice(0, 32)}`;
}

/** The tag key of a version's facts. */
export function factsKey(versionId: string): string {
  return `${TAG_PREFIX}${versionId}`;
}

/** The version id of a rekey tag key, or undefined for a key that is not rekey's. */
export function versionOfKey(key: string): string | undefined {
  return key.startsWith(TAG_PREFIX) ? key.slice(TAG_PREFIX.length) : undefined;
}

/** A version's facts as a tag value. */
export function encodeFacts(facts: VersionFacts): string {
  return FIELDS.filter(([name]) => facts[name] !== undefined)
    .map(([name, short]) => `${short}=${escapeField(String(facts[name]))}`)
    .join(' ');
}

/** A tag value read back; unknown fields and malformed parts are ignored. */
export function decodeFacts(value: string | undefined): VersionFacts {
  const facts: VersionFacts = {};
  for (const part of (value ?? '').split(' ')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const field = FIELDS.find(([, short]) => short === part.slice(0, eq));
    if (!field) continue;
    const v = unescapeField(part.slice(eq + 1));
    if (field[0] === 'stage') {
      const stage = SECRET_STAGES.find((s) => s === v);
      if (stage) facts.stage = stage;
    } else if (field[0] === 'fingerprint') {
      if (/^sha256:[0-9a-f]{12}$/.test(v)) facts.fingerprint = v as Fingerprint;
    } else facts[field[0]] = v;
  }
  return facts;
}

/** True when two fact sets would be written as the same tag value. */
export function sameFacts(a: VersionFacts, b: VersionFacts): boolean {
  return encodeFacts(a) === encodeFacts(b);
}
