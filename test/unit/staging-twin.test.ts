// "The same policy" of a production rotation and its staging twin's: the fields that gate a rotation
// are in the fingerprint, those that only name the credential and the change are not; the twin rotation
// rekey runs first (mode run) has the production policy on the twin's registry facts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { policyFingerprint } from '../../activities/automation/staging-twin';
import { parseRegistry } from '../../config/registry';
import { rotationPolicySchema, toRotationInput, type RotationInput } from '../../domain/policy';
import { NOT_POLICY_FIELDS, policyFields, twinRotationInput } from '../../domain/staging-twin';

function seed(change: (r: Record<string, unknown>) => void = () => {}): RotationInput {
  const raw = parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
    rotation: Record<string, unknown>;
  };
  change(raw.rotation);
  return toRotationInput(rotationPolicySchema.parse(raw), 'alice@example.com', 'CHG-4001');
}

const TWIN = {
  name: 'router-key-staging',
  environment: 'staging',
  owner: 'platform-ai-staging',
  apps: ['staging-chat-api'],
  gatewayBaseUrl: 'https://gateway.staging.example/v1',
};

describe('policy fingerprint', () => {
  const base = seed();

  it('is a sha256 that ignores who, why, which credential and which environment', () => {
    expect(policyFingerprint(base)).toMatch(/^sha256:[0-9a-f]{64}$/);
    const other: RotationInput = {
      ...base,
      rotationId: 'staging:x:CHG-9',
      credential: 'x',
      environment: 'staging',
      owner: 'someone-else',
      reason: 'another reason',
      requestedBy: 'carol@example.com',
      changeTicket: { id: 'CHG-9', url: 'https://tickets.example/CHG-9' },
      apps: ['other-app'],
      gatewayBaseUrl: 'https://other.example/v1',
      expectedOwner: 'other-owner',
      preChecks: { inventory_confirmed: true },
      continueAsNewAfterEvents: 500,
    };
    expect(policyFingerprint(other)).toBe(policyFingerprint(base));
    // Key order does not matter either.
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as unknown as RotationInput;
    expect(policyFingerprint(reordered)).toBe(policyFingerprint(base));
  });

  it('changes with anything that gates the rotation: thresholds, holds, routes, approvals, analysis', () => {
    const fp = policyFingerprint(base);
    const changed: RotationInput[] = [
      { ...base, thresholds: { ...base.thresholds, max_auth_error_rate: 0.5 } },
      { ...base, maxHoldMs: base.maxHoldMs + 60_000 },
      { ...base, observationWindowMs: base.observationWindowMs * 2 },
      { ...base, allowedRoutes: [...base.allowedRoutes].slice(0, 1) },
      { ...base, revokeRoles: ['operator'] },
      { ...base, flipApprovalRequired: !base.flipApprovalRequired },
      { ...base, analysis: { ...base.analysis, inconclusiveLimit: 9 } },
      { ...base, requireOldKeyDrain: !base.requireOldKeyDrain },
      { ...base, canarySoakMs: base.canarySoakMs + 60_000 },
    ];
    for (const c of changed) expect(policyFingerprint(c)).not.toBe(fp);
    // What is left out is only what names the credential and the change.
    for (const k of NOT_POLICY_FIELDS) expect(Object.keys(policyFields(base))).not.toContain(k);
    expect(Object.keys(policyFields(base))).toEqual(
      expect.arrayContaining([
        'thresholds',
        'analysis',
        'maxHoldMs',
        'allowedRoutes',
        'revokeRoles',
        'evidence',
      ]),
    );
  });
});

describe('the twin rotation rekey runs first', () => {
  it('has the production policy on the twin’s facts, under the same ticket', () => {
    const prod = { ...seed(), rolloutHookUrl: 'https://deploy.example/hook' };
    const twin = twinRotationInput(prod, TWIN);
    expect(policyFingerprint(twin)).toBe(policyFingerprint(prod));
    expect(twin).toMatchObject({
      rotationId: 'staging:router-key-staging:CHG-4001',
      credential: 'router-key-staging',
      environment: 'staging',
      owner: 'platform-ai-staging',
      expectedOwner: 'platform-ai-staging',
      apps: ['staging-chat-api'],
      gatewayBaseUrl: 'https://gateway.staging.example/v1',
      changeTicket: prod.changeTicket,
      requestedBy: prod.requestedBy,
      preChecks: {},
    });
    expect(twin.reason).toBe(`staging twin of ${prod.rotationId}: ${prod.reason}`);
    // Production's deploy hook is not the twin's.
    expect(twin).not.toHaveProperty('rolloutHookUrl');
  });
});

describe('staging_twin in the registry', () => {
  const credential = (name: string, environment: string, extra = '') => `  - name: ${name}
    environment: ${environment}
    secret:
      backend: azure-key-vault
      vault_url: https://kv.vault.azure.net
      name: ${name}-${environment}
    gateway:
      base_url: https://gw.${environment}.example/v1
      admin_adapter: litellm
      admin_base_url: https://gw.${environment}.example
      admin_key_secret: admin
    telemetry:
      adapter: litellm-spend-logs
    consumers:
      - app: app-${environment}
        environment: ${environment}
        reload: dynamic
${extra}`;

  it('reaches automation with its defaults (staging, 7 days, require)', () => {
    const r = parseRegistry(
      `credentials:\n${credential('k', 'staging')}${credential('k', 'production', '    staging_twin: { name: k }\n')}`,
      'r.yaml',
    );
    const prod = r.automations!().find((c) => c.environment === 'production');
    expect(prod?.stagingTwin).toEqual({ name: 'k', environment: 'staging', withinDays: 7, mode: 'require' });
    expect(r.automations!().find((c) => c.environment === 'staging')?.stagingTwin).toBeUndefined();
  });

  it('refuses a twin that is not another environment’s credential', () => {
    expect(() =>
      parseRegistry(
        `credentials:\n${credential('k', 'production', '    staging_twin: { name: ghost }\n')}`,
        'r.yaml',
      ),
    ).toThrow(/staging_twin staging\/ghost is not a credential of another environment in the registry/);
    expect(() =>
      parseRegistry(
        `credentials:\n${credential('j', 'production')}${credential('k', 'production', '    staging_twin: { name: j, environment: production }\n')}`,
        'r.yaml',
      ),
    ).toThrow(/staging_twin production\/j is not a credential of another environment/);
  });
});
