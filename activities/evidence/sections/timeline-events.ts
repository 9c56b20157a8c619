// Timeline look-ups more than one section makes.
import type { RotationStatus, TimelineEntry } from '../../../domain/status';

/** The last timeline entry of an event. */
export function lastEvent(status: RotationStatus, event: string): TimelineEntry | undefined {
  return status.timeline.filter((t) => t.event === event).at(-1);
}

/** The first irreversible-in-effect step: the disable where the gateway can, else the delete. */
export function revocationEntry(status: RotationStatus): TimelineEntry | undefined {
  return (
    lastEvent(status, 'old-key-disabled') ??
    lastEvent(status, 'old-key-deleted') ??
    lastEvent(status, 'old-key-revoked') ??
    lastEvent(status, 'revocation-confirmed')
  );
}
