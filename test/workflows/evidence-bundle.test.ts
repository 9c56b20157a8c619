// The evidence bundle as real rotations archive it: the workflow runs on the time-skipping server with the
// fake world, and its writeEvidence call goes to the real activity, which builds the bundle from what the
// workflow passes, the registry and the vault history, and writes it to a filesystem store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDeps } from '../../activities';
import {
  checkEvidenceBundle,
  createFilesystemEvidenceStore,
  renderEvidenceMarkdown,
  type EvidenceBundle,
} from '../../activities/evidence';
import type { CredentialRef } from '../../domain/activity-io';
import {
  approveUpdate,
  extendHoldUpdate,
  replacementKeyStagedUpdate,
  revocationConfirmedUpdate,
} from '../../workflows/messages';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { FakeWorld, type WorldActivities, type WorldOptions } from './fake-world';
import {
  APPROVER,
  OPERATOR,
  REQUESTER,
  runScenario,
  seedInput,
  until,
  untilPhase,
  teardownEnv,
} from './rotation-harness';

let env: TestWorkflowEnvironment;
let dir: string;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
  dir = mkdtempSync(path.join(tmpdir(), 'rekey-evidence-wf-'));
});
afterAll(async () => {
  await new Promise((r) => setTimeout(r, 1000));
  await teardownEnv(env);
  rmSync(dir, { recursive: true, force: true });
});

/** The fake world, with the real writeEvidence activity over a registry entry that names owners. */
class EvidenceWorld extends FakeWorld {
  readonly store = createFilesystemEvidenceStore(dir);

  constructor(opts: WorldOptions = {}) {
    super(opts);
  }

  registryEntry(): CredentialRef {
    return {
      name: 'flatkey-router-key',
      environment: 'production',
      secret: {
        backend: 'azure-key-vault',
        vaultUrl: 'https://fake-vault.vault.example',
        secretName: 'flatkey-router-key',
        pendingSecretName: 'flatkey-router-key-pending',
      },
      gatewayBaseUrl: 'https://router.flatkey.ai/v1',
      adminAdapter: this.opts.adminAdapter ?? 'litellm',
      consumers: [
        { app: 'customer-chat-api', environment: 'production', reload: 'dynamic' },
        { app: 'enrichment-worker', environment: 'production', reload: 'restart', owner: 'data-enrichment' },
      ],
    };
  }

  override activities(): WorldActivities {
    const unused = () => {
      throw new Error('not used by writeEvidence');
    };
    const real = createActivities({
      registry: { lookup: () => this.registryEntry(), names: () => ['flatkey-router-key'] },
      secretStoreFor: () =>
        ({ history: async () => this.history() }) as unknown as ReturnType<ActivityDeps['secretStoreFor']>,
      gatewayAdminFor: unused,
      probeFor: unused,
      telemetry: {} as ActivityDeps['telemetry'],
      evidence: this.store,
      notifier: { notify: async () => undefined },
    });
    const fake = super.activities();
    return {
      ...fake,
      writeEvidence: async (input) => {
        await fake.writeEvidence(input);
        return real.writeEvidence(input);
      },
    };
  }

  /** The stored bundle, validated, and its Markdown; both scanned for every key of the world. */
  async archived(rotationId: string): Promise<{ bundle: EvidenceBundle; markdown: string }> {
    const found = await this.store.read(rotationId);
    if (!found) throw new Error(`no evidence for ${rotationId}`);
    const check = checkEvidenceBundle(found.document.bundle);
    if (!check.ok) throw new Error(check.message);
    const markdown = renderEvidenceMarkdown(check.bundle, found.record);
    const stored = readFileSync(found.record.location, 'utf8');
    for (const key of this.secrets()) {
      expect(stored).not.toContain(key);
      expect(markdown).not.toContain(key);
    }
    return { bundle: check.bundle, markdown };
  }
}

const results = (b: EvidenceBundle) =>
  Object.fromEntries(Object.entries(b.rollbackChecks.signals).map(([k, c]) => [k, c.result]));

describe('the evidence a rotation archives', () => {
  it('proves a clean automated rotation: every seed row filled and all six rollback checks green', async () => {
    const world = new EvidenceWorld();
    const input = seedInput((r) => {
      r.change_ticket = {
        id: 'CHG-3001',
        url: 'https://tickets.example.com/CHG-3001',
        rollback_owner: 'oncall-platform',
      };
    }, 'CHG-3001');
    await runScenario(env, world, input, 'evidence-clean', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(approveUpdate, {
        args: [{ ...APPROVER, gate: 'revoke', comment: 'drain is clean' }],
      });
    });
    const { bundle: b, markdown } = await world.archived(input.rotationId);

    expect(b.changeTicket).toMatchObject({
      id: 'CHG-3001',
      url: 'https://tickets.example.com/CHG-3001',
      reason: 'scheduled security rotation',
      requester: REQUESTER.principal,
      owner: 'platform-ai',
      rollbackOwner: 'oncall-platform',
      finalStatus: 'completed',
      approvals: [
        expect.objectContaining({ gate: 'revoke', principal: APPROVER.principal, comment: 'drain is clean' }),
      ],
    });
    expect(b.secretVersions.source).toBe('secret-store-history');
    expect(b.secretVersions.versions.map((v) => [v.version, v.roles, v.enabled])).toEqual([
      ['v1', ['old', 'retired'], false],
      ['v2', ['current'], true],
    ]);
    expect(b.gateway.canary.requests.map((r) => [r.requestId, r.route, r.status])).toEqual([
      ['req_canary_0', 'chat-completions', 200],
      ['req_canary_1', 'responses', 200],
    ]);
    expect(b.gateway.newKey.gatewayKeyId).toBe(`gk-${input.rotationId}`);
    expect(b.negativeTest).toMatchObject({
      ran: true,
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
    });
    expect(b.negativeTest.revocation?.detail).toMatch(
      /^gk-old disabled at .* \(reversible until the negative test passes\)/,
    );
    expect(b.exceptions.consumers).toEqual([]);
    expect(b.postChangeReview.before).toMatchObject({ requests: 100, minutes: 60 });
    expect(b.postChangeReview.after).toMatchObject({
      requests: 1200,
      authErrors: 0,
      tokens: 120_000,
      spend: 12,
    });
    expect(results(b)).toEqual({
      authentication: 'green',
      routing: 'green',
      usageAttribution: 'green',
      quotaAndBudget: 'green',
      runtimeCoverage: 'green',
      supportReadiness: 'green',
    });
    expect(b.outcome).toMatchObject({
      outcome: 'completed',
      finalPhase: 'COMPLETED',
      oldKeyRevoked: true,
      newKeyServing: true,
    });
    expect(markdown).toContain('## Exception list');
  });

  it('lists a consumer that never left the old key with the owner, expiry and control the approver accepted', async () => {
    const world = new EvidenceWorld({
      consumers: () => [
        { consumer: 'customer-chat-api', requests: 60 },
        { consumer: 'enrichment-worker', requests: 7, key: 'old' },
      ],
    });
    const input = seedInput((r) => {
      r.cutover.max_hold_minutes = 120;
    }, 'CHG-3002');
    await runScenario(env, world, input, 'evidence-exceptions', async (h) => {
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(extendHoldUpdate, {
        args: [{ ...OPERATOR, minutes: 30, reason: 'worker restarts tonight' }],
      });
      await untilPhase(env, h, 'HOLDING');
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(approveUpdate, {
        args: [
          {
            ...APPROVER,
            gate: 'revoke',
            comment: 'data-enrichment accepts the outage',
            riskReason: 'enrichment-worker is retired this week',
            exceptions: [
              {
                consumer: 'enrichment-worker',
                owner: 'data-enrichment',
                expiresAt: '9999-12-31',
                compensatingControl: 'batch jobs paused until redeploy',
              },
            ],
          },
        ],
      });
    });
    const { bundle: b, markdown } = await world.archived(input.rotationId);

    expect(b.exceptions.holdExtensions).toEqual([
      { at: expect.any(String), by: OPERATOR.principal, minutes: 30, reason: 'worker restarts tonight' },
    ]);
    expect(b.exceptions.consumers).toEqual([
      expect.objectContaining({
        consumer: 'enrichment-worker',
        owner: 'data-enrichment',
        oldKeyRequests: 7 * 30,
        expiresAt: '9999-12-31',
        compensatingControl: 'batch jobs paused until redeploy',
      }),
    ]);
    expect(b.rollbackChecks).toMatchObject({ source: 'revoke-gate', gateEvidence: 'insufficient' });
    expect(results(b)).toMatchObject({ runtimeCoverage: 'not-green' });
    expect(JSON.stringify(b)).toContain('enrichment-worker is retired this week');
    expect(markdown).toContain('batch jobs paused until redeploy');
  });

  it('records a manual gateway’s revocation confirmation as a decision, and what the gateway cannot tell', async () => {
    const world = new EvidenceWorld({ adminAdapter: 'manual' });
    const input = seedInput(() => {}, 'CHG-3003');
    await runScenario(env, world, input, 'evidence-manual', async (h) => {
      await untilPhase(env, h, 'AWAITING_REPLACEMENT_KEY');
      await h.executeUpdate(replacementKeyStagedUpdate, {
        args: [{ ...REQUESTER, ...world.stageByHand(input.rotationId) }],
      });
      await untilPhase(env, h, 'AWAITING_REVOKE_APPROVAL', { step: '5 minutes' });
      await h.executeUpdate(approveUpdate, { args: [{ ...APPROVER, gate: 'revoke' }] });
      await until(env, h, (s) => s.pendingGate?.gate === 'revocation-confirmation');
      world.gatewayKeys.get('gk-old')!.revoked = true;
      await h.executeUpdate(revocationConfirmedUpdate, {
        args: [{ ...OPERATOR, comment: 'revoked in console' }],
      });
    });
    const { bundle: b } = await world.archived(input.rotationId);

    expect(b.changeTicket.approvals.map((a) => [a.gate, a.decision, a.principal])).toEqual([
      ['revoke', 'APPROVED', APPROVER.principal],
      ['revocation-confirmation', 'CONFIRMED', OPERATOR.principal],
    ]);
    expect(b.negativeTest.revocation).toMatchObject({ by: OPERATOR.principal, detail: 'revoked in console' });
    expect(b.gateway).toMatchObject({ adminAdapter: 'manual', newKey: { gatewayKeyId: null } });
    expect(b.gateway.limitations.join(' ')).toMatch(/manual gateway/);
    expect(b.rollbackChecks.signals.quotaAndBudget.result).toBe('unknown');
  });
});
