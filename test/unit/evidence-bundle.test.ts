import { buildEvidenceBundle } from '../../activities/evidence/build-bundle';
import {
  checkEvidenceBundle,
  evidenceBundleSchema,
  type EvidenceBundle,
} from '../../activities/evidence/bundle-schema';
import { renderEvidenceMarkdown } from '../../activities/evidence/markdown';
import { fingerprint } from '../../activities/fingerprint';
import {
  ANCIENT_KEY,
  NEW_KEY,
  OLD_KEY,
  ROTATION_ID,
  evidenceCredential,
  evidenceHistory,
  evidenceInput,
  evidenceStatus,
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
      'checks',
      'outcome',
    ]);
    expect(b).toMatchObject({ schemaVersion: 1, rotationId: ROTATION_ID, redactions: 0 });

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
        },
      ],
      preChecks: expect.arrayContaining([
        expect.objectContaining({ name: 'new_secret_version_created', claimed: true, verified: false }),
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
        at: '2026-06-19T11:20:05.000Z',
        by: null,
        detail: 'gk-old-3 disabled-and-deleted at 2026-06-19T11:20:05.000Z',
      },
      oldVersionRetired: { name: 'flatkey-router-key', version: 'v1', at: '2026-06-19T11:20:12.000Z' },
    });

    // Exception list: who stayed on the old key, its owner from the registry, the extension, the expiry.
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
          owner: 'data-enrichment',
          ownerSource: 'registry',
          reload: 'restart',
          oldKeyRequests: 42,
          extendedUntil: '2026-06-19T11:05:01.000Z',
          expiresAt: '2026-06-19T11:20:05.000Z',
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

    // Rollback checks: the drain never completed, so authentication and runtime coverage are not green.
    expect(Object.fromEntries(Object.entries(b.rollbackChecks).map(([k, c]) => [k, c.result]))).toEqual({
      authentication: 'not-green',
      routing: 'green',
      usageAttribution: 'green',
      quotaAndBudget: 'green',
      runtimeCoverage: 'not-green',
      supportReadiness: 'green',
    });
    expect(b.rollbackChecks.runtimeCoverage.evidence.join('\n')).toMatch(/enrichment-worker \(42 req\)/);
    expect(b.rollbackChecks.supportReadiness.evidence.join('\n')).toMatch(/rollback owner: oncall-platform/);

    expect(b.timeline).toHaveLength(15);
    expect(b.outcome).toEqual({
      outcome: 'completed',
      finalPhase: 'COMPLETED',
      rollbackCause: null,
      failure: null,
      oldKeyRevoked: true,
      newKeyServing: true,
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
    const b = build(status);
    const text = JSON.stringify(b);
    for (const key of [OLD_KEY, NEW_KEY, ANCIENT_KEY]) {
      expect(text).not.toContain(key);
      expect(renderEvidenceMarkdown(b, { sha256: 'a'.repeat(64), previousSha256: null })).not.toContain(key);
    }
    // The timeline entry, and the comment wherever it is quoted: the approval, the exception's
    // acceptance and the support-readiness evidence.
    expect(b.redactions).toBe(4);
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
    expect(b.rollbackChecks.supportReadiness.result).toBe('not-checked');
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
    expect(b.rollbackChecks.runtimeCoverage.result).toBe('not-checked');
    expect(b.rollbackChecks.authentication.result).toBe('green');
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
    expect(b.rollbackChecks.routing.result).toBe('not-green');
    expect(b.negativeTest).toMatchObject({ ran: false, required: true, revocation: null });
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
      (b: EvidenceBundle) => (b.rollbackChecks.routing.evidence[0] = OLD_KEY),
      'rollbackChecks.routing.evidence.0',
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
      message: 'bundle schema version 7 unknown: this rekey reads version 1',
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
      message: expect.stringMatching(/schema version 1: negativeTest/),
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
      "## Rollback checks (the seed's revoke criteria, as rekey saw them when the rotation ended)",
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
      /\| enrichment-worker \| data-enrichment \| production \| restart \| 42 \| 2026-06-19T11:05:01.000Z \| 2026-06-19T11:20:05.000Z \| revoked-after-approval \|/,
    );
    expect(section('Post-change review')).toMatch(/\| requests \| 600 \| 610 \|/);
    expect(section('Post-change review')).toMatch(/\| spend \| 1.8 \| 1.83 \|/);
    expect(
      section("Rollback checks (the seed's revoke criteria, as rekey saw them when the rotation ended)"),
    ).toMatch(/\| Authentication \| \*\*NOT GREEN\*\* \|/);
    expect(
      section("Rollback checks (the seed's revoke criteria, as rekey saw them when the rotation ended)"),
    ).toMatch(/\| Routing \| green \|/);
    expect(section('Outcome')).toMatch(/\| outcome \| completed \|/);
  });
});
