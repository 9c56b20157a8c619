import { createHash } from 'node:crypto';
import type { Fingerprint } from './types';

/** `sha256:` + the first 12 hex characters of the SHA-256 of a key: the one fingerprint used everywhere. */
export function fingerprint(value: string): Fingerprint {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 12)}`;
}
