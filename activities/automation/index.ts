// Activities of the triggers that start rotations themselves (workflows/scheduled-rotation.ts): the
// notice and reminder webhooks (through the rotation notifier, so the webhook allowlist and signing
// apply) and the current key's expiry (through the credential's secret store). No key values: the
// expiry read returns a time only.
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { ActivityDeps } from '../deps';
import { FailureTypes } from '../../domain/failure-types';
import { ChangeTicketKey, RotationOutcomeKey, RotationPhaseKey } from '../../workflows/search-attributes';
import { createStagingTwinActivities, type TwinClient } from './staging-twin';

export interface AutomationNotice {
  kind: 'schedule-notice' | 'expiry-reminder';
  credential: string;
  environment: string;
  rotationId: string;
  message: string;
  deliveryId: string;
  webhookUrl?: string;
}

/** Where a fleet member's rotation is, as its workflow says (workflows/fleet.ts). */
export interface FleetMemberSeen {
  workflowId: string;
  /** unknown: not found (yet), try again at the next poll. */
  state: 'running' | 'completed' | 'failed' | 'unknown';
  phase?: string;
  why?: string;
}

/** How many member workflows one poll describes at once. */
const DESCRIBE_PARALLEL = 16;

/** A member's state from its workflow's description (status, phase and outcome search attributes). */
export function memberSeen(
  workflowId: string,
  d: Pick<WorkflowExecutionDescription, 'status' | 'typedSearchAttributes'>,
): FleetMemberSeen {
  const phase = d.typedSearchAttributes.get(RotationPhaseKey);
  const outcome = d.typedSearchAttributes.get(RotationOutcomeKey);
  const withPhase = phase ? { phase } : {};
  const status = d.status.name;
  if (status === 'RUNNING') return { workflowId, state: 'running', ...withPhase };
  if (status === 'COMPLETED' && outcome === 'completed') {
    return { workflowId, state: 'completed', ...withPhase };
  }
  const how = outcome ? `ended ${outcome}` : `workflow ${status.toLowerCase()}`;
  return { workflowId, state: 'failed', ...withPhase, why: phase ? `${how} (phase ${phase})` : how };
}

/** Runs fn over items, at most `limit` at once, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** Builds the automation activities over the same ports as the rotation's. */
export function createAutomationActivities(
  deps: Pick<ActivityDeps, 'notifier' | 'registry' | 'secretStoreFor' | 'gatewayAdminFor'> & {
    /**
     * The worker's Temporal client, which fleets read their members through and the staging-twin gate
     * its twin's rotations; absent: no fleets, and a credential with a twin cannot rotate.
     */
    temporal?: TwinClient;
  },
) {
  /** One member: its latest run if it is the fleet's (by ticket), else the fleet's run in visibility. */
  async function seen(client: Pick<Client, 'workflow'>, ticketId: string, workflowId: string) {
    try {
      const d = await client.workflow.getHandle(workflowId).describe();
      if (d.typedSearchAttributes.get(ChangeTicketKey) === ticketId) return memberSeen(workflowId, d);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return { workflowId, state: 'unknown' as const };
    }
    // Another rotation of the credential started after the fleet's ended: find the fleet's run.
    const query = `WorkflowId = '${workflowId}' AND ${ChangeTicketKey.name} = '${ticketId}'`;
    for await (const w of client.workflow.list({ query })) return memberSeen(workflowId, w);
    return { workflowId, state: 'unknown' as const };
  }

  /** The worker's Temporal client; a worker built without one cannot run fleets, expiry checks or staging twins. */
  function temporal(): TwinClient {
    if (deps.temporal) return deps.temporal;
    throw ApplicationFailure.create({
      type: FailureTypes.WorkerMisconfigured,
      message: 'this worker has no Temporal client for fleet, expiry and staging-twin activities',
      nonRetryable: true,
    });
  }

  return {
    ...createStagingTwinActivities({ registry: deps.registry, temporal }),

    /** Where each fleet member's rotation is: running (and its phase), completed or failed (and why). */
    async fleetMemberStates(req: { ticketId: string; workflowIds: string[] }): Promise<FleetMemberSeen[]> {
      const client = temporal();
      return mapLimit(req.workflowIds, DESCRIBE_PARALLEL, (id) => seen(client, req.ticketId, id));
    },

    /** Where the rotation of a credential under this ticket is (unknown: none was started). */
    async rotationOfTicket(req: { ticketId: string; workflowId: string }): Promise<FleetMemberSeen> {
      return seen(temporal(), req.ticketId, req.workflowId);
    },

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

    /**
     * When the current key stops working: the earlier of the secret version's expiry (Key Vault
     * `attributes.exp`, a Vault KV version's deletion time) and the gateway key's own (`expires` of a
     * LiteLLM key, `expires_at` of an OpenRouter one); absent: neither expires. A time only, never a
     * value: the value is resolved here to look the gateway key up, and goes no further.
     */
    async readCurrentExpiry(c: {
      credential: string;
      environment: string;
    }): Promise<{ expiresAt?: string; source?: 'secret' | 'gateway-key' }> {
      const ref = deps.registry.lookup(c.credential, c.environment);
      if (!ref) {
        throw ApplicationFailure.create({
          type: FailureTypes.UnknownCredential,
          message: `no credential ${c.credential} registered for ${c.environment}`,
          nonRetryable: true,
        });
      }
      const store = deps.secretStoreFor(ref);
      const current = await store.readCurrent();
      const found: { expiresAt: string; source: 'secret' | 'gateway-key' }[] = [];
      if (current.expiresAt) found.push({ expiresAt: current.expiresAt, source: 'secret' });
      const admin = deps.gatewayAdminFor(ref);
      if (admin) {
        const key = await admin.describeKey(await store.resolve(current));
        const at = key?.scope.expiresAt;
        if (at && !Number.isNaN(Date.parse(at))) {
          found.push({ expiresAt: new Date(at).toISOString(), source: 'gateway-key' });
        }
      }
      found.sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
      return found[0] ?? {};
    },
  };
}

/** The activity surface the trigger workflows proxy. */
export type AutomationActivities = ReturnType<typeof createAutomationActivities>;
