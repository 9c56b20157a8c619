// What rekey does with a verified leak: fingerprint the token and forget it, match it against every
// registered credential's current and recent versions, then start an emergency rotation of the match
// (ticket `leak-<source>-<alert>`), or switch its running rotation to emergency with the alert as the
// reason (the `escalate` update, signed as the alert's principal). One record per alert: the same alert
// again answers its record and starts nothing.
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Fingerprint } from '../../domain/activity-io';
import { fingerprint, sha256Hex } from '../../domain/fingerprint';
import { exposurePrincipal, type ExposureRef } from '../../domain/exposures';
import { leakTicketId, type ExposureRecord, type ExposureRecordStore } from '../../domain/exposure-records';
import { workflowIdFor } from '../../domain/policy';
import type { CredentialRegistry } from '../../domain/ports';
import { escalateUpdate } from '../../workflows/messages';
import { startAutoRotation } from '../auto-start';
import { HttpProblem } from '../errors';
import type { MessageSigner } from '../message-signing';
import type { Principal } from '../principal';
import type { FingerprintIndex, IndexMatch } from './fingerprint-index';
import type { ReportedLeak } from './payloads';

export interface LeakContext {
  temporal: Client;
  signer: MessageSigner;
  taskQueue: string;
  registry: Pick<CredentialRegistry, 'automations'>;
  records: ExposureRecordStore;
  index: FingerprintIndex;
  now: () => number;
  /** The alerts being handled now, by `<source>/<alertId>` (one map per app, not per process). */
  inFlight: Map<string, Promise<LeakOutcome>>;
}

/** The record of an alert, and whether it was already recorded (a retry or a duplicate). */
export interface LeakOutcome {
  existing: boolean;
  record: ExposureRecord;
}

/** Handles one leak; concurrent deliveries of the same alert to this app share one handling. */
export function handleLeak(ctx: LeakContext, leak: ReportedLeak): Promise<LeakOutcome> {
  const inFlight = ctx.inFlight;
  // The token becomes its fingerprint and hash here, and is not kept past this point.
  const token = leak.token;
  delete leak.token;
  const sha256 = token !== undefined ? sha256Hex(token) : leak.sha256;
  const fp: Fingerprint | undefined =
    token !== undefined ? fingerprint(token) : sha256 ? `sha256:${sha256.slice(0, 12)}` : undefined;
  const alertId = leak.alertId || (fp ? fp.replace(/^sha256:/, '') : 'unknown');
  const key = `${leak.source}/${alertId}`;
  const running = inFlight.get(key);
  if (running) return running.then((o) => ({ ...o, existing: true }));
  const work = handle(ctx, { ...leak, alertId }, sha256, fp).finally(() => inFlight.delete(key));
  inFlight.set(key, work);
  return work;
}

async function handle(
  ctx: LeakContext,
  leak: ReportedLeak,
  sha256: string | undefined,
  fp: Fingerprint | undefined,
): Promise<LeakOutcome> {
  const known = await ctx.records.get(leak.source, leak.alertId);
  if (known) return { existing: true, record: known };
  const base: ExposureRecord = {
    source: leak.source,
    alertId: leak.alertId,
    receivedAt: new Date(ctx.now()).toISOString(),
    ...(fp ? { fingerprint: fp } : {}),
    ...(leak.url ? { url: leak.url } : {}),
    ...(leak.secretType ? { secretType: leak.secretType } : {}),
    action: 'unmatchable',
  };
  let record: ExposureRecord;
  if (!sha256 || !fp) {
    record = { ...base, reason: leak.unmatchable ?? 'the alert carries no token to match' };
  } else {
    const match = await ctx.index.match(sha256);
    record = match ? { ...base, ...(await act(ctx, base, fp, match)) } : { ...base, action: 'not-ours' };
  }
  const kept = await ctx.records.putIfAbsent(record);
  return { existing: !kept.stored, record: kept.record };
}

/** Starts, joins or escalates the matched credential's emergency rotation. */
async function act(
  ctx: LeakContext,
  base: ExposureRecord,
  fp: Fingerprint,
  match: IndexMatch,
): Promise<Partial<ExposureRecord>> {
  const matched = match;
  const ref: ExposureRef = {
    source: base.source,
    alertId: base.alertId,
    ...(base.url ? { url: base.url } : {}),
    fingerprint: fp,
    receivedAt: base.receivedAt,
  };
  const reason = `leak alert ${base.source} ${base.alertId}: ${match.versionStage} key ${fp} exposed`;
  const automation = ctx.registry
    .automations?.()
    .find((a) => a.name === match.credential && a.environment === match.environment);
  if (!automation) return { matched, action: 'failed', reason: 'the credential is no longer registered' };
  const ticketId = leakTicketId(base.source, base.alertId);
  try {
    const started = await startAutoRotation(
      ctx,
      automation,
      { mode: 'emergency', reason, ticketId, requestedBy: exposurePrincipal(ref) },
      { exposure: ref },
    );
    return { matched, action: started.created ? 'started' : 'joined', rotationId: started.rotationId };
  } catch (err) {
    const running = err instanceof HttpProblem && err.status === 409 ? err.extra.running : undefined;
    if (typeof running !== 'string') {
      const why = err instanceof Error ? err.message : String(err);
      return { matched, action: 'failed', reason: why.slice(0, 500) };
    }
    return { matched, ...(await escalate(ctx, ref, reason, match, running)) };
  }
}

/** Switches the running rotation to emergency, signed as the alert (authn exposure-alert). */
async function escalate(
  ctx: LeakContext,
  ref: ExposureRef,
  reason: string,
  match: IndexMatch,
  rotationId: string,
): Promise<Partial<ExposureRecord>> {
  const who: Principal = {
    principal: exposurePrincipal(ref),
    roles: ['requester'],
    authn: { method: 'exposure-alert', source: ref.source, alertId: ref.alertId },
  };
  const args = { principal: who.principal, roles: who.roles, reason, exposure: ref };
  const signed = ctx.signer.sign({
    rotationId,
    message: escalateUpdate.name,
    args,
    principal: who,
    via: 'api',
  });
  const handle = ctx.temporal.workflow.getHandle(workflowIdFor(match.environment, match.credential));
  try {
    await ctx.temporal.withAbortSignal(AbortSignal.timeout(15_000), () =>
      handle.executeUpdate(escalateUpdate, {
        args: [signed],
        updateId: `escalate:${leakTicketId(ref.source, ref.alertId)}`,
      }),
    );
    return { action: 'escalated', rotationId };
  } catch (err) {
    const why =
      err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure
        ? `the rotation refused the escalation: ${err.cause.message}`
        : `the escalation could not be sent: ${(err as Error).message}`;
    return { action: 'failed', rotationId, reason: why.slice(0, 500) };
  }
}
