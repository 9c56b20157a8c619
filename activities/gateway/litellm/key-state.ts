// What the LiteLLM adapter asks before it mutates: does the key's team exist (rekey never creates
// teams: LiteLLM refuses every call of a key whose team is missing), and is a key already gone
// (404, or 200 with `status: "deleted"`, which is how LiteLLM 1.110 answers /key/info of a deleted key).
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../../domain/failure-types';
import { adminCall, type AdminHttpOptions } from '../admin-http';

/** Throws a non-retryable failure naming the team when the gateway does not know it. */
export async function requireTeam(opts: AdminHttpOptions, teamId: string | null | undefined): Promise<void> {
  if (!teamId) return;
  const res = await adminCall(opts, 'GET', `/team/info?team_id=${encodeURIComponent(teamId)}`);
  if (res.status !== 404) return;
  throw ApplicationFailure.nonRetryable(
    `the old key's team '${teamId}' does not exist on the gateway (GET /team/info answered 404); ` +
      'rekey does not create teams: the platform team must create it (POST /team/new) or fix the key',
    FailureTypes.GatewayAdminRejected,
  );
}

/** True when /key/info says the key no longer exists: not found, or kept as a deleted row. */
export async function keyGone(opts: AdminHttpOptions, keyId: string): Promise<boolean> {
  const res = await adminCall<{ info?: { status?: string | null } }>(
    opts,
    'GET',
    `/key/info?key=${encodeURIComponent(keyId)}`,
  );
  return res.status === 404 || isDeleted(res.body?.info);
}

/** LiteLLM's marker on a deleted key's row. */
export const isDeleted = (info: { status?: string | null } | undefined) => info?.status === 'deleted';
