import { createHash } from 'node:crypto';
import type { Fingerprint } from './activity-io';

/** SHA-256 hex of a key: LiteLLM's `token`, the `hashed_api_key` metric label. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** `sha256:` + the first 12 hex characters of the SHA-256 of a key: the one fingerprint used everywhere. */
export function fingerprint(value: string): Fingerprint {
  return `sha256:${sha256Hex(value).slice(0, 12)}`;
}

/** The 12 hex characters of a fingerprint, which prefix the key's SHA-256; throws on anything else. */
export function fingerprintHex(fp: string): string {
  const hex = fp.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new Error(`not a rekey fingerprint: ${fp}`);
  return hex;
}
