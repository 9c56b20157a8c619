// What the activity areas share: the ports createActivities was given, passed on as they are (a deps
// object is never copied: its methods keep their receiver), and the helpers every area uses.
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import type { GatewayAdmin } from '../../domain/ports';
import type { ActivityDeps } from '../deps';
import type { CredentialRef } from '../../domain/activity-io';

/** The ports of createActivities; each area takes the few it uses (`Pick<AreaDeps, …>`). */
export type AreaDeps = ActivityDeps;

/** The clock of the deps, the system clock by default; an area resolves it once, when it is built. */
export function clockOf(deps: Pick<AreaDeps, 'now'>): () => number {
  return deps.now ?? Date.now;
}

/** A failure retrying cannot fix; the workflow branches on its `type`. */
export function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The credential's gateway admin API; a credential without one is not rekey's to rotate this way. */
export function adminFor(deps: Pick<AreaDeps, 'gatewayAdminFor'>, credential: CredentialRef): GatewayAdmin {
  const admin = deps.gatewayAdminFor(credential);
  if (!admin) throw nonRetryable(FailureTypes.UnknownCredential, `${credential.name} has no admin adapter`);
  return admin;
}
