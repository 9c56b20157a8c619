// What the evidence bundle is built from besides the rotation's status. A leaf module: the sections
// and build-bundle.ts import it, so no section imports the builder that composes it.
import type { RotationInput } from '../../../domain/policy';
import type { CredentialRef } from '../../../domain/activity-io';

/** The parts of the rotation's input the bundle reports (the whole RotationInput fits). */
export type EvidenceInput = Pick<
  RotationInput,
  | 'reason'
  | 'owner'
  | 'changeTicket'
  | 'apps'
  | 'allowedRoutes'
  | 'gatewayBaseUrl'
  | 'deployMethod'
  | 'thresholds'
  | 'evidence'
  | 'expectedOwner'
>;

/** What the bundle is built from besides the status; each part may be missing (old runs, unknown credential). */
export interface EvidenceContext {
  /** The ticket's policy as the workflow ran it. */
  input?: EvidenceInput;
  /** The registry entry: secret location, gateway adapter, consumers and their owners. */
  credential?: CredentialRef;
}
