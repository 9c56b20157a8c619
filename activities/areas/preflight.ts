// PREPARING: the registry entry, the current version and its key at the gateway, a traffic baseline
// and the ticket's pre-checks, before anything is written.
import { FailureTypes } from '../../domain/failure-types';
import type { PreflightResult } from '../../domain/activity-io';
import { isLagging, untilCaughtUp } from '../telemetry/lag';
import { clockOf, nonRetryable, type AreaDeps } from './area-deps';
import { verifyPreChecks } from './pre-checks';

const BASELINE_WINDOW_MS = 60 * 60_000;

/** The preflight activity. */
export function preflightActivities(
  deps: Pick<
    AreaDeps,
    | 'registry'
    | 'secretStoreFor'
    | 'probeFor'
    | 'gatewayAdminFor'
    | 'telemetry'
    | 'telemetryCatchUpMs'
    | 'now'
  >,
) {
  const now = clockOf(deps);
  return {
    /** PREPARING: registry entry, current version and fingerprint, old key works, its scope, a baseline. */
    async preflight(input: {
      rotationId: string;
      credential: string;
      environment: string;
      gatewayBaseUrl: string;
      preChecks: Record<string, boolean | string | undefined>;
    }): Promise<PreflightResult> {
      const credential = deps.registry.lookup(input.credential, input.environment);
      if (!credential) {
        throw nonRetryable(
          FailureTypes.UnknownCredential,
          `credential ${input.credential} (${input.environment}) is not registered; registered: ${deps.registry.names().join(', ')}`,
        );
      }
      const store = deps.secretStoreFor(credential);
      const current = await store.readCurrent();
      const oldKey = await store.resolve(current);
      const oldKeyStatus = await deps.probeFor(credential).status(credential.gatewayBaseUrl, oldKey);
      if (oldKeyStatus < 200 || oldKeyStatus >= 300) {
        throw nonRetryable(
          FailureTypes.OldKeyRejected,
          `the current key ${current.fingerprint} is answered ${oldKeyStatus} by ${credential.gatewayBaseUrl}; nothing to rotate safely`,
        );
      }
      const admin = deps.gatewayAdminFor(credential);
      const described = admin ? await admin.describeKey(oldKey) : undefined;
      const key = {
        fingerprint: current.fingerprint,
        ...(described ? { gatewayKeyId: described.keyId } : {}),
      };
      const t = now();
      const perConsumer = deps.telemetry.source(credential).capabilities.perConsumer;
      const readBaseline = async () => ({
        baseline: await deps.telemetry.window(credential, key, t - BASELINE_WINDOW_MS, t),
        byConsumer: await deps.telemetry
          .usageByConsumer(credential, key, t - BASELINE_WINDOW_MS, t)
          .catch((err: unknown) => {
            if (isLagging(err)) return 'lagging' as const;
            // A source that sees consumers but failed to answer (a query timeout): the activity fails
            // and is retried, since a rotation without a per-consumer baseline can never show the revoke
            // gate's volume rows green. Only a source that cannot see consumers goes on without one.
            if (perConsumer) throw err;
            return undefined;
          }),
      });
      // The source may be seconds behind (scrape interval, spend-log batches): wait for it a while.
      const read = await untilCaughtUp(
        readBaseline,
        (r) => r.baseline.complete === false || r.byConsumer === 'lagging',
        deps.telemetryCatchUpMs,
      );
      const baseline = read.baseline;
      const baselineByConsumer = read.byConsumer === 'lagging' ? undefined : read.byConsumer;
      const pendingBefore = await store.readPending(input.rotationId);
      const preChecks = await verifyPreChecks(input, credential, current, pendingBefore, admin);
      return {
        credential,
        current,
        oldKeyStatus,
        baseline,
        ...(baselineByConsumer ? { baselineByConsumer } : {}),
        telemetry: deps.telemetry.source(credential),
        gatewayCanDisable: admin?.canDisable ?? false,
        preChecks,
        ...(described ? { oldGatewayKeyId: described.keyId, oldScope: described.scope } : {}),
      };
    },
  };
}
