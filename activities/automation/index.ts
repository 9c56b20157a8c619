// Activities of the triggers that start rotations themselves (workflows/scheduled-rotation.ts): the
// notice and reminder webhooks (through the rotation notifier, so the webhook allowlist and signing
// apply) and the current key's expiry (through the credential's secret store). No key values: the
// expiry read returns a time only.
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from '../deps';
import { FailureTypes } from '../../domain/failure-types';

export interface AutomationNotice {
  kind: 'schedule-notice' | 'expiry-reminder';
  credential: string;
  environment: string;
  rotationId: string;
  message: string;
  deliveryId: string;
  webhookUrl?: string;
}

/** Builds the automation activities over the same ports as the rotation's. */
export function createAutomationActivities(
  deps: Pick<ActivityDeps, 'notifier' | 'registry' | 'secretStoreFor'>,
) {
  return {
    /** Sends a notice; a refused or failing webhook is recorded (delivered: false), not retried forever. */
    async sendAutomationNotice(n: AutomationNotice): Promise<{ delivered: boolean; error?: string }> {
      try {
        await deps.notifier.notify({
          rotationId: n.rotationId,
          event: n.kind,
          phase: 'SCHEDULED',
          message: n.message,
          deliveryId: n.deliveryId,
          ...(n.webhookUrl ? { webhookUrl: n.webhookUrl } : {}),
        });
        return { delivered: Boolean(n.webhookUrl) };
      } catch (err) {
        return { delivered: false, error: err instanceof Error ? err.message : String(err) };
      }
    },

    /** The current version's expiry, as the credential's secret store reports it; absent: none. */
    async readCurrentExpiry(c: { credential: string; environment: string }): Promise<{ expiresAt?: string }> {
      const ref = deps.registry.lookup(c.credential, c.environment);
      if (!ref) {
        throw ApplicationFailure.create({
          type: FailureTypes.UnknownCredential,
          message: `no credential ${c.credential} registered for ${c.environment}`,
          nonRetryable: true,
        });
      }
      const current = await deps.secretStoreFor(ref).readCurrent();
      return current.expiresAt ? { expiresAt: current.expiresAt } : {};
    },
  };
}

/** The activity surface the trigger workflows proxy. */
export type AutomationActivities = ReturnType<typeof createAutomationActivities>;
