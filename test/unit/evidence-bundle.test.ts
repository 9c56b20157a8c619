import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import {
  checkEvidenceBundle,
  evidenceBundleSchema,
  type EvidenceBundle,
} from '../../domain/evidence/bundle-schema';
import { renderEvidenceMarkdown } from '../../domain/evidence/markdown';
import { fingerprint } from '../../domain/fingerprint';
import {
  ANCIENT_KEY,
  NEW_KEY,
  OLD_KEY,
  ROTATION_ID,
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
  revokeGateEvidence,
} from '../helpers/evidence-fixtures';

const GENERATED_AT = '2026-06-19T11:20:14.000Z';
const build = (status = evidenceStatus(), versions = evidenceHistory()) =>
  buildEvidenceBundle(status, { input: evidenceInput(), credential: evidenceCredential() }, versions, {
    generatedAt: GENERATED_AT,
  });

/** A deep copy of a bundle with one field changed. */
function edited(bundle: EvidenceBundle, change: (b: EvidenceBundle) => void): unknown {
  const copy = JSON.parse(JSON.stringify(bundle)) as EvidenceBundle;
  change(copy);
  return copy;
}

describe('the evidence bundle', () => {
  it('holds every row of the seed’s audit evidence table with the values of the rotation', () => {
    const b = build();
    expect(Object.keys(b)).toEqual([
      'schemaVersion',
      'rotationId',
      'credential',
      'environment',
      'generatedAt',
      'redactions',
      'changeTicket',
      'secretVersions',
      'gateway',
      'negativeTest',
      'exceptions',
      'postChangeReview',
      'rollbackChecks',
      'timeline',
      'timelineOmitted',
      'workflowRuns',
      'checks',
      'outcome',
    ]);
    expect(b).toMatchObject({ schemaVersion: 2, rotationId: ROTATION_ID, redactions: 0 });

    // Change ticket: approval, owner, timing and scope.
    expect(b.changeTicket).toEqual({
      id: 'CHG-2042',
      url: 'https://tickets.example.com/CHG-2042',
      reason: 'scheduled security rotation',
      requester: 'alice@example.com',
      owner: 'platform-ai',
      rollbackOwner: 'oncall-platform',
      mode: 'scheduled',
      acceptedRisk: null,
      // No leak alert started or escalated this rotation.
      exposure: null,
      stagingTwin: null,
      window: { startedAt: '2026-06-19T09:00:00.000Z', endedAt: '2026-06-19T11:20:13.000Z' },
      scope: {
        apps: ['customer-chat-api', 'enrichment-worker'],
        allowedRoutes: ['chat-completions', 'responses'],
        gatewayBaseUrl: 'https://router.flatkey.ai/v1',
        deployMethod: 'standard_config_release',
      },
      approvals: [
        {
          gate: 'revoke',
          decision: 'APPROVED',
          principal: 'bob@example.com',
          at: '2026-06-19T11:20:00.000Z',
          comment: 'worker owner accepts the outage risk',
          breakGlassReason: null,
          proof: {
            method: 'signature',
            summary:
              'signed by the rekey API (key 0123456789abcdef, via api) for OIDC https://idp.example.com subject bob',
            keyId: '0123456789abcdef',
            via: 'api',
            authn: 'oidc',
            issuer: 'https://idp.example.com',
            subject: 'bob',
            tokenId: null,
          },
        },
      ],
      riskAcceptances: [expect.objectContaining({ gate: 'revoke', principal: 'bob@example.com' })],
      preChecks: expect.arrayContaining([
        expect.objectContaining({ name: 'new_secret_version_created', claimed: true, result: 'failed' }),
      ]),
      finalStatus: 'completed',
    });

    // Secret version history: this rotation's versions and the old one, never an older rotation's.
    expect(b.secretVersions).toMatchObject({
      vaultUrl: 'https://kv-platform-prod.vault.azure.net',
      stablePath: 'flatkey-router-key',
      pendingPath: 'flatkey-router-key-pending',
      source: 'secret-store-history',
    });
    expect(b.secretVersions.versions.map((v) => `${v.name}@${v.version}`)).toEqual([
      'flatkey-router-key@v1',
      'flatkey-router-key-pending@p7',
      'flatkey-router-key@v2',
    ]);
    const [old, pending, current] = b.secretVersions.versions;
    expect(old).toMatchObject({
      roles: ['old', 'retired'],
      stage: 'retired',
      fingerprint: fingerprint(OLD_KEY),
      enabled: false,
      writtenByThisRotation: false,
      activatedAt: '2026-03-01T08:00:00.000Z',
      supersededAt: '2026-06-19T09:05:00.000Z',
      retiredAt: '2026-06-19T11:20:12.000Z',
    });
    expect(pending).toMatchObject({ roles: ['pending'], activatedAt: null, gatewayKeyId: 'gk-new-7' });
    expect(current).toMatchObject({
      roles: ['current'],
      stage: 'current',
      enabled: true,
      writtenByThisRotation: true,
      activatedAt: '2026-06-19T09:05:00.000Z',
      supersededAt: null,
      retiredAt: null,
    });

    // Gateway logs: request ids, status, model, route, owner, latency, tokens, cost.
    expect(b.gateway.canary).toEqual({
      ran: true,
      passed: true,
      requests: [
        expect.objectContaining({
          requestId: 'req_chat_01',
          route: 'chat-completions',
          status: 200,
          model: 'gpt-4o-mini',
          latencyMs: 312,
          tokens: 41,
          routeGroup: null,
          owner: null,
          cost: null,
        }),
        expect.objectContaining({ requestId: 'req_resp_02', route: 'responses', ok: true }),
      ],
    });
    expect(b.gateway.attribution).toMatchObject({
      checked: true,
      verdict: 'pass',
      passed: true,
      owner: 'platform-ai',
      team: 'platform-ai',
    });
    expect(b.gateway).toMatchObject({
      adminAdapter: 'litellm',
      oldKey: { gatewayKeyId: 'gk-old-3', fingerprint: fingerprint(OLD_KEY) },
      newKey: { gatewayKeyId: 'gk-new-7', fingerprint: fingerprint(NEW_KEY) },
      production: { newKeyRequests: 610, oldKeyRequests: 42, oldKeyZeroSince: null },
    });
    expect(b.gateway.limitations.join(' ')).toMatch(/route group/);

    // Negative test: old key refused after revocation, new key accepted, old version disabled.
    expect(b.negativeTest).toEqual({
      required: true,
      ran: true,
      at: '2026-06-19T11:20:11.000Z',
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
      newKeyAccepted: true,
      attempts: 2,
      revocation: {
        method: 'disable-then-delete',
        note: expect.stringMatching(/^disable-then-delete: .*could be enabled again/),
        at: '2026-06-19T11:20:05.000Z',
        by: null,
        detail: 'gk-old-3 disabled-and-deleted at 2026-06-19T11:20:05.000Z',
        disabledAt: '2026-06-19T11:20:02.000Z',
        reEnabledAt: null,
        deletedAt: '2026-06-19T11:20:05.000Z',
        preRevokeProbe: [expect.objectContaining({ requestId: 'req_probe_03', status: 200, ok: true })],
      },
      oldVersionRetired: { name: 'flatkey-router-key', version: 'v1', at: '2026-06-19T11:20:12.000Z' },
    });

    // Exception list: who stayed on the old key, its owner, expiry and control, the extension.
    expect(b.exceptions).toEqual({
      maxHoldReachedAt: '2026-06-19T11:05:01.000Z',
      holdExtensions: [
        {
          at: '2026-06-19T09:30:00.000Z',
          by: 'carol@example.com',
          minutes: 60,
          reason: 'worker restarts tonight',
        },
      ],
      consumers: [
        {
          consumer: 'enrichment-worker',
          registered: true,
          environment: 'production',
          owner: 'dana@example.com',
          ownerSource: 'exception',
          reload: 'restart',
          oldKeyRequests: 42,
          extendedUntil: '2026-06-19T11:05:01.000Z',
          expiresAt: '2026-06-26',
          compensatingControl: 'egress restricted to the batch subnet',
          recordedBy: 'bob@example.com',
          recordedAt: '2026-06-19T11:20:00.000Z',
          oldKeyServedUntil: '2026-06-19T11:20:05.000Z',
          disposition: 'revoked-after-approval',
          acceptedBy: {
            principal: 'bob@example.com',
            at: '2026-06-19T11:20:00.000Z',
            comment: 'worker owner accepts the outage risk',
          },
        },
      ],
    });

    // Post-change review: baseline against the hold.
    expect(b.postChangeReview.before).toMatchObject({
      minutes: 60,
      requests: 600,
      authErrors: 0,
      rateLimited: 2,
      serverErrors: 1,
      tokens: 90_000,
      spend: 1.8,
      p95LatencyMs: 820,
      requestsPerHour: 600,
      spendPerRequest: 0.003,
    });
    expect(b.postChangeReview.after).toMatchObject({
      from: '2026-06-19T09:05:01.000Z',
      to: '2026-06-19T10:05:01.000Z',
      requests: 610,
      authErrors: 0,
      rateLimited: 1,
      serverErrors: 1,
      tokens: 91_500,
      spend: 1.83,
      p95LatencyMs: 910,
    });
    expect(b.postChangeReview).toMatchObject({
      figuresComplete: true,
      holdChecks: 2,
      breaches: [],
      supportTickets: null,
    });
    expect(b.postChangeReview.thresholds).toMatchObject({ max_auth_error_rate: 0.01 });

    // Rollback checks: as the revoke gate showed them (a test below covers them in detail).
    expect(b.rollbackChecks).toMatchObject({ source: 'revoke-gate', gateEvidence: 'insufficient' });

    expect(b.timeline).toHaveLength(15);
    expect(b.outcome).toEqual({
      outcome: 'completed',
      finalPhase: 'COMPLETED',
      rollbackCause: null,
      failure: null,
      oldKeyRevoked: true,
      newKeyServing: true,
      keptReplacementKey: null,
      live: null,
    });
  });

  it('never carries a key value, even when free text or a vault tag held one', () => {
    const status = evidenceStatus();
    // An error message that echoed a key, and an approver who pasted one.
    status.timeline.push({
      at: '2026-06-19T11:20:13.500Z',
      phase: 'ARCHIVING',
      event: 'manual-action',
      detail: `gateway said: key ${NEW_KEY} is fine; Authorization: Bearer ${OLD_KEY}`,
    });
    status.approvals[0]!.comment = `checked ${OLD_KEY}`;
    status.riskAcceptances[0]!.reason = `accepted, key was ${OLD_KEY}`;
    const b = build(status);
    const text = JSON.stringify(b);
    for (const key of [OLD_KEY, NEW_KEY, ANCIENT_KEY]) {
      expect(text).not.toContain(key);
      expect(renderEvidenceMarkdown(b, { sha256: 'a'.repeat(64), previousSha256: null })).not.toContain(key);
    }
    // The timeline entry, the risk acceptance, and the comment wherever it is quoted: the approval and
    // the exception's acceptance.
    expect(b.redactions).toBe(4);
    expect(b.changeTicket.riskAcceptances[0]?.reason).toBe('accepted, key was [redacted]');
    expect(b.timeline.at(-1)?.detail).toBe(
      'gateway said: key [redacted] is fine; Authorization: Bearer [redacted]',
    );
  });

  it('falls back to the rotation’s own references when the vault history is unavailable', () => {
    const b = buildEvidenceBundle(evidenceStatus(), {}, undefined, {
      generatedAt: GENERATED_AT,
      versionsNote: 'vault history unavailable: 503',
    });
    expect(b.secretVersions).toMatchObject({
      source: 'rotation-status',
      sourceNote: 'vault history unavailable: 503',
      stablePath: 'flatkey-router-key',
    });
    expect(b.secretVersions.versions.map((v) => [v.version, v.roles, v.enabled])).toEqual([
      ['v1', ['old', 'retired'], false],
      ['p7', ['pending'], true],
      ['v2', ['current'], true],
    ]);
    // Without the ticket's input the reason still comes from the timeline; the rollback owner is unknown.
    expect(b.changeTicket).toMatchObject({
      reason: 'scheduled security rotation',
      rollbackOwner: null,
      url: null,
    });
  });

  it('states the accepted risk and the break-glass reason of an emergency rotation', () => {
    const status = evidenceStatus();
    status.mode = 'emergency';
    status.acceptedRisk = 'emergency rotation: no drain wait';
    status.exceptions = [];
    status.hold!.oldKeyZeroSince = '2026-06-19T09:05:01.000Z';
    status.approvals[0] = {
      ...status.approvals[0]!,
      principal: 'alice@example.com',
      breakGlassReason: 'key posted in a public issue',
    };
    const b = build(status);
    expect(b.changeTicket).toMatchObject({
      mode: 'emergency',
      acceptedRisk: 'emergency rotation: no drain wait',
    });
    expect(b.changeTicket.approvals[0]).toMatchObject({ breakGlassReason: 'key posted in a public issue' });
    // Judged from the record (no gate snapshot): no drain wait, so runtime coverage was not checked.
    delete status.gateEvidence.revoke;
    const judged = build(status).rollbackChecks.signals;
    expect(judged.runtimeCoverage.result).toBe('not-checked');
    expect(judged.runtimeCoverage.evidence.join('\n')).toMatch(/emergency: no drain wait/);
    expect(judged.authentication.result).toBe('green');
  });

  it('links the leak alert that escalated a rotation, in the bundle and its Markdown, never the token', () => {
    const status = evidenceStatus();
    const exposure = {
      source: 'github-partner' as const,
      alertId: 'gh-8812',
      url: 'https://github.com/acme/app/security/secret-scanning/12',
      fingerprint: fingerprint(OLD_KEY),
      receivedAt: '2026-06-19T09:30:00.000Z',
    };
    status.mode = 'emergency';
    status.exposure = exposure;
    status.escalations = [
      {
        at: '2026-06-19T09:30:01.000Z',
        principal: 'exposure:github-partner:gh-8812',
        reason: 'leak alert github-partner gh-8812',
        phase: 'HOLDING',
        exposure,
        effect: 'the soak ends and the drain wait is dropped',
      },
    ];
    const b = build(status);
    expect(b.changeTicket.exposure).toEqual(exposure);
    expect(b.changeTicket.escalations).toEqual([
      expect.objectContaining({ principal: 'exposure:github-partner:gh-8812', phase: 'HOLDING', exposure }),
    ]);
    const md = markdownOf(b);
    expect(md).toContain(`**Leak alert:** github-partner gh-8812, key ${fingerprint(OLD_KEY)}`);
    expect(md).toContain('### Escalations to emergency');
    expect(md).toMatch(/\| 2026-06-19T09:30:01\.000Z \| exposure:github-partner:gh-8812 \| HOLDING \|/);
    expect(md).not.toContain(OLD_KEY);
  });

  it('links the staging twin rotation it relied on, with the shared policy fingerprint, in the bundle and its Markdown', () => {
    const status = evidenceStatus();
    const fp = `sha256:${'ab'.repeat(32)}`;
    status.stagingTwin = {
      credential: 'router-key',
      environment: 'staging',
      mode: 'require',
      withinDays: 7,
      policyFingerprint: fp,
      state: 'passed',
      rotationId: 'staging:router-key:CHG-2040',
      workflowId: 'rekey:staging:router-key',
      runId: 'run-1',
      completedAt: '2026-06-18T15:00:00.000Z',
    };
    const b = build(status);
    expect(b.changeTicket.stagingTwin).toEqual({
      credential: 'router-key',
      environment: 'staging',
      mode: 'require',
      withinDays: 7,
      state: 'passed',
      rotationId: 'staging:router-key:CHG-2040',
      completedAt: '2026-06-18T15:00:00.000Z',
      policyFingerprint: fp,
      detail: null,
    });
    expect(evidenceBundleSchema.safeParse(b).success).toBe(true);
    expect(markdownOf(b)).toContain(
      `**Staging twin (require):** staging/router-key passed, rotation staging:router-key:CHG-2040 completed 2026-06-18T15:00:00.000Z, policy ${fp}`,
    );
  });

  it('records why a rotation rolled back, with the restored version and the breach that caused it', () => {
    const status = evidenceStatus();
    status.outcome = 'rolled_back';
    status.phase = 'ROLLING_BACK';
    status.rollbackCause = 'new-key traffic breached thresholds: 40 of 300 new-key requests got 5xx';
    status.checks[3]!.passed = false;
    status.checks[3]!.breaches = [
      { check: 'server-errors', observed: 0.1333, limit: 0.02, detail: '40 of 300 new-key requests got 5xx' },
    ];
    status.versions.restored = {
      ...status.versions.old!,
      version: 'v3',
      createdAt: '2026-06-19T09:40:00.000Z',
    };
    delete status.versions.retired;
    delete status.negativeTest;
    delete status.revocation;
    status.gateEvidence = {};
    status.riskAcceptances = [];
    status.approvals = [];
    status.exceptions = [];
    status.timeline = status.timeline.slice(0, 6);
    const b = build(status, []);
    expect(b.outcome).toMatchObject({
      outcome: 'rolled_back',
      finalPhase: 'ROLLED_BACK',
      rollbackCause: status.rollbackCause,
      oldKeyRevoked: false,
      newKeyServing: false,
    });
    expect(b.postChangeReview.breaches).toEqual([
      expect.objectContaining({ check: 'server-errors', limit: 0.02, at: '2026-06-19T09:35:01.000Z' }),
    ]);
    expect(b.rollbackChecks).toMatchObject({ source: 'not-reached', gateEvidence: null });
    expect(b.rollbackChecks.signals.routing.result).toBe('not-green');
    expect(b.negativeTest).toMatchObject({ ran: false, required: true, revocation: null });
  });
});

const markdownOf = (b: EvidenceBundle) =>
  renderEvidenceMarkdown(b, { sha256: 'c'.repeat(64), previousSha256: null });
/** One `## ` section of the Markdown, without its heading. */
const sectionOf = (md: string, name: string) => md.split(`## ${name}\n`)[1]!.split('\n## ')[0]!;
const ROLLBACK = "Rollback checks (the seed's revoke criteria)";
const results = (b: EvidenceBundle) =>
  Object.fromEntries(Object.entries(b.rollbackChecks.signals).map(([k, c]) => [k, c.result]));

describe('the evidence of what the gates showed and who accepted what', () => {
  it('takes the rollback checks from the rows the revoke gate showed when it opened, not from the end', () => {
    const b = build();
    expect(b.rollbackChecks).toMatchObject({
      source: 'revoke-gate',
      computedAt: '2026-06-19T11:05:02.000Z',
      gateEvidence: 'insufficient',
      blockers: revokeGateEvidence().blockers,
    });
    // Judged at the end, quota and budget would be green; the gate could not see 429s, and said so.
    expect(results(b)).toEqual({
      authentication: 'not-green',
      routing: 'green',
      usageAttribution: 'green',
      quotaAndBudget: 'unknown',
      runtimeCoverage: 'not-green',
      supportReadiness: 'unknown',
    });
    expect(b.rollbackChecks.signals.quotaAndBudget).toMatchObject({
      blocking: true,
      evidence: ['the telemetry source cannot see 429s: rate limits unobserved'],
      doNotRevokeIf: 'The new key has no limit, the wrong limit, or a different billing group.',
    });
    expect(b.rollbackChecks.signals.supportReadiness.blocking).toBe(false);

    const md = sectionOf(markdownOf(b), ROLLBACK);
    expect(md).toContain(
      'Computed when the revoke gate opened, 2026-06-19T11:05:02.000Z: evidence **insufficient**.',
    );
    expect(md).toContain('Blockers: authentication: enrichment-worker still sends old-key requests;');
  });

  it('marks a signal the revoke gate showed no row for as not checked instead of judging it later', () => {
    const status = evidenceStatus();
    status.gateEvidence.revoke!.rows = status.gateEvidence.revoke!.rows.filter((r) => r.signal !== 'routing');
    expect(build(status).rollbackChecks.signals.routing).toMatchObject({
      result: 'not-checked',
      blocking: null,
      evidence: ['the revoke gate showed no row for this signal'],
    });
  });

  it('judges the rollback checks from the record, marked not reached, when the rotation ended before the revoke gate', () => {
    const status = evidenceStatus();
    status.gateEvidence = {};
    const b = build(status);
    expect(b.rollbackChecks).toMatchObject({
      source: 'not-reached',
      computedAt: GENERATED_AT,
      gateEvidence: null,
      blockers: [],
    });
    // The drain never completed, so authentication and runtime coverage are not green.
    expect(results(b)).toEqual({
      authentication: 'not-green',
      routing: 'green',
      usageAttribution: 'green',
      quotaAndBudget: 'green',
      runtimeCoverage: 'not-green',
      supportReadiness: 'green',
    });
    expect(Object.values(b.rollbackChecks.signals).map((c) => c.blocking)).toEqual(Array(6).fill(null));
    expect(b.rollbackChecks.signals.runtimeCoverage.evidence.join('\n')).toMatch(
      /enrichment-worker \(42 req\)/,
    );
    expect(b.rollbackChecks.signals.supportReadiness.evidence.join('\n')).toMatch(
      /rollback owner: oncall-platform/,
    );
    expect(sectionOf(markdownOf(b), ROLLBACK)).toContain(
      `Not reached: the rotation ended before the revoke gate, so rekey judged these from what it had recorded by ${GENERATED_AT}.`,
    );
  });

  it('calls an attribution with no usage recorded yet unknown when judging from the record, not a failure', () => {
    const status = evidenceStatus();
    status.gateEvidence = {};
    status.attribution = { ...status.attribution!, verdict: 'inconclusive', passed: false };
    const b = build(status);
    expect(b.gateway.attribution).toMatchObject({ verdict: 'inconclusive', passed: false });
    expect(b.rollbackChecks.signals.usageAttribution.result).toBe('unknown');
    expect(b.rollbackChecks.signals.quotaAndBudget.result).toBe('green');
  });

  it('lists each risk accepted at a gate without positive evidence: who, when, why and what was missing', () => {
    const b = build();
    expect(b.changeTicket.riskAcceptances).toEqual([
      {
        gate: 'revoke',
        principal: 'bob@example.com',
        at: '2026-06-19T11:20:00.000Z',
        reason: 'worker owner accepts the outage risk',
        missing: revokeGateEvidence().blockers,
      },
    ]);
    const md = sectionOf(markdownOf(b), 'Change ticket');
    expect(md).toContain(
      '| revoke | bob@example.com | 2026-06-19T11:20:00.000Z | worker owner accepts the outage risk | authentication: enrichment-worker still sends old-key requests; runtime coverage: enrichment-worker has not reloaded (42 old-key requests) |',
    );

    const none = evidenceStatus();
    none.riskAcceptances = [];
    expect(sectionOf(markdownOf(build(none)), 'Change ticket')).toContain(
      '_none: no gate was approved without positive evidence_',
    );
  });

  it('lists every pre-check with its result, an unverified one as unverified rather than passed or failed', () => {
    const b = build();
    expect(b.changeTicket.preChecks).toEqual([
      { name: 'inventory_confirmed', claimed: true, result: 'verified', detail: '2 consumer(s) registered' },
      {
        name: 'new_secret_version_created',
        claimed: true,
        result: 'failed',
        detail: 'no pending version yet; rekey stages it',
      },
      {
        name: 'rollback_owner_on_call',
        claimed: true,
        result: 'unverified',
        detail: 'rekey cannot see the on-call schedule',
      },
    ]);
    const md = sectionOf(markdownOf(b), 'Change ticket');
    expect(md).toContain('| inventory_confirmed | yes | verified |');
    expect(md).toContain('| new_secret_version_created | yes | **FAILED** |');
    expect(md).toContain(
      '| rollback_owner_on_call | yes | unverified (rekey cannot look: only the ticket vouches for it) |',
    );
  });

  it('records each exception’s owner, expiry and compensating control, and says when none was recorded', () => {
    const status = evidenceStatus();
    status.exceptions.push({ consumer: 'nightly-report', requests: 3 });
    const [recorded, bare] = build(status).exceptions.consumers;
    expect(recorded).toMatchObject({
      owner: 'dana@example.com',
      ownerSource: 'exception',
      expiresAt: '2026-06-26',
      compensatingControl: 'egress restricted to the batch subnet',
      recordedBy: 'bob@example.com',
    });
    // Not registered and recorded without an owner: the credential's owning team answers for it.
    expect(bare).toMatchObject({
      consumer: 'nightly-report',
      registered: false,
      owner: 'platform-ai',
      ownerSource: 'credential-owner',
      expiresAt: null,
      compensatingControl: null,
      recordedBy: null,
    });
    expect(sectionOf(markdownOf(build(status)), 'Exception list')).toMatch(
      /\| nightly-report \| platform-ai \(credential owner\) \| \*\*none recorded\*\* \| \*\*none recorded\*\* \| — \|/,
    );

    const registryOwner = evidenceStatus();
    delete registryOwner.exceptions[0]!.owner;
    expect(build(registryOwner).exceptions.consumers[0]).toMatchObject({
      owner: 'data-enrichment',
      ownerSource: 'registry',
    });
  });

  it('names the telemetry source and the signals it cannot observe, and counts the analysis verdicts', () => {
    const b = build();
    expect(b.postChangeReview.telemetry).toEqual({
      source: 'litellm-spend-logs',
      observable: ['requests', 'authErrors', 'serverErrors', 'tokens', 'spend', 'perConsumer'],
      unobservable: ['rateLimited', 'latency'],
    });
    expect(b.postChangeReview.analysis).toEqual({
      stage: 'hold',
      measurements: 4,
      pass: 2,
      fail: 0,
      inconclusive: 1,
      error: 1,
      limits: { failure: 1, inconclusive: 3, consecutiveError: 4 },
    });
    expect(b.checks.find((c) => c.name === 'old-key drain')).toMatchObject({
      verdict: 'fail',
      reasons: ['enrichment-worker still on the old key'],
    });
    const md = sectionOf(markdownOf(b), 'Post-change review');
    expect(md).toContain(
      'Telemetry source `litellm-spend-logs`; cannot observe: **rateLimited, latency** (no check passes on these).',
    );
    expect(md).toContain('Analysis (hold): 4 measurement(s): 2 pass, 0 fail, 1 inconclusive, 1 error');
  });

  it('states that a delete-only gateway leaves no way back once the old key is revoked', () => {
    const status = evidenceStatus();
    status.revocation = { method: 'delete-only', deletedAt: '2026-06-19T11:20:05.000Z' };
    const b = build(status);
    expect(b.negativeTest.revocation).toMatchObject({
      method: 'delete-only',
      note: 'delete-only: no way back once revoked (the gateway cannot disable a key)',
      disabledAt: null,
      deletedAt: '2026-06-19T11:20:05.000Z',
      preRevokeProbe: [],
    });
    const md = sectionOf(markdownOf(b), 'Negative test');
    expect(md).toContain(
      '| method | delete-only: no way back once revoked (the gateway cannot disable a key) |',
    );
    expect(md).toContain('| disabled | — |');
  });

  it('shows the disable-then-delete steps and the probe made with the new key before revoking', () => {
    const md = sectionOf(markdownOf(build()), 'Negative test');
    expect(md).toContain('| disabled | 2026-06-19T11:20:02.000Z |');
    expect(md).toContain('| deleted | 2026-06-19T11:20:05.000Z |');
    expect(md).toMatch(/\| req_probe_03 \| chat-completions \| 200 \| gpt-4o-mini \| 298 \| yes \|/);
  });

  it('records the replacement key a rollback kept enabled, and who revoked it later', () => {
    const status = evidenceStatus();
    status.outcome = 'rolled_back';
    status.keptReplacementKey = {
      keyId: 'gk-new-7',
      fingerprint: fingerprint(NEW_KEY),
      since: '2026-06-19T09:40:00.000Z',
    };
    const kept = build(status);
    expect(kept.outcome.keptReplacementKey).toEqual({
      gatewayKeyId: 'gk-new-7',
      fingerprint: fingerprint(NEW_KEY),
      since: '2026-06-19T09:40:00.000Z',
      revoked: false,
      revokedAt: null,
      revokedBy: null,
    });
    expect(sectionOf(markdownOf(kept), 'Outcome')).toContain(
      '| replacement key revoked | **NO: still enabled** |',
    );

    status.keptReplacementKey.revokedAt = '2026-06-19T12:00:00.000Z';
    status.keptReplacementKey.revokedBy = 'carol@example.com';
    const revoked = build(status);
    expect(revoked.outcome.keptReplacementKey).toMatchObject({
      revoked: true,
      revokedBy: 'carol@example.com',
    });
    expect(sectionOf(markdownOf(revoked), 'Outcome')).toContain(
      '| replacement key revoked | 2026-06-19T12:00:00.000Z by carol@example.com |',
    );
  });

  it('spells out what is live at the end of a failed rotation', () => {
    const status = evidenceStatus();
    status.outcome = 'failed';
    status.failure = { phase: 'REVOKING', reason: 'gateway 500 on delete' };
    status.live = {
      oldKey: 'disabled',
      newKey: 'enabled',
      currentVersion: 'v2',
      detail: 'apps read v2 (new key); the old key is disabled, not deleted',
    };
    const b = build(status);
    expect(b.outcome.live).toEqual({
      oldKey: 'disabled',
      newKey: 'enabled',
      currentVersion: 'v2',
      detail: 'apps read v2 (new key); the old key is disabled, not deleted',
    });
    expect(sectionOf(markdownOf(b), 'Outcome')).toContain(
      '| live at the end | old key disabled, new key enabled, current version v2: apps read v2 (new key); the old key is disabled, not deleted |',
    );
  });
});

describe('the evidence bundle schema', () => {
  const valid = build();

  it('accepts the bundle the builder makes', () => {
    expect(evidenceBundleSchema.safeParse(valid).success).toBe(true);
  });

  it.each([
    [
      'the ticket reason',
      (b: EvidenceBundle) => (b.changeTicket.reason = `rotate ${OLD_KEY}`),
      'changeTicket.reason',
    ],
    [
      'an approval comment',
      (b: EvidenceBundle) => (b.changeTicket.approvals[0]!.comment = OLD_KEY),
      'changeTicket.approvals.0.comment',
    ],
    [
      'a canary request id',
      (b: EvidenceBundle) => (b.gateway.canary.requests[0]!.requestId = NEW_KEY),
      'gateway.canary.requests.0.requestId',
    ],
    [
      'a timeline detail',
      (b: EvidenceBundle) => (b.timeline[3]!.detail = `x ${NEW_KEY} y`),
      'timeline.3.detail',
    ],
    [
      'an exception owner',
      (b: EvidenceBundle) => (b.exceptions.consumers[0]!.owner = OLD_KEY),
      'exceptions.consumers.0.owner',
    ],
    [
      'a rollback check’s evidence',
      (b: EvidenceBundle) => (b.rollbackChecks.signals.routing.evidence[0] = OLD_KEY),
      'rollbackChecks.signals.routing.evidence.0',
    ],
    [
      'a risk acceptance’s reason',
      (b: EvidenceBundle) => (b.changeTicket.riskAcceptances[0]!.reason = OLD_KEY),
      'changeTicket.riskAcceptances.0.reason',
    ],
    [
      'an exception’s compensating control',
      (b: EvidenceBundle) => (b.exceptions.consumers[0]!.compensatingControl = OLD_KEY),
      'exceptions.consumers.0.compensatingControl',
    ],
    [
      'a threshold name',
      (b: EvidenceBundle) => (b.postChangeReview.thresholds![OLD_KEY] = 1),
      `postChangeReview.thresholds.${OLD_KEY}`,
    ],
  ])('rejects a key-like string in %s', (_what, change, path) => {
    const result = evidenceBundleSchema.safeParse(edited(valid, change));
    expect(result.success).toBe(false);
    const issue = result.error!.issues.find((i) => /looks like an API key/.test(i.message));
    expect(issue?.path.join('.')).toBe(path);
  });

  it('rejects a field it does not define, such as a secret value', () => {
    const result = evidenceBundleSchema.safeParse(
      edited(valid, (b) => Object.assign(b.secretVersions.versions[0]!, { value: 'hunter2' })),
    );
    expect(result.success).toBe(false);
  });

  it('names an unknown schema version instead of listing field errors', () => {
    expect(checkEvidenceBundle(edited(valid, (b) => Object.assign(b, { schemaVersion: 7 })))).toEqual({
      ok: false,
      schemaVersion: 7,
      message: 'bundle schema version 7 unknown: this rekey reads version 2',
    });
    // Version 1 bundles (rollback checks judged at the end) are named, not misread as version 2.
    expect(checkEvidenceBundle(edited(valid, (b) => Object.assign(b, { schemaVersion: 1 })))).toMatchObject({
      ok: false,
      message: 'bundle schema version 1 unknown: this rekey reads version 2',
    });
    expect(checkEvidenceBundle({ rotationId: 'x', phase: 'COMPLETED' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^bundle schema version \(none\) unknown/),
    });
    const broken = checkEvidenceBundle(
      edited(valid, (b) => delete (b as Partial<EvidenceBundle>).negativeTest),
    );
    expect(broken).toMatchObject({
      ok: false,
      message: expect.stringMatching(/schema version 2: negativeTest/),
    });
  });
});

describe('the evidence Markdown', () => {
  it('has a section per seed row, the rollback checks, the timeline and the outcome, with their values', () => {
    const md = renderEvidenceMarkdown(build(), { sha256: 'ab'.repeat(32), previousSha256: null });
    const headings = md.split('\n').filter((l) => l.startsWith('## '));
    expect(headings).toEqual([
      '## Change ticket',
      '## Secret version history',
      '## Gateway logs',
      '## Negative test',
      '## Exception list',
      '## Post-change review',
      "## Rollback checks (the seed's revoke criteria)",
      '## Timeline',
      '## Outcome',
    ]);
    const section = (name: string) => md.split(`## ${name}\n`)[1]!.split('\n## ')[0]!;
    expect(md).toMatch(/^# Key rotation evidence — production:flatkey-router-key:CHG-2042$/m);
    expect(md).toContain(`Bundle SHA-256 \`${'ab'.repeat(32)}\`; previous bundle \`none (first in chain)\``);
    expect(section('Change ticket')).toContain('[CHG-2042](https://tickets.example.com/CHG-2042)');
    expect(section('Change ticket')).toMatch(/\| rollback owner \| oncall-platform \|/);
    expect(section('Change ticket')).toMatch(/\| revoke \| APPROVED \| bob@example.com \|/);
    expect(section('Secret version history')).toMatch(
      /\| flatkey-router-key \| v1 \| old, retired \| retired \| sha256:[0-9a-f]{12} \| no \| 2026-03-01T08:00:00.000Z \| 2026-06-19T09:05:00.000Z \| 2026-06-19T11:20:12.000Z \|/,
    );
    expect(section('Gateway logs')).toMatch(
      /\| req_chat_01 \| chat-completions \| — \| 200 \| gpt-4o-mini \|/,
    );
    expect(section('Negative test')).toMatch(/\| old key status \| 401 \|/);
    expect(section('Exception list')).toMatch(
      /\| enrichment-worker \| dana@example.com \| 2026-06-26 \| egress restricted to the batch subnet \| bob@example.com at 2026-06-19T11:20:00.000Z \| production \| restart \| 42 \| 2026-06-19T11:05:01.000Z \| 2026-06-19T11:20:05.000Z \| revoked-after-approval \|/,
    );
    expect(section('Post-change review')).toMatch(/\| requests \| 600 \| 610 \|/);
    expect(section('Post-change review')).toMatch(/\| spend \| 1.8 \| 1.83 \|/);
    const rollback = section("Rollback checks (the seed's revoke criteria)");
    expect(rollback).toMatch(/\| Authentication \| \*\*NOT GREEN\*\* \| yes \|/);
    expect(rollback).toMatch(/\| Routing \| green \| yes \|/);
    expect(rollback).toMatch(/\| Quota and budget \| \*\*unknown\*\* \| yes \|/);
    expect(rollback).toMatch(/\| Support readiness \| \*\*unknown\*\* \| no \|/);
    expect(section('Outcome')).toMatch(/\| outcome \| completed \|/);
  });
});
