// The ticket's pre-checks against what rekey can look up itself, for PREPARING (the preflight activity).
import type { GatewayAdmin } from '../../domain/ports';
import type { CredentialRef, PreCheckResult, SecretVersionRef } from '../../domain/activity-io';

/** What the ticket claimed, as the preflight activity receives it. */
export interface PreCheckClaims {
  gatewayBaseUrl: string;
  preChecks: Record<string, boolean | string | undefined>;
}

const result = (
  name: string,
  claimed: PreCheckResult['claimed'],
  r: PreCheckResult['result'],
  detail: string,
) => ({ name, claimed, result: r, verified: r === 'verified', detail }) satisfies PreCheckResult;

/**
 * Every pre-check the ticket states, with what rekey found: verified, failed, or unverified where no
 * source can say (a claimed canary request id the gateway cannot look up stays `unverified`).
 */
export async function verifyPreChecks(
  input: PreCheckClaims,
  credential: CredentialRef,
  current: SecretVersionRef,
  pendingBefore: SecretVersionRef | undefined,
  admin: GatewayAdmin | undefined,
): Promise<PreCheckResult[]> {
  const checks: PreCheckResult[] = [
    result(
      'inventory_confirmed',
      input.preChecks.inventory_confirmed,
      credential.consumers.length > 0 ? 'verified' : 'failed',
      `${credential.consumers.length} consumer(s) registered`,
    ),
    result(
      'rollback_secret_version_available',
      input.preChecks.rollback_secret_version_available,
      current.enabled ? 'verified' : 'failed',
      `current version ${current.version} is ${current.enabled ? 'enabled' : 'disabled'}`,
    ),
    result(
      'new_secret_version_created',
      input.preChecks.new_secret_version_created,
      pendingBefore ? 'verified' : 'unverified',
      pendingBefore ? `pending version ${pendingBefore.version}` : 'no pending version yet; rekey stages it',
    ),
    result(
      'gateway_base_url',
      input.gatewayBaseUrl,
      input.gatewayBaseUrl.replace(/\/+$/, '') === credential.gatewayBaseUrl.replace(/\/+$/, '')
        ? 'verified'
        : 'failed',
      `registry says ${credential.gatewayBaseUrl}`,
    ),
  ];
  const requestId = input.preChecks.canary_request_id;
  if (typeof requestId === 'string') checks.push(await canaryRequestCheck(requestId, credential, admin));
  return checks;
}

/** The ticket's canary request id, looked up at the gateway where its adapter can. */
async function canaryRequestCheck(
  requestId: string,
  credential: CredentialRef,
  admin: GatewayAdmin | undefined,
): Promise<PreCheckResult> {
  if (!admin?.findRequest) {
    return result(
      'canary_request_id',
      requestId,
      'unverified',
      `the ${credential.adminAdapter} adapter cannot look requests up; rekey runs its own canary`,
    );
  }
  const found = await admin.findRequest(requestId).catch(() => undefined);
  return result(
    'canary_request_id',
    requestId,
    found === undefined ? 'unverified' : found ? 'verified' : 'failed',
    found === undefined
      ? 'the gateway could not be asked; rekey runs its own canary'
      : found
        ? 'the gateway logged this request'
        : 'the gateway has no request with this id',
  );
}
