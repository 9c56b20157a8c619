// ARCHIVING and every notification: the evidence bundle is built from the final status and the
// vault's version history and written; the ticket's webhook hears of each event.
import { ApplicationFailure } from '@temporalio/common';
import type { RekeyMetrics } from '../../common/metrics';
import type { Outcome, Phase } from '../../domain/rotation';
import type { RotationStatus } from '../../domain/status';
import { currentActivity } from '../activity-context';
import { EvidenceBundleInvalid, buildEvidenceBundle, type EvidenceInput } from '../evidence/build-bundle';
import { sha256Hex } from '../../domain/fingerprint';
import type {
  CredentialRef,
  EvidenceRecord,
  NotifyEvent,
  SecretVersionRecord,
} from '../../domain/activity-io';
import { clockOf, nonRetryable, type AreaDeps } from './area-deps';

/** Attempts of writeEvidence that insist on the vault's version history before archiving without it. */
const EVIDENCE_HISTORY_ATTEMPTS = 5;

/**
 * Figures the workflow sends along with a notification for the worker's metrics. The workflow knows
 * them deterministically (workflow time, its own outcome), so no activity call is added for metrics.
 */
export interface NotifyMetrics {
  credential: string;
  environment: string;
  /** On `finished`: how the rotation ended. */
  outcome?: Outcome;
  /** On `phase-changed`: the phase just left and the workflow-time seconds spent in it. */
  left?: { phase: Phase; seconds: number };
}

/** The activities that archive the evidence and tell the ticket's webhook. */
export function evidenceAndNotifyActivities(
  deps: Pick<AreaDeps, 'registry' | 'secretStoreFor' | 'evidence' | 'notifier' | 'metrics' | 'now'>,
) {
  const now = clockOf(deps);
  return {
    /**
     * ARCHIVING (and every terminal outcome): builds the evidence bundle from the final status, the
     * ticket's policy, the registry entry and the vault's version history, and writes it.
     */
    async writeEvidence(input: {
      rotationId: string;
      /** The rotation's final status (the field keeps its historical name). */
      bundle: RotationStatus;
      /** The rotation's input; runs scheduled before it was passed have none. */
      input?: EvidenceInput;
    }): Promise<EvidenceRecord> {
      const status = input.bundle;
      const credential = deps.registry.lookup(status.credential, status.environment);
      const { versions, versionsNote } = credential
        ? await versionHistory(deps, credential)
        : { versionsNote: `credential ${status.credential} (${status.environment}) is not registered` };
      let bundle;
      try {
        bundle = buildEvidenceBundle(
          status,
          { ...(input.input ? { input: input.input } : {}), ...(credential ? { credential } : {}) },
          versions,
          { generatedAt: new Date(now()).toISOString(), ...(versionsNote ? { versionsNote } : {}) },
        );
      } catch (err) {
        // The same status builds the same bundle on every retry.
        if (err instanceof EvidenceBundleInvalid) throw nonRetryable(err.name, err.message);
        throw err;
      }
      return deps.evidence.write(input.rotationId, bundle);
    },

    /** Tells the ticket's webhook; the workflow never lets a failure here block the rotation. */
    async notify(input: {
      rotationId: string;
      event: NotifyEvent;
      phase: string;
      message: string;
      webhookUrl?: string;
      /** What the worker's metrics count for this event; never sent to the webhook. */
      metrics?: NotifyMetrics;
    }): Promise<void> {
      const { metrics: figures, ...event } = input;
      // Stable across retries of this activity, distinct for every event: receivers dedupe on it.
      const info = currentActivity()?.info;
      const run = info?.workflowExecution;
      const deliveryId =
        info && run ? sha256Hex(`${run.workflowId}/${run.runId}/${info.activityId}`) : undefined;
      // Counted before the webhook (a dead webhook must not hide a finished rotation) and on the first
      // attempt only: a retry is the same event delivered again.
      if (deps.metrics && figures && (info?.attempt ?? 1) === 1) {
        countEvent(deps.metrics, deps.registry, input.event, figures);
      }
      await deps.notifier.notify({ ...event, ...(deliveryId ? { deliveryId } : {}) });
    },
  };
}

/**
 * The vault's version history of the credential's secret. The vault answered moments ago: a failure
 * is rethrown for a few attempts, then the evidence is archived from what the rotation recorded
 * rather than not at all (the bundle says which source it used and why).
 */
async function versionHistory(
  deps: Pick<AreaDeps, 'secretStoreFor'>,
  credential: CredentialRef,
): Promise<{ versions?: SecretVersionRecord[]; versionsNote?: string }> {
  try {
    return { versions: await deps.secretStoreFor(credential).history() };
  } catch (err) {
    const permanent = err instanceof ApplicationFailure && err.nonRetryable;
    if (
      !permanent &&
      (currentActivity()?.info?.attempt ?? EVIDENCE_HISTORY_ATTEMPTS) < EVIDENCE_HISTORY_ATTEMPTS
    )
      throw err;
    return { versionsNote: `vault history unavailable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** rekey_phase_duration_seconds on a phase change, rekey_rotations_finished_total on the end. */
function countEvent(
  metrics: RekeyMetrics,
  registry: AreaDeps['registry'],
  event: NotifyEvent,
  figures: NotifyMetrics,
): void {
  if (event === 'phase-changed' && figures.left) {
    metrics.phaseDuration.observe({ phase: figures.left.phase }, Math.max(0, figures.left.seconds));
  }
  if (event === 'finished' && figures.outcome) {
    // A rotation of an unregistered credential ends in preflight with whatever environment the request
    // named: only environments of the registry become label values.
    const environment = registry.lookup(figures.credential, figures.environment)
      ? figures.environment
      : 'unregistered';
    metrics.rotationsFinished.inc({ environment, outcome: figures.outcome });
  }
}
