// The staging-twin gate's activity (domain/staging-twin.ts): which twin the registry names for a
// credential, the policy fingerprint of a rotation's input, and the twin's latest completed rotation
// with the same fingerprint within the window, found through visibility (RotationCredential,
// RotationEnvironment, RotationOutcome = completed, CloseTime) and each candidate's recorded start
// input (the first event of its run: references and policy, never a key). No key values here.
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { RotationInput } from '../../domain/policy';
import { workflowIdFor } from '../../domain/policy';
import type { CredentialAutomation, StagingTwinSpec } from '../../domain/automation';
import type { CredentialRegistry } from '../../domain/ports';
import {
  policyFields,
  twinRotationInput,
  type StagingTwinCheck,
  type TwinRotation,
} from '../../domain/staging-twin';
import {
  RotationCredentialKey,
  RotationEnvironmentKey,
  RotationOutcomeKey,
} from '../../workflows/search-attributes';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Most twin rotations whose start input is read per check (the newest first). */
export const TWIN_CANDIDATES = 20;

/** `sha256:<hex>` of a rotation input's policy fields. */
export function policyFingerprint(input: RotationInput): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(policyFields(input)))
    .digest('hex')}`;
}

/** The Temporal client parts the check reads through. */
export type TwinClient = Pick<Client, 'workflow' | 'workflowService' | 'options'>;

/** The twin's completed rotations in the window, newest first, each with its recorded start input. */
async function completedTwinRotations(
  client: TwinClient,
  twin: StagingTwinSpec,
  nowMs: number,
): Promise<(TwinRotation & { input?: RotationInput })[]> {
  const since = new Date(nowMs - twin.withinDays * DAY_MS).toISOString();
  // Identifiers (letters, digits, '.', '_', '-'): nothing to escape inside the quotes.
  const query = [
    `WorkflowType = 'rotation'`,
    `${RotationCredentialKey.name} = '${twin.name}'`,
    `${RotationEnvironmentKey.name} = '${twin.environment}'`,
    `${RotationOutcomeKey.name} = 'completed'`,
    `ExecutionStatus = 'Completed'`,
    `CloseTime >= '${since}'`,
  ].join(' AND ');
  const runs: TwinRotation[] = [];
  for await (const w of client.workflow.list({ query })) {
    if (!w.closeTime) continue;
    runs.push({
      // Replaced by the rotation id of the run's start input, once read.
      rotationId: w.workflowId,
      workflowId: w.workflowId,
      runId: w.runId,
      completedAt: w.closeTime.toISOString(),
    });
  }
  runs.sort((a, b) => b.completedAt.localeCompare(a.completedAt));
  return Promise.all(
    runs.slice(0, TWIN_CANDIDATES).map(async (r) => {
      const input = await startInputOf(client, r.workflowId, r.runId);
      return { ...r, ...(input ? { rotationId: input.rotationId, input } : {}) };
    }),
  );
}

/** The rotation input a run was started with (a continued run's first argument is the same input). */
async function startInputOf(
  client: TwinClient,
  workflowId: string,
  runId: string,
): Promise<RotationInput | undefined> {
  const page = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const payloads = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
  if (!payloads?.length) return undefined;
  const [input] = await decodeArrayFromPayloads(client.options.loadedDataConverter, payloads);
  const i = input as Partial<RotationInput> | undefined;
  return i && typeof i.rotationId === 'string' && typeof i.credential === 'string'
    ? (i as RotationInput)
    : undefined;
}

/** The staging-twin activity over the registry and the worker's Temporal client. */
export function createStagingTwinActivities(deps: {
  registry: CredentialRegistry;
  temporal: () => TwinClient;
}) {
  const automationOf = (name: string, environment: string): CredentialAutomation | undefined =>
    deps.registry.automations?.().find((c) => c.name === name && c.environment === environment);

  return {
    /**
     * The credential's staging twin and the evidence for it: in mode require the newest completed twin
     * rotation with the same policy within the window (none: `match` absent, and the gate fails); in
     * mode run, the twin rotation to start first. No twin registered: only the fingerprint.
     */
    async checkStagingTwin(req: { input: RotationInput; nowMs: number }): Promise<StagingTwinCheck> {
      const fp = policyFingerprint(req.input);
      const twin = automationOf(req.input.credential, req.input.environment)?.stagingTwin;
      if (!twin) return { policyFingerprint: fp, differing: 0 };
      if (twin.mode === 'run') {
        const facts = automationOf(twin.name, twin.environment);
        if (!facts) return { twin, policyFingerprint: fp, differing: 0 };
        return {
          twin,
          policyFingerprint: fp,
          differing: 0,
          twinStart: {
            input: twinRotationInput(req.input, facts),
            workflowId: workflowIdFor(twin.environment, twin.name),
          },
        };
      }
      const runs = await completedTwinRotations(deps.temporal(), twin, req.nowMs);
      const same = runs.filter((r) => r.input && policyFingerprint(r.input) === fp);
      const match = same[0];
      return {
        twin,
        policyFingerprint: fp,
        differing: runs.length - same.length,
        ...(match
          ? {
              match: {
                rotationId: match.rotationId,
                workflowId: match.workflowId,
                runId: match.runId,
                completedAt: match.completedAt,
              },
            }
          : {}),
      };
    },
  };
}
