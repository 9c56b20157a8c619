// Builds the evidence bundle from what a rotation recorded (its final status), the ticket's policy, the
// registry entry and the vault's version history. Pure: same inputs, same bundle; no I/O. The status
// holds references, fingerprints and figures only; anything shaped like a credential that a human or an
// error message slipped into free text is redacted here, and the schema refuses what is left.
import type { RotationInput } from '../../common/policy';
import { CREDENTIAL_LIKE } from '../../common/key-shape';
import { sha256Hex } from '../fingerprint';
// Type only: the status is the shape the workflow hands to the evidence activity.
import type { RotationStatus, TimelineEntry } from '../../workflows/messages';
import {
  SIGNALS,
  type CanaryRequest,
  type CredentialRef,
  type SecretVersionRecord,
  type SecretVersionRef,
} from '../types';
import {
  EVIDENCE_SCHEMA_VERSION,
  evidenceBundleSchema,
  type EvidenceBundle,
  type MetricsWindow,
} from './bundle-schema';
import { rollbackChecksOf } from './rollback-checks';

/** The parts of the rotation's input the bundle reports (the whole RotationInput fits). */
export type EvidenceInput = Pick<
  RotationInput,
  | 'reason'
  | 'owner'
  | 'changeTicket'
  | 'apps'
  | 'allowedRoutes'
  | 'gatewayBaseUrl'
  | 'deployMethod'
  | 'thresholds'
  | 'evidence'
  | 'expectedOwner'
>;

/** What the bundle is built from besides the status; each part may be missing (old runs, unknown credential). */
export interface EvidenceContext {
  /** The ticket's policy as the workflow ran it. */
  input?: EvidenceInput;
  /** The registry entry: vault, secret paths, gateway adapter, consumers and their owners. */
  credential?: CredentialRef;
}

export interface BuildOptions {
  /** When the bundle is built (ISO 8601). */
  generatedAt: string;
  /** Why no vault history was given, when none was. */
  versionsNote?: string;
}

/** Thrown when a built bundle does not match its schema: a bug in rekey, never worth a retry. */
export class EvidenceBundleInvalid extends Error {
  override readonly name = 'EvidenceBundleInvalid';
}

type Outcome = EvidenceBundle['outcome']['outcome'];
type Phase = EvidenceBundle['outcome']['finalPhase'];
type VersionRole = EvidenceBundle['secretVersions']['versions'][number]['roles'][number];

const FINAL_PHASE: Record<Outcome, Phase> = {
  completed: 'COMPLETED',
  rolled_back: 'ROLLED_BACK',
  aborted: 'ABORTED',
  failed: 'FAILED',
};

type RevocationMethod = NonNullable<RotationStatus['revocation']>['method'];
/** What each revocation method leaves as a way back. */
const REVOCATION_NOTE: Record<RevocationMethod, string> = {
  'disable-then-delete':
    'disable-then-delete: the old key was disabled first, so it could be enabled again until it was deleted',
  'delete-only': 'delete-only: no way back once revoked (the gateway cannot disable a key)',
  manual: 'manual: a human revoked the old key at the gateway; rekey could not undo it',
};

const REDACTED = '[redacted]';

const round = (n: number) => Math.round(n * 1_000_000) / 1_000_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Builds and validates the evidence bundle of a finished rotation. */
export function buildEvidenceBundle(
  status: RotationStatus,
  context: EvidenceContext,
  versions: SecretVersionRecord[] | undefined,
  options: BuildOptions,
): EvidenceBundle {
  if (!status.outcome) {
    throw new EvidenceBundleInvalid(`${status.rotationId} has no outcome yet: evidence is built at the end`);
  }
  const outcome = status.outcome;
  const { input, credential } = context;
  const timeline = status.timeline;
  const last = (event: string) => timeline.filter((t) => t.event === event).at(-1);
  // The first irreversible-in-effect step: the disable where the gateway can, else the delete.
  const revocation =
    last('old-key-disabled') ??
    last('old-key-deleted') ??
    last('old-key-revoked') ??
    last('revocation-confirmed');
  const holdExtensions = timeline.filter((t) => t.event === 'hold-extended').map(holdExtension);

  const changeTicket: EvidenceBundle['changeTicket'] = {
    id: status.changeTicket,
    url: input?.changeTicket.url ?? null,
    // The workflow logs the reason as the detail of its first entry: older runs passed no input.
    reason: input?.reason ?? timeline.find((t) => t.event === 'started')?.detail ?? null,
    requester: status.requestedBy,
    owner: input?.owner ?? null,
    rollbackOwner: input?.changeTicket.rollbackOwner ?? null,
    mode: status.mode,
    acceptedRisk: status.acceptedRisk ?? null,
    window: { startedAt: timeline[0]?.at ?? null, endedAt: timeline.at(-1)?.at ?? null },
    scope: {
      apps: input?.apps ?? credential?.consumers.map((c) => c.app) ?? [],
      allowedRoutes: input?.allowedRoutes ?? [...new Set(status.canary.map((c) => c.route))],
      gatewayBaseUrl: input?.gatewayBaseUrl ?? credential?.gatewayBaseUrl ?? null,
      deployMethod: input?.deployMethod ?? null,
    },
    approvals: approvalsOf(status),
    riskAcceptances: status.riskAcceptances
      .map((r) => ({ gate: r.gate, principal: r.principal, at: r.at, reason: r.reason, missing: r.missing }))
      .sort((a, b) => a.at.localeCompare(b.at)),
    preChecks: status.preChecks.map((p) => ({
      name: p.name,
      claimed: p.claimed ?? null,
      result: p.result,
      detail: p.detail,
    })),
    finalStatus: outcome,
  };

  const secretVersions = secretVersionsOf(status, credential, versions, options.versionsNote);

  const trafficChecks = status.checks.filter((c) => c.name === 'new-key traffic');
  const canaryCheck = status.checks.filter((c) => c.name === 'canary').at(-1);
  const gateway: EvidenceBundle['gateway'] = {
    baseUrl: credential?.gatewayBaseUrl ?? input?.gatewayBaseUrl ?? null,
    adminAdapter: credential?.adminAdapter ?? null,
    oldKey: { gatewayKeyId: status.gatewayKeys.old ?? null, fingerprint: status.fingerprints.old ?? null },
    newKey: { gatewayKeyId: status.gatewayKeys.new ?? null, fingerprint: status.fingerprints.new ?? null },
    canary: {
      ran: canaryCheck !== undefined || status.canary.length > 0,
      passed: canaryCheck?.passed ?? null,
      requests: status.canary.map(canaryRequest),
    },
    attribution: status.attribution
      ? {
          checked: true,
          verdict: status.attribution.verdict,
          passed: status.attribution.passed,
          owner: status.attribution.owner ?? null,
          team: status.attribution.team ?? null,
          expectedOwner: status.attribution.expectedOwner,
          anomalies: status.attribution.anomalies,
        }
      : {
          checked: false,
          verdict: null,
          passed: null,
          owner: null,
          team: null,
          expectedOwner: input?.expectedOwner ?? null,
          anomalies: [],
        },
    production: {
      newKeyRequests: status.hold?.totals.newKeyRequests ?? null,
      oldKeyRequests: status.hold?.totals.oldKeyRequests ?? null,
      oldKeyZeroSince: status.hold?.oldKeyZeroSince ?? null,
    },
    limitations: [
      'route group: the OpenAI-compatible API does not say which gateway route group served a request',
      'per-request owner and cost: not in the API response; owner is checked per key (attribution), spend per window (post-change review)',
      ...(credential?.adminAdapter === 'manual'
        ? ['manual gateway: no admin API, so rekey knows neither the keys’ gateway ids nor their scope']
        : []),
    ],
  };

  const retired = status.versions.retired;
  const rv = status.revocation;
  const negativeTest: EvidenceBundle['negativeTest'] = {
    required: input ? input.evidence.old_key_negative_test === 'required' : null,
    ran: status.negativeTest !== undefined,
    at: status.negativeTest?.at ?? null,
    oldKeyStatus: status.negativeTest?.oldKeyStatus ?? null,
    oldKeyRejected: status.negativeTest?.oldKeyRejected ?? null,
    newKeyStatus: status.negativeTest?.newKeyStatus ?? null,
    newKeyAccepted: status.negativeTest?.newKeyAccepted ?? null,
    attempts: status.negativeTest?.attempts ?? null,
    revocation:
      rv || revocation
        ? {
            method: rv?.method ?? null,
            note: rv ? REVOCATION_NOTE[rv.method] : 'the rotation did not record how the old key was revoked',
            at: rv?.deletedAt ?? revocation?.at ?? null,
            by: revocation?.by ?? null,
            detail: revocation?.detail ?? null,
            disabledAt: rv?.disabledAt ?? null,
            reEnabledAt: rv?.reEnabledAt ?? null,
            deletedAt: rv?.deletedAt ?? null,
            preRevokeProbe: (rv?.preRevokeProbe ?? []).map(canaryRequest),
          }
        : null,
    oldVersionRetired: retired
      ? {
          name: retired.name,
          version: retired.version,
          at: last('previous-version-retired')?.at ?? null,
        }
      : null,
  };

  const extendedUntil = holdExtensions.length > 0 ? (status.hold?.maxHoldEndsAt ?? null) : null;
  const revokeApproval = status.approvals
    .filter((a) => a.gate === 'revoke' && a.decision === 'APPROVED')
    .at(-1);
  const exceptions: EvidenceBundle['exceptions'] = {
    maxHoldReachedAt: last('max-hold-reached')?.at ?? null,
    holdExtensions,
    consumers: status.exceptions.map((e) => {
      const registered = credential?.consumers.find((c) => c.app === e.consumer);
      const owner = e.owner ?? registered?.owner ?? input?.owner ?? null;
      const disposition =
        outcome === 'completed'
          ? 'revoked-after-approval'
          : outcome === 'rolled_back' || outcome === 'aborted'
            ? 'old-key-restored'
            : 'open';
      return {
        consumer: e.consumer,
        registered: registered !== undefined,
        environment: registered?.environment ?? null,
        owner,
        ownerSource: e.owner
          ? 'exception'
          : registered?.owner
            ? 'registry'
            : owner
              ? 'credential-owner'
              : null,
        reload: registered?.reload ?? null,
        oldKeyRequests: e.requests,
        extendedUntil,
        expiresAt: e.expiresAt ?? null,
        compensatingControl: e.compensatingControl ?? null,
        recordedBy: e.recordedBy ?? null,
        recordedAt: e.recordedAt ?? null,
        oldKeyServedUntil:
          disposition === 'revoked-after-approval'
            ? (revocation?.at ?? null)
            : disposition === 'old-key-restored'
              ? null
              : extendedUntil,
        disposition,
        acceptedBy:
          disposition === 'revoked-after-approval' && revokeApproval
            ? {
                principal: revokeApproval.principal,
                at: revokeApproval.at,
                comment: revokeApproval.comment ?? null,
              }
            : null,
      };
    }),
  };

  const postChangeReview = postChangeReviewOf(status, input, trafficChecks);
  const bundle: EvidenceBundle = {
    schemaVersion: EVIDENCE_SCHEMA_VERSION,
    rotationId: status.rotationId,
    credential: status.credential,
    environment: status.environment,
    generatedAt: options.generatedAt,
    redactions: 0,
    changeTicket,
    secretVersions,
    gateway,
    negativeTest,
    exceptions,
    postChangeReview,
    rollbackChecks: rollbackChecksOf(
      status,
      input,
      credential,
      postChangeReview,
      changeTicket,
      options.generatedAt,
    ),
    timeline: timeline.map((t) => ({
      at: t.at,
      phase: t.phase,
      event: t.event,
      detail: t.detail ?? null,
      by: t.by ?? null,
    })),
    timelineOmitted: status.timelineOmitted ?? {},
    workflowRuns: status.run ?? 1,
    checks: status.checks.map((c) => ({
      at: c.at,
      name: c.name,
      passed: c.passed,
      verdict: c.verdict ?? null,
      reasons: c.reasons ?? [],
      detail: c.detail,
    })),
    outcome: {
      outcome,
      finalPhase: FINAL_PHASE[outcome],
      rollbackCause: status.rollbackCause ?? null,
      failure: status.failure ? { phase: status.failure.phase, reason: status.failure.reason } : null,
      oldKeyRevoked: revocation !== undefined || rv?.deletedAt !== undefined,
      newKeyServing:
        status.versions.current !== undefined &&
        status.versions.restored === undefined &&
        outcome !== 'rolled_back' &&
        outcome !== 'aborted',
      keptReplacementKey: keptReplacementKeyOf(status),
      live: status.live
        ? {
            oldKey: status.live.oldKey,
            newKey: status.live.newKey,
            currentVersion: status.live.currentVersion ?? null,
            detail: status.live.detail,
          }
        : null,
    },
  };

  const { value, redactions } = redact(bundle);
  value.redactions = redactions;
  const parsed = evidenceBundleSchema.safeParse(value);
  if (!parsed.success) {
    // Paths and messages only: the offending values stay out of logs and workflow history.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new EvidenceBundleInvalid(
      `evidence bundle of ${status.rotationId} is invalid: ${issues.join('; ')}`,
    );
  }
  return parsed.data;
}

/** A probe request as the bundle records it: what the OpenAI-compatible API does not report is null. */
function canaryRequest(c: CanaryRequest): EvidenceBundle['gateway']['canary']['requests'][number] {
  return {
    requestId: c.requestId ?? null,
    route: c.route,
    routeGroup: null,
    owner: null,
    model: c.model ?? null,
    status: c.status,
    latencyMs: c.latencyMs,
    tokens: c.tokens ?? null,
    cost: null,
    ok: c.ok,
    reason: c.reason ?? null,
  };
}

/** The replacement key a rollback past the flip left enabled, and whether it has been revoked since. */
function keptReplacementKeyOf(status: RotationStatus): EvidenceBundle['outcome']['keptReplacementKey'] {
  const k = status.keptReplacementKey;
  if (!k) return null;
  return {
    gatewayKeyId: k.keyId ?? null,
    fingerprint: k.fingerprint ?? null,
    since: k.since,
    revoked: k.revokedAt !== undefined,
    revokedAt: k.revokedAt ?? null,
    revokedBy: k.revokedBy ?? null,
  };
}

/** Gate decisions, plus a manual gateway's revocation confirmation, in time order. */
function approvalsOf(status: RotationStatus): EvidenceBundle['changeTicket']['approvals'] {
  const decisions = status.approvals.map((a) => ({
    gate: a.gate,
    decision: a.decision,
    principal: a.principal,
    at: a.at,
    comment: a.comment ?? null,
    breakGlassReason: a.breakGlassReason ?? null,
  }));
  const confirmations = status.timeline
    .filter((t) => t.event === 'revocation-confirmed' && t.by)
    .map((t) => ({
      gate: 'revocation-confirmation' as const,
      decision: 'CONFIRMED' as const,
      principal: t.by!,
      at: t.at,
      comment: t.detail ?? null,
      breakGlassReason: null,
    }));
  return [...decisions, ...confirmations].sort((a, b) => a.at.localeCompare(b.at));
}

/** A `hold-extended` timeline entry (detail `<minutes> min: <reason>`) as an extension record. */
function holdExtension(t: TimelineEntry): EvidenceBundle['exceptions']['holdExtensions'][number] {
  const m = /^(\d+(?:\.\d+)?) min: ([\s\S]*)$/.exec(t.detail ?? '');
  return {
    at: t.at,
    by: t.by ?? null,
    minutes: m ? Number(m[1]) : null,
    reason: m ? m[2]! : (t.detail ?? null),
  };
}

/**
 * The versions this rotation touched plus the old one, from the vault's history when there is one
 * (tags and times, never values), else from the references the rotation recorded.
 */
function secretVersionsOf(
  status: RotationStatus,
  credential: CredentialRef | undefined,
  history: SecretVersionRecord[] | undefined,
  note: string | undefined,
): EvidenceBundle['secretVersions'] {
  const v = status.versions;
  const stablePath = credential?.secretName ?? v.old?.name ?? v.current?.name ?? null;
  const pendingPath = credential?.pendingSecretName ?? v.pending?.name ?? null;
  const key = (r: { name: string; version: string }) => `${r.name}@${r.version}`;
  const roles = new Map<string, VersionRole[]>();
  for (const role of ['old', 'pending', 'current', 'restored', 'retired'] as const) {
    const ref = v[role];
    if (ref) roles.set(key(ref), [...(roles.get(key(ref)) ?? []), role]);
  }
  // A long rotation id is tagged as its hash (Key Vault's 256-character tag limit).
  const ours = new Set([status.rotationId, `sha256:${sha256Hex(status.rotationId)}`]);
  const at = (event: string, detail?: string) =>
    status.timeline.filter((t) => t.event === event && (!detail || t.detail === detail)).at(-1)?.at;
  const isStable = (name: string, r: VersionRole[]) =>
    stablePath ? name.toLowerCase() === stablePath.toLowerCase() : !r.includes('pending');

  const records: SecretVersionRecord[] = history
    ? history.filter(
        (r) =>
          roles.has(key(r)) ||
          (r.rotationId !== undefined && ours.has(r.rotationId)) ||
          ours.has(r.tags['rekey-replaced-by'] ?? ''),
      )
    : fromStatus(v);
  const stableOrder = (history ?? records).filter((r) => isStable(r.name, roles.get(key(r)) ?? []));

  return {
    vaultUrl: credential?.vaultUrl ?? v.old?.vaultUrl ?? null,
    stablePath,
    pendingPath,
    source: history ? 'secret-store-history' : 'rotation-status',
    sourceNote: history ? null : (note ?? 'no vault history was available'),
    versions: records.map((r) => {
      const r0 = roles.get(key(r)) ?? [];
      const stable = isStable(r.name, r0);
      const next = stable ? stableOrder[stableOrder.findIndex((s) => key(s) === key(r)) + 1] : undefined;
      const retiredFallback = r0.includes('retired')
        ? at('previous-version-retired')
        : r0.includes('current')
          ? at('compensated', 'restore old secret version')
          : undefined;
      return {
        name: r.name,
        version: r.version,
        roles: r0,
        stage: r.stage ?? null,
        fingerprint: r.fingerprint ?? null,
        enabled: r.enabled,
        writtenByThisRotation: history
          ? r.rotationId !== undefined && ours.has(r.rotationId)
          : r0.some((x) => x === 'pending' || x === 'current' || x === 'restored'),
        gatewayKeyId: r.gatewayKeyId ?? null,
        createdAt: r.createdAt ?? null,
        activatedAt: stable ? (r.createdAt ?? null) : null,
        supersededAt: next?.createdAt ?? null,
        retiredAt: r.enabled ? null : (r.updatedAt ?? retiredFallback ?? null),
      };
    }),
  };
}

/** Version records from the references in the status, when the vault history is not available. */
function fromStatus(v: RotationStatus['versions']): SecretVersionRecord[] {
  const byKey = new Map<string, SecretVersionRecord>();
  for (const ref of [v.old, v.pending, v.current, v.restored, v.retired] as (
    SecretVersionRef | undefined
  )[]) {
    if (!ref) continue;
    const k = `${ref.name}@${ref.version}`;
    const seen = byKey.get(k);
    byKey.set(k, {
      vaultUrl: ref.vaultUrl,
      name: ref.name,
      version: ref.version,
      // A later reference (retired) knows it was disabled.
      enabled: (seen?.enabled ?? true) && ref.enabled,
      ...((seen?.createdAt ?? ref.createdAt) ? { createdAt: seen?.createdAt ?? ref.createdAt } : {}),
      fingerprint: ref.fingerprint,
      ...(ref.gatewayKeyId ? { gatewayKeyId: ref.gatewayKeyId } : {}),
      tags: {},
    });
  }
  return [...byKey.values()];
}

/** Figures of one window with the rates a reviewer compares. */
function metricsWindow(
  fromMs: number,
  toMs: number,
  f: {
    requests: number;
    authErrors: number;
    rateLimited: number;
    serverErrors: number;
    tokens: number | null;
    spend: number | null;
    p95LatencyMs: number | null;
  },
): MetricsWindow {
  const minutes = Math.max(0, (toMs - fromMs) / 60_000);
  const share = (n: number) => (f.requests > 0 ? round(n / f.requests) : 0);
  const perRequest = (n: number | null) => (n === null || f.requests === 0 ? null : round(n / f.requests));
  return {
    from: iso(fromMs),
    to: iso(Math.max(fromMs, toMs)),
    minutes: round(minutes),
    requests: f.requests,
    authErrors: f.authErrors,
    rateLimited: f.rateLimited,
    serverErrors: f.serverErrors,
    tokens: f.tokens,
    spend: f.spend === null ? null : round(f.spend),
    p95LatencyMs: f.p95LatencyMs,
    authErrorRate: share(f.authErrors),
    rateLimitedRate: share(f.rateLimited),
    serverErrorRate: share(f.serverErrors),
    requestsPerHour: minutes > 0 ? round(f.requests / (minutes / 60)) : 0,
    tokensPerRequest: perRequest(f.tokens),
    spendPerRequest: perRequest(f.spend),
  };
}

/** Baseline (old key, before) against the hold (new key, after). */
function postChangeReviewOf(
  status: RotationStatus,
  input: EvidenceInput | undefined,
  trafficChecks: RotationStatus['checks'],
): EvidenceBundle['postChangeReview'] {
  const b = status.baseline;
  const hold = status.hold;
  const windows = trafficChecks.map((c) => c.figures).filter((f) => f !== undefined);
  const sum = (pick: (f: (typeof windows)[number]) => number) =>
    windows.length ? windows.reduce((n, f) => n + pick(f), 0) : null;
  const after =
    hold && hold.totals.checks > 0
      ? metricsWindow(
          Date.parse(hold.startedAt),
          windows.length ? Math.max(...windows.map((f) => f.toMs)) : Date.parse(hold.startedAt),
          {
            requests: hold.totals.newKeyRequests,
            authErrors: hold.totals.authErrors,
            rateLimited: hold.totals.rateLimited,
            serverErrors: hold.totals.serverErrors,
            tokens: sum((f) => f.tokens),
            spend: sum((f) => f.spend),
            p95LatencyMs: windows.length ? Math.max(...windows.map((f) => f.p95LatencyMs)) : null,
          },
        )
      : null;
  return {
    before: b
      ? metricsWindow(b.fromMs, b.toMs, {
          requests: b.requests,
          authErrors: b.authErrors,
          rateLimited: b.rateLimited,
          serverErrors: b.serverErrors,
          tokens: b.tokens,
          spend: b.spend,
          p95LatencyMs: b.p95LatencyMs,
        })
      : null,
    after,
    figuresComplete: !hold || windows.length >= hold.totals.checks,
    holdChecks: hold?.totals.checks ?? 0,
    breaches: status.checks.flatMap((c) =>
      (c.breaches ?? []).map((x) => ({
        at: c.at,
        check: x.check,
        observed: x.observed,
        limit: x.limit,
        detail: x.detail,
      })),
    ),
    thresholds: input ? { ...input.thresholds } : null,
    telemetry: telemetryOf(status),
    analysis: analysisOf(status),
    supportTickets: null,
  };
}

/** The telemetry source and which per-key signals it could and could not see for this credential. */
function telemetryOf(status: RotationStatus): EvidenceBundle['postChangeReview']['telemetry'] {
  const t = status.telemetry;
  if (!t) return null;
  return {
    source: t.name,
    observable: SIGNALS.filter((s) => t.capabilities[s] && !t.unobservable.includes(s)),
    unobservable: [...t.unobservable],
  };
}

/** Verdict counts of the last analysis run. */
function analysisOf(status: RotationStatus): EvidenceBundle['postChangeReview']['analysis'] {
  const a = status.analysis;
  if (!a) return null;
  return {
    stage: a.stage,
    measurements: a.measurements,
    pass: a.passed,
    fail: a.failed,
    inconclusive: a.inconclusive,
    // The tally keeps only errors in a row; every measurement has one verdict, so the rest are errors.
    error: Math.max(0, a.measurements - a.passed - a.failed - a.inconclusive),
    limits: { ...a.limits },
  };
}

/** A deep copy with credential-shaped text replaced, and how many strings were changed. */
function redact<T>(value: T): { value: T; redactions: number } {
  let redactions = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const out = CREDENTIAL_LIKE.reduce((s, re) => s.replace(re, REDACTED), v);
      if (out !== v) redactions += 1;
      return out;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { value: walk(value) as T, redactions };
}
