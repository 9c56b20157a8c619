// The activities the rotation workflow calls. Each resolves key values itself, through the ports, and
// returns only references, fingerprints and figures. Failures retrying cannot fix are non-retryable
// ApplicationFailures whose `type` (FailureTypes) the workflow branches on. The activities live by
// area in activities/areas/; their names and signatures are what workflow histories replay against.
import type { ActivityDeps } from './deps';
import { evidenceAndNotifyActivities } from './areas/evidence-and-notify';
import { holdObservationActivities } from './areas/hold-observation';
import { keyIssueAndCanaryActivities } from './areas/key-issue-and-canary';
import { preflightActivities } from './areas/preflight';
import { revocationActivities } from './areas/revocation';
import { secretFlipActivities } from './areas/secret-flip';

export type { NotifyMetrics } from './areas/evidence-and-notify';

/** Builds the activity functions over injected ports (no client is created here). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...preflightActivities(deps),
    ...keyIssueAndCanaryActivities(deps),
    ...secretFlipActivities(deps),
    ...holdObservationActivities(deps),
    ...revocationActivities(deps),
    ...evidenceAndNotifyActivities(deps),
  };
}

/** The activity surface the workflow proxies. */
export type RotationActivities = ReturnType<typeof createActivities>;
