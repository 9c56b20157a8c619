// A realistic finished rotation for evidence tests: the status the workflow hands to writeEvidence, the
// ticket's input, the registry entry and the vault's version history. Two key values exist only here,
// to prove they never reach a bundle.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { fingerprint } from '../../domain/fingerprint';
import type { CredentialRef, SecretVersionRecord, SecretVersionRef } from '../../domain/activity-io';
import { rotationPolicySchema, toRotationInput, type RotationInput } from '../../domain/policy';
import type { GateEvidence, RotationStatus } from '../../workflows/messages';

/** Key values made up per run (never committed), so a scan for them can only find what the code leaked. */
const madeUpKey = (label: string) => `sk-live-${label}${randomBytes(12).toString('hex')}`;
export const OLD_KEY = madeUpKey('old');
export const NEW_KEY = madeUpKey('new');
export const ANCIENT_KEY = madeUpKey('ancient');
export const VAULT = 'https://kv-platform-prod.vault.azure.net';
export const ROTATION_ID = 'production:flatkey-router-key:CHG-2042';

/** The seed's policy with a ticket link, a rollback owner and a webhook. */
export function evidenceInput(): RotationInput {
  const raw = parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
    rotation: Record<string, unknown>;
  };
  raw.rotation.change_ticket = {
    id: 'CHG-2042',
    url: 'https://tickets.example.com/CHG-2042',
    rollback_owner: 'oncall-platform',
    webhook_url: 'https://tickets.example.com/hooks/rekey',
  };
  return toRotationInput(rotationPolicySchema.parse(raw), 'alice@example.com');
}

/** The registry entry: enrichment-worker has its own owner, customer-chat-api does not. */
export function evidenceCredential(): CredentialRef {
  return {
    name: 'flatkey-router-key',
    environment: 'production',
    secret: {
      backend: 'azure-key-vault',
      vaultUrl: VAULT,
      secretName: 'flatkey-router-key',
      pendingSecretName: 'flatkey-router-key-pending',
    },
    gatewayBaseUrl: 'https://router.flatkey.ai/v1',
    adminAdapter: 'litellm',
    consumers: [
      { app: 'customer-chat-api', environment: 'production', reload: 'dynamic' },
      { app: 'enrichment-worker', environment: 'production', reload: 'restart', owner: 'data-enrichment' },
    ],
  };
}

const ref = (name: string, version: string, value: string, enabled: boolean, createdAt: string) =>
  ({
    store: VAULT,
    name,
    version,
    fingerprint: fingerprint(value),
    enabled,
    createdAt,
  }) satisfies SecretVersionRef;

const window = (fromIso: string, toIso: string, over: Partial<RotationStatus['baseline']> = {}) => ({
  fromMs: Date.parse(fromIso),
  toMs: Date.parse(toIso),
  requests: 600,
  authErrors: 0,
  rateLimited: 2,
  serverErrors: 1,
  p95LatencyMs: 820,
  tokens: 90_000,
  spend: 1.8,
  ...over,
});

/** What the revoke gate showed when it opened: enrichment-worker still on the old key. */
export function revokeGateEvidence(): GateEvidence {
  return {
    gate: 'revoke',
    computedAt: '2026-06-19T11:05:02.000Z',
    evidence: 'insufficient',
    blockers: [
      'authentication: enrichment-worker still sends old-key requests',
      'runtime coverage: enrichment-worker has not reloaded (42 old-key requests)',
    ],
    rows: [
      {
        signal: 'authentication',
        state: 'red',
        blocking: true,
        evidence: ['canary: 2/2 new-key requests succeeded', 'old key: 42 requests during the hold'],
      },
      {
        signal: 'routing',
        state: 'green',
        blocking: true,
        evidence: ['chat-completions: 200 (req_chat_01)', 'responses: 200 (req_resp_02)'],
      },
      {
        signal: 'usageAttribution',
        state: 'green',
        blocking: true,
        evidence: ['usage attributed to platform-ai; expected platform-ai'],
      },
      {
        signal: 'quotaAndBudget',
        state: 'unknown',
        blocking: true,
        evidence: ['the telemetry source cannot see 429s: rate limits unobserved'],
      },
      {
        signal: 'runtimeCoverage',
        state: 'red',
        blocking: true,
        evidence: ['still on the old key: enrichment-worker (42 req)'],
      },
      {
        signal: 'supportReadiness',
        state: 'unknown',
        blocking: false,
        evidence: ['confirmed by the revoke approval', 'rollback owner: oncall-platform'],
      },
    ],
  };
}

/**
 * A completed scheduled rotation on a LiteLLM gateway: canary over two routes, attribution, a hold
 * that ran out with enrichment-worker still on the old key, one extension, the revoke gate opened
 * with insufficient evidence and approved with that exception and the risk accepted, the old key
 * disabled then deleted, the negative test, the old version retired.
 */
export function evidenceStatus(): RotationStatus {
  const old = ref('flatkey-router-key', 'v1', OLD_KEY, true, '2026-03-01T08:00:00.000Z');
  const pending = ref('flatkey-router-key-pending', 'p7', NEW_KEY, true, '2026-06-19T09:01:00.000Z');
  const current = ref('flatkey-router-key', 'v2', NEW_KEY, true, '2026-06-19T09:05:00.000Z');
  const retired = { ...old, enabled: false };
  const check = (at: string, name: string, detail: string, extra = {}) => ({
    at,
    name,
    passed: true,
    verdict: 'pass' as const,
    detail,
    ...extra,
  });
  return {
    rotationId: ROTATION_ID,
    credential: 'flatkey-router-key',
    environment: 'production',
    mode: 'scheduled',
    changeTicket: 'CHG-2042',
    requestedBy: 'alice@example.com',
    phase: 'ARCHIVING',
    outcome: 'completed',
    timeline: [
      {
        at: '2026-06-19T09:00:00.000Z',
        phase: 'PREPARING',
        event: 'started',
        detail: 'scheduled security rotation',
      },
      {
        at: '2026-06-19T09:00:30.000Z',
        phase: 'ISSUING',
        event: 'issuing',
        detail: 'replacement key with the same scope',
      },
      {
        at: '2026-06-19T09:01:00.000Z',
        phase: 'ISSUING',
        event: 'replacement-key-issued',
        detail: 'gk-new-7, pending p7',
      },
      {
        at: '2026-06-19T09:02:00.000Z',
        phase: 'CANARY',
        event: 'canary',
        detail: 'chat-completions, responses',
      },
      {
        at: '2026-06-19T09:05:00.000Z',
        phase: 'FLIPPING',
        event: 'promoted',
        detail: 'flatkey-router-key@v2 is current; previous v1',
      },
      {
        at: '2026-06-19T09:05:01.000Z',
        phase: 'HOLDING',
        event: 'holding',
        detail: 'observe until 2026-06-19T10:05:01.000Z',
      },
      {
        at: '2026-06-19T09:30:00.000Z',
        phase: 'HOLDING',
        event: 'hold-extended',
        detail: '60 min: worker restarts tonight',
        by: 'carol@example.com',
      },
      {
        at: '2026-06-19T11:05:01.000Z',
        phase: 'HOLDING',
        event: 'max-hold-reached',
        detail: 'old key still used by enrichment-worker',
      },
      {
        at: '2026-06-19T11:05:02.000Z',
        phase: 'AWAITING_REVOKE_APPROVAL',
        event: 'gate-opened',
        detail: 'exceptions: enrichment-worker (42 req)',
      },
      {
        at: '2026-06-19T11:20:00.000Z',
        phase: 'AWAITING_REVOKE_APPROVAL',
        event: 'revoke-approved',
        detail: 'worker owner accepts the outage risk',
        by: 'bob@example.com',
      },
      { at: '2026-06-19T11:20:01.000Z', phase: 'REVOKING', event: 'revoking', detail: 'gk-old-3' },
      {
        at: '2026-06-19T11:20:05.000Z',
        phase: 'REVOKING',
        event: 'old-key-disabled',
        detail: 'gk-old-3 disabled-and-deleted at 2026-06-19T11:20:05.000Z',
      },
      { at: '2026-06-19T11:20:06.000Z', phase: 'VERIFYING_REVOCATION', event: 'negative-test' },
      {
        at: '2026-06-19T11:20:12.000Z',
        phase: 'VERIFYING_REVOCATION',
        event: 'previous-version-retired',
        detail: 'flatkey-router-key@v1',
      },
      { at: '2026-06-19T11:20:13.000Z', phase: 'ARCHIVING', event: 'archiving' },
    ],
    checks: [
      check('2026-06-19T09:00:10.000Z', 'preflight', 'current flatkey-router-key@v1 answered 200'),
      check('2026-06-19T09:02:30.000Z', 'canary', 'chat-completions:200 responses:200'),
      check('2026-06-19T09:03:00.000Z', 'usage attribution', 'owner platform-ai (expected platform-ai)'),
      check('2026-06-19T09:35:01.000Z', 'new-key traffic', '300 req', {
        figures: window('2026-06-19T09:05:01.000Z', '2026-06-19T09:35:01.000Z', {
          requests: 300,
          rateLimited: 1,
          serverErrors: 0,
          tokens: 45_000,
          spend: 0.9,
          p95LatencyMs: 700,
        }),
        breaches: [],
      }),
      check('2026-06-19T10:05:01.000Z', 'new-key traffic', '310 req', {
        figures: window('2026-06-19T09:35:01.000Z', '2026-06-19T10:05:01.000Z', {
          requests: 310,
          rateLimited: 0,
          serverErrors: 1,
          tokens: 46_500,
          spend: 0.93,
          p95LatencyMs: 910,
        }),
        breaches: [],
      }),
      {
        ...check('2026-06-19T10:05:01.000Z', 'old-key drain', '21 old-key req (enrichment-worker=21)'),
        passed: false,
        verdict: 'fail',
        reasons: ['enrichment-worker still on the old key'],
      },
      check('2026-06-19T11:20:12.000Z', 'negative test', 'old key 401 after 2 attempt(s), new key 200'),
    ],
    approvals: [
      {
        gate: 'revoke',
        decision: 'APPROVED',
        principal: 'bob@example.com',
        at: '2026-06-19T11:20:00.000Z',
        comment: 'worker owner accepts the outage risk',
        proof: {
          method: 'signature',
          keyId: '0123456789abcdef',
          via: 'api',
          authn: { method: 'oidc', issuer: 'https://idp.example.com', subject: 'bob' },
          issuedAt: '2026-06-19T11:19:59.000Z',
          nonce: '00112233445566778899aabbccddeeff',
        },
      },
    ],
    versions: { old, pending, current, retired },
    fingerprints: { old: fingerprint(OLD_KEY), new: fingerprint(NEW_KEY) },
    gatewayKeys: { old: 'gk-old-3', new: 'gk-new-7' },
    preChecks: [
      {
        name: 'inventory_confirmed',
        claimed: true,
        result: 'verified',
        verified: true,
        detail: '2 consumer(s) registered',
      },
      {
        name: 'new_secret_version_created',
        claimed: true,
        result: 'failed',
        verified: false,
        detail: 'no pending version yet; rekey stages it',
      },
      {
        name: 'rollback_owner_on_call',
        claimed: true,
        result: 'unverified',
        verified: false,
        detail: 'rekey cannot see the on-call schedule',
      },
    ],
    canary: [
      {
        route: 'chat-completions',
        requestId: 'req_chat_01',
        model: 'gpt-4o-mini',
        status: 200,
        latencyMs: 312,
        tokens: 41,
        ok: true,
      },
      {
        route: 'responses',
        requestId: 'req_resp_02',
        model: 'gpt-4o-mini',
        status: 200,
        latencyMs: 405,
        tokens: 57,
        ok: true,
      },
    ],
    attribution: {
      verdict: 'pass',
      passed: true,
      owner: 'platform-ai',
      team: 'platform-ai',
      expectedOwner: 'platform-ai',
      anomalies: [],
    },
    baseline: window('2026-06-19T08:00:00.000Z', '2026-06-19T09:00:00.000Z'),
    hold: {
      startedAt: '2026-06-19T09:05:01.000Z',
      observationEndsAt: '2026-06-19T10:05:01.000Z',
      maxHoldEndsAt: '2026-06-19T11:05:01.000Z',
      totals: {
        checks: 2,
        newKeyRequests: 610,
        authErrors: 0,
        rateLimited: 1,
        serverErrors: 1,
        oldKeyRequests: 42,
      },
    },
    exceptions: [
      {
        consumer: 'enrichment-worker',
        requests: 42,
        owner: 'dana@example.com',
        expiresAt: '2026-06-26',
        compensatingControl: 'egress restricted to the batch subnet',
        recordedBy: 'bob@example.com',
        recordedAt: '2026-06-19T11:20:00.000Z',
      },
    ],
    analysis: {
      stage: 'hold',
      measurements: 4,
      passed: 2,
      failed: 0,
      inconclusive: 1,
      consecutiveErrors: 1,
      limits: { failure: 1, inconclusive: 3, consecutiveError: 4 },
    },
    coverage: [
      {
        consumer: 'customer-chat-api',
        inventory: true,
        reload: 'dynamic',
        newKeyRequests: 610,
        oldKeyRequests: 0,
      },
      {
        consumer: 'enrichment-worker',
        inventory: true,
        owner: 'data-enrichment',
        reload: 'restart',
        newKeyRequests: 0,
        oldKeyRequests: 42,
      },
    ],
    telemetry: {
      name: 'litellm-spend-logs',
      capabilities: {
        requests: true,
        authErrors: true,
        rateLimited: false,
        serverErrors: true,
        latency: false,
        tokens: true,
        spend: true,
        perConsumer: true,
      },
      unobservable: ['rateLimited', 'latency'],
    },
    gateEvidence: { revoke: revokeGateEvidence() },
    riskAcceptances: [
      {
        gate: 'revoke',
        principal: 'bob@example.com',
        reason: 'worker owner accepts the outage risk',
        missing: revokeGateEvidence().blockers,
        at: '2026-06-19T11:20:00.000Z',
      },
    ],
    revocation: {
      method: 'disable-then-delete',
      preRevokeProbe: [
        {
          route: 'chat-completions',
          requestId: 'req_probe_03',
          model: 'gpt-4o-mini',
          status: 200,
          latencyMs: 298,
          tokens: 39,
          ok: true,
        },
      ],
      disabledAt: '2026-06-19T11:20:02.000Z',
      deletedAt: '2026-06-19T11:20:05.000Z',
    },
    negativeTest: {
      oldKeyStatus: 401,
      oldKeyRejected: true,
      newKeyStatus: 200,
      newKeyAccepted: true,
      attempts: 2,
      at: '2026-06-19T11:20:11.000Z',
    },
  };
}

/** The vault's history of the stable and pending secret: an older rotation's versions too. */
export function evidenceHistory(): SecretVersionRecord[] {
  const rec = (
    name: string,
    version: string,
    value: string,
    enabled: boolean,
    createdAt: string,
    tags: Record<string, string>,
    updatedAt = createdAt,
  ): SecretVersionRecord => ({
    store: VAULT,
    name,
    version,
    enabled,
    createdAt,
    updatedAt,
    fingerprint: fingerprint(value),
    ...(tags['rekey-stage'] ? { stage: tags['rekey-stage'] as SecretVersionRecord['stage'] } : {}),
    ...(tags['rekey-rotation'] ? { rotationId: tags['rekey-rotation'] } : {}),
    ...(tags['rekey-gateway-key'] ? { gatewayKeyId: tags['rekey-gateway-key'] } : {}),
    tags: { 'rekey-fingerprint': fingerprint(value), ...tags },
  });
  return [
    rec('flatkey-router-key', 'v0', ANCIENT_KEY, false, '2025-12-01T08:00:00.000Z', {
      'rekey-stage': 'retired',
      'rekey-rotation': 'production:flatkey-router-key:CHG-1000',
    }),
    rec(
      'flatkey-router-key',
      'v1',
      OLD_KEY,
      false,
      '2026-03-01T08:00:00.000Z',
      {
        'rekey-stage': 'retired',
        'rekey-rotation': 'production:flatkey-router-key:CHG-1000',
        'rekey-replaced-by': ROTATION_ID,
        // A platform tag someone misused: tags never reach the bundle.
        'cost-note': OLD_KEY,
      },
      '2026-06-19T11:20:12.000Z',
    ),
    rec('flatkey-router-key-pending', 'p7', NEW_KEY, true, '2026-06-19T09:01:00.000Z', {
      'rekey-stage': 'pending',
      'rekey-rotation': ROTATION_ID,
      'rekey-gateway-key': 'gk-new-7',
    }),
    rec('flatkey-router-key', 'v2', NEW_KEY, true, '2026-06-19T09:05:00.000Z', {
      'rekey-stage': 'current',
      'rekey-rotation': ROTATION_ID,
      'rekey-gateway-key': 'gk-new-7',
      'rekey-replaces': 'v1',
    }),
  ];
}
