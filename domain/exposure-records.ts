// What rekey kept of a leak alert it received (issue 16): the scanner, the alert id, the fingerprint of
// the token, what the token matched and what rekey did. Never the token: a record is safe to list, log
// and answer. One record per source and alert id makes the endpoints idempotent per alert.
import { z } from 'zod';
import { EXPOSURE_SOURCES, type ExposureSource } from './exposures';
import { fingerprintSchema } from './secrets';

/** What rekey did with an alert. */
export const EXPOSURE_ACTIONS = [
  /** An emergency rotation of the matched credential started. */
  'started',
  /** A running rotation of the matched credential was switched to emergency. */
  'escalated',
  /** The matched credential's emergency rotation for this alert was already running. */
  'joined',
  /** The token matched no current or recent version of any registered credential. */
  'not-ours',
  /** The alert carries nothing rekey can match (no token, no usable hash). */
  'unmatchable',
  /** The token matched but no rotation could be started or escalated (the reason says why). */
  'failed',
] as const;
export type ExposureAction = (typeof EXPOSURE_ACTIONS)[number];

export const exposureRecordSchema = z
  .strictObject({
    source: z.enum(EXPOSURE_SOURCES),
    alertId: z.string().min(1).max(200),
    receivedAt: z.iso.datetime({ offset: true }),
    fingerprint: fingerprintSchema
      .optional()
      .describe('the leaked token’s fingerprint (absent when the alert carried no token)'),
    url: z.string().max(2000).optional().describe('where the alert can be read'),
    secretType: z.string().max(200).optional().describe('the scanner’s name for the kind of secret'),
    matched: z
      .strictObject({
        credential: z.string(),
        environment: z.string(),
        versionStage: z.enum(['current', 'previous']),
      })
      .optional(),
    action: z.enum(EXPOSURE_ACTIONS),
    rotationId: z.string().optional(),
    reason: z.string().max(500).optional().describe('why unmatchable or failed'),
  })
  .describe('a leak alert as rekey recorded it: never the token');
export type ExposureRecord = z.infer<typeof exposureRecordSchema>;

/** Where exposure records live (api/exposures/record-store.ts: one JSON file per alert). */
export interface ExposureRecordStore {
  get(source: ExposureSource, alertId: string): Promise<ExposureRecord | undefined>;
  /** Stores the record unless one exists for its source and alert id; answers the one that is kept. */
  putIfAbsent(record: ExposureRecord): Promise<{ stored: boolean; record: ExposureRecord }>;
  /** Newest first, at most `limit`. */
  list(limit: number): Promise<ExposureRecord[]>;
}

/** The change-ticket id of a leak's emergency rotation: `leak-<source>-<alert id as an identifier>`. */
export function leakTicketId(source: ExposureSource, alertId: string): string {
  const safe = alertId.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return `leak-${source}-${safe || 'alert'}`.slice(0, 120);
}
