import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { rotationPolicySchema, toRotationInput, workflowIdFor } from '../../domain/policy';

const seed = () =>
  parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
    rotation: Record<string, unknown>;
  };

describe('the rotation policy', () => {
  it("accepts the seed's template verbatim and fills sensible defaults", () => {
    const policy = rotationPolicySchema.parse(seed());
    const input = toRotationInput(policy, 'alice', 'CHG-1');
    expect(input).toMatchObject({
      rotationId: 'production:flatkey-router-key:CHG-1',
      credential: 'flatkey-router-key',
      mode: 'scheduled',
      requestedBy: 'alice',
      allowedRoutes: ['chat-completions', 'responses'],
      observationWindowMs: 60 * 60_000,
      checkIntervalMs: 5 * 60_000,
      drainWindowMs: 30 * 60_000,
      requireOldKeyDrain: true,
      flipApprovalRequired: false,
      revokeRoles: ['approver'],
      expectedOwner: 'platform-ai',
      revokeNewKeyOnRollback: true,
    });
    expect(input.preChecks).toEqual({
      inventory_confirmed: true,
      new_secret_version_created: true,
      rollback_secret_version_available: true,
      canary_request_id: 'req_redacted',
    });
  });

  it('rejects unknown fields with their path', () => {
    const doc = seed();
    (doc.rotation.cutover as Record<string, unknown>).observation_window = 60;
    const result = rotationPolicySchema.safeParse(doc);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({
      code: 'unrecognized_keys',
      path: ['rotation', 'cutover'],
      keys: ['observation_window'],
    });
  });

  it('bounds every duration and keeps the check interval within the window', () => {
    const tooLong = seed();
    (tooLong.rotation.cutover as Record<string, unknown>).observation_window_minutes = 100_000;
    expect(rotationPolicySchema.safeParse(tooLong).error?.issues[0]?.message).toMatch(
      /at most 10080 minutes/,
    );
    const interval = seed();
    Object.assign(interval.rotation.cutover as Record<string, unknown>, {
      observation_window_minutes: 10,
      check_interval_minutes: 20,
    });
    expect(rotationPolicySchema.safeParse(interval).error?.issues[0]).toMatchObject({
      path: ['rotation', 'cutover', 'check_interval_minutes'],
    });
  });

  it('plans 30 days of 1-minute checks (continue-as-new bounds the history), not more', () => {
    const month = seed();
    Object.assign(month.rotation.cutover as Record<string, unknown>, {
      check_interval_minutes: 1,
      max_hold_minutes: 30 * 24 * 60,
    });
    expect(rotationPolicySchema.safeParse(month).success).toBe(true);
    const doc = seed();
    Object.assign(doc.rotation.cutover as Record<string, unknown>, {
      check_interval_minutes: 0.5,
      max_hold_minutes: 30 * 24 * 60,
    });
    expect(rotationPolicySchema.safeParse(doc).error?.issues[0]?.message).toMatch(/at most 50000 checks/);
  });

  it('rejects an unknown route and a wrong type with paths', () => {
    const doc = seed();
    (doc.rotation.scope as Record<string, unknown>).allowed_routes = ['images'];
    (doc.rotation.cutover as Record<string, unknown>).observation_window_minutes = 'sixty';
    const paths = rotationPolicySchema.safeParse(doc).error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'rotation.scope.allowed_routes.0',
        'rotation.cutover.observation_window_minutes',
      ]),
    );
  });

  it('drops flip approval, soak and drain in emergency mode', () => {
    const doc = seed();
    doc.rotation.mode = 'emergency';
    doc.rotation.approvals = { flip_approval_required: true };
    doc.rotation.canary = { soak_minutes: 30 };
    const input = toRotationInput(rotationPolicySchema.parse(doc), 'alice', 'INC-9');
    expect(input).toMatchObject({
      flipApprovalRequired: false,
      canarySoakMs: 0,
      drainWindowMs: 0,
      requireOldKeyDrain: false,
    });
  });

  it('needs a change ticket id from the policy or the caller', () => {
    expect(() => toRotationInput(rotationPolicySchema.parse(seed()), 'alice')).toThrow(
      /change ticket id is required/,
    );
    const doc = seed();
    doc.rotation.change_ticket = { id: 'CHG-7' };
    expect(toRotationInput(rotationPolicySchema.parse(doc), 'alice').changeTicket.id).toBe('CHG-7');
  });

  it('derives one workflow id per environment and credential', () => {
    expect(workflowIdFor('production', 'flatkey-router-key')).toBe('rekey:production:flatkey-router-key');
    expect(workflowIdFor('prod-eu', 'key')).not.toBe(workflowIdFor('prod', 'eu-key'));
  });
});
