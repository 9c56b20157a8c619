// The gauges Temporal visibility can tell at scrape time, whichever worker runs the rotations: the
// phase of every active rotation, and how many wait at each approval gate.
import type { Client } from '@temporalio/client';
import type { RekeyMetrics } from '../common/metrics';
import {
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationPhaseKey,
} from '../workflows/search-attributes';

/** At most this many running rotations are read per scrape; more is a sign of trouble, not load. */
const MAX_ACTIVE = 1000;
const GATE_OF_PHASE: Record<string, string> = {
  AWAITING_FLIP_APPROVAL: 'flip',
  AWAITING_REVOKE_APPROVAL: 'revoke',
  AWAITING_REPLACEMENT_KEY: 'replacement-key',
};

/** Sets rekey_rotation_phase and rekey_approvals_pending from the running rotations. */
export async function refreshRotationGauges(temporal: Client, metrics: RekeyMetrics): Promise<void> {
  const rows: { credential: string; environment: string; phase: string }[] = [];
  await temporal.withAbortSignal(AbortSignal.timeout(3_000), async () => {
    for await (const wf of temporal.workflow.list({
      query: `WorkflowType = 'rotation' AND ExecutionStatus = 'Running'`,
      pageSize: 200,
    })) {
      const sa = wf.typedSearchAttributes;
      rows.push({
        credential: sa.get(RotationCredentialKey) ?? 'unknown',
        environment: sa.get(RotationEnvironmentKey) ?? 'unknown',
        phase: sa.get(RotationPhaseKey) ?? 'PREPARING',
      });
      if (rows.length >= MAX_ACTIVE) break;
    }
  });
  // Reset after the read succeeded, so a failed scrape keeps the last known values.
  metrics.rotationPhase.reset();
  metrics.approvalsPending.reset();
  for (const gate of Object.values(GATE_OF_PHASE)) metrics.approvalsPending.set({ gate }, 0);
  for (const r of rows) {
    metrics.rotationPhase.set(r, 1);
    const gate = GATE_OF_PHASE[r.phase];
    if (gate) metrics.approvalsPending.inc({ gate });
  }
}
