// A leaked key reported by a secret scanner (issue 16): where the alert came from and the fingerprint of
// the token it names. The token itself is never kept: the API fingerprints it on receipt, matches the
// fingerprint against every registered credential's current and recent versions, and forgets the value.
import { z } from 'zod';
import { fingerprintSchema } from './secrets';
import { EXPOSURE_SOURCES } from './vocabulary';

/** The scanners whose alerts rekey verifies and acts on (the list is zod-free, for workflow code). */
export { EXPOSURE_SOURCES };
export type ExposureSource = (typeof EXPOSURE_SOURCES)[number];

/** The alert as a rotation, its status and its evidence record it: never the token. */
export const exposureRefSchema = z.strictObject({
  source: z.enum(EXPOSURE_SOURCES),
  alertId: z.string().min(1).max(200).describe("the scanner's alert (or incident) id"),
  url: z.url().optional().describe('where the alert can be read (the scanner’s page)'),
  fingerprint: fingerprintSchema.describe('the leaked token’s fingerprint'),
  receivedAt: z.iso.datetime({ offset: true }),
});
export type ExposureRef = z.infer<typeof exposureRefSchema>;

/** The principal a verified alert acts as, e.g. `exposure:gitguardian:12345`. */
export function exposurePrincipal(ref: Pick<ExposureRef, 'source' | 'alertId'>): string {
  return `exposure:${ref.source}:${ref.alertId}`;
}
