import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as activityTypes from '../../domain/activity-io';
import { SIGNALS as ACTIVITY_SIGNALS } from '../../domain/activity-io';
import {
  IDENTIFIER as POLICY_IDENTIFIER,
  ROLES as POLICY_ROLES,
  ROUTES as POLICY_ROUTES,
} from '../../domain/policy';
import { credentialRefSchema, IDENTIFIER, type CredentialRef } from '../../domain/credentials';
import {
  FAILURE_TYPES,
  FailureTypes,
  OUTCOME_FAILURE_TYPES,
  refusalFailureType,
} from '../../domain/failure-types';
import {
  EXCEPTION_INPUT_FIELDS,
  MESSAGE_TEXT_FIELDS,
  malformedHandOff,
  malformedMessage,
  unknownGate,
} from '../../domain/message-checks';
import { exceptionInputSchema, messageArgsSchemas } from '../../domain/messages';
import type * as observations from '../../domain/observations';
import { REFUSAL_KINDS, ROLES, ROUTES, SIGNALS, type MessageName } from '../../domain/rotation';
import { rotationStatusSchema } from '../../domain/status';
import { workflowSources } from '../../scripts/workflow-version';
import { evidenceCredential, evidenceStatus } from '../helpers/evidence-fixtures';

const ROOT = path.join(__dirname, '..', '..');
const NOW = Date.parse('2026-12-01T10:00:00Z');
const actor = { principal: 'bob@example.com', roles: ['approver'] };
const exception = {
  consumer: 'batch-reporter',
  owner: 'data-platform',
  expiresAt: '2026-12-31',
  compensatingControl: 'egress restricted to the batch subnet',
};

/** The workflow validator's shape checks for one message, in the order the validator runs them. */
function workflowShapeRefusal(name: MessageName, args: Record<string, unknown>): string | undefined {
  const malformed = malformedMessage(args, NOW);
  if (malformed) return malformed;
  if (name === 'approve' || name === 'reject') return unknownGate(args.gate);
  if (name === 'replacementKeyStaged') return malformedHandOff(args);
  return undefined;
}

/** A valid message of each kind, per the domain schemas. */
const VALID: [MessageName, Record<string, unknown>][] = [
  ['approve', { ...actor, gate: 'flip' }],
  [
    'approve',
    { ...actor, gate: 'revoke', comment: 'drained', riskReason: 'accepted', exceptions: [exception] },
  ],
  ['approve', { ...actor, gate: 'flip', breakGlassReason: 'key leaked' }],
  ['reject', { ...actor, gate: 'revoke', reason: 'old key still used' }],
  ['rollback', { ...actor, reason: '5xx rose' }],
  ['abort', { ...actor, reason: 'wrong ticket' }],
  ['extendHold', { ...actor, minutes: 60, reason: 'batch job', exceptions: [exception] }],
  ['extendHold', { ...actor, minutes: 1440, reason: 'longest' }],
  ['replacementKeyStaged', { ...actor, version: 'v2', fingerprint: 'sha256:0123456789ab' }],
  ['revocationConfirmed', { ...actor }],
  ['revocationConfirmed', { ...actor, comment: 'deleted at the gateway' }],
  ['revokeReplacementKey', { ...actor, reason: 'drained' }],
];

describe('the domain message schemas and the workflow validator', () => {
  it.each(VALID)('never refuses on shape a %s message the schema accepts', (name, args) => {
    expect(messageArgsSchemas[name].safeParse(args).success).toBe(true);
    expect(workflowShapeRefusal(name, args)).toBeUndefined();
  });

  // The refusal texts are what the timeline has always recorded for a refused signal: unchanged.
  const MALFORMED: [MessageName, string, unknown][] = [
    ['rollback', 'arguments must be an object with principal and roles', null],
    ['rollback', 'principal is required', { roles: ['operator'], reason: 'r' }],
    ['rollback', 'principal is required', { principal: '  ', roles: ['operator'], reason: 'r' }],
    ['rollback', 'roles must be a list of role names', { principal: 'p', roles: 'operator', reason: 'r' }],
    ['rollback', 'roles must be a list of role names', { principal: 'p', roles: [1], reason: 'r' }],
    ['rollback', 'reason must be text', { ...actor, reason: 42 }],
    ['approve', 'comment must be text', { ...actor, gate: 'flip', comment: ['x'] }],
    ['approve', 'unknown gate deploy (flip or revoke)', { ...actor, gate: 'deploy' }],
    ['reject', 'unknown gate undefined (flip or revoke)', { ...actor, reason: 'r' }],
    ['extendHold', 'minutes must be a number', { ...actor, minutes: '60', reason: 'r' }],
    [
      'extendHold',
      'exceptions must be a list (at most 200)',
      { ...actor, minutes: 60, reason: 'r', exceptions: 'all' },
    ],
    [
      'extendHold',
      'each exception must be an object',
      { ...actor, minutes: 60, reason: 'r', exceptions: [null] },
    ],
    [
      'extendHold',
      'exception owner is required text (consumer, owner, expiresAt, compensatingControl)',
      { ...actor, minutes: 60, reason: 'r', exceptions: [{ ...exception, owner: ' ' }] },
    ],
    [
      'approve',
      'exception expiresAt soon is not a date',
      { ...actor, gate: 'revoke', exceptions: [{ ...exception, expiresAt: 'soon' }] },
    ],
    [
      'approve',
      'exception expiresAt 2026-11-30 is not in the future',
      { ...actor, gate: 'revoke', exceptions: [{ ...exception, expiresAt: '2026-11-30' }] },
    ],
    ['replacementKeyStaged', 'version is required', { ...actor, fingerprint: 'sha256:0123456789ab' }],
    [
      'replacementKeyStaged',
      'fingerprint must be sha256: followed by 12 hex characters',
      { ...actor, version: 'v2', fingerprint: 'sha256:XYZ' },
    ],
  ];
  it.each(MALFORMED)('refuses a malformed %s message as the schema does: "%s"', (name, refusal, args) => {
    expect(workflowShapeRefusal(name, args as Record<string, unknown>)).toBe(refusal);
    // The past expiry is the one check a schema cannot make (it has no clock).
    if (!refusal.endsWith('is not in the future')) {
      expect(messageArgsSchemas[name].safeParse(args).success).toBe(false);
    }
  });

  it('screens every text of a message in order, exceptions included', () => {
    const seen: string[] = [];
    const refusal = malformedMessage(
      { ...actor, gate: 'revoke', comment: 'c', exceptions: [exception] },
      NOW,
      (_text, field, where) => {
        seen.push(`${where}:${field}`);
        return where === 'exception' && field === 'owner' ? `exception ${field} refused` : undefined;
      },
    );
    expect(refusal).toBe('exception owner refused');
    expect(seen).toEqual(['message:gate', 'message:comment', 'exception:consumer', 'exception:owner']);
  });

  it('lists every text field of every message among the fields the validator checks', () => {
    // The proof is checked whole by domain/message-proof.ts; its fields are hex, dates and names.
    // exposure is an object whose text fields are screened one by one (message-checks exposureRefused).
    const notText = new Set(['principal', 'roles', 'minutes', 'exceptions', 'proof', 'exposure']);
    const fields = new Set(
      Object.values(messageArgsSchemas).flatMap((s) => Object.keys(s.shape).filter((k) => !notText.has(k))),
    );
    expect([...fields].sort()).toEqual([...MESSAGE_TEXT_FIELDS].sort());
    expect(Object.keys(exceptionInputSchema.shape)).toEqual([...EXCEPTION_INPUT_FIELDS]);
  });
});

describe('failure types', () => {
  it('keeps every value recorded histories carry', () => {
    expect(FailureTypes).toMatchObject({
      UnknownCredential: 'UnknownCredential',
      SecretNotFound: 'SecretNotFound',
      SecretDisabled: 'SecretDisabled',
      VaultForbidden: 'VaultForbidden',
      OldKeyRejected: 'OldKeyRejected',
      NewKeyRejected: 'NewKeyRejected',
      ScopeBroadened: 'ScopeBroadened',
      StagedKeyMismatch: 'StagedKeyMismatch',
      GatewayAdminForbidden: 'GatewayAdminForbidden',
      OldKeyUnknownToGateway: 'OldKeyUnknownToGateway',
      RolloutHookRejected: 'RolloutHookRejected',
      TelemetryUnsupported: 'TelemetryUnsupported',
    });
    expect(OUTCOME_FAILURE_TYPES).toEqual({
      rolled_back: 'RotationRolledBack',
      aborted: 'RotationAborted',
      failed: 'RotationFailed',
    });
    expect(REFUSAL_KINDS.map(refusalFailureType)).toEqual([
      'MessageRefused.NotAllowed',
      'MessageRefused.NotOpen',
      'MessageRefused.Invalid',
    ]);
    for (const t of [...Object.values(OUTCOME_FAILURE_TYPES), ...REFUSAL_KINDS.map(refusalFailureType)]) {
      expect(FAILURE_TYPES).toContain(t);
    }
  });

  /** String literals used as failure types: thrown, listed as non-retryable, or branched on. */
  function literalFailureTypes(source: string): string[] {
    const found: string[] = [];
    const grab = (re: RegExp, group = 1) => {
      for (const m of source.matchAll(re)) found.push(m[group]!);
    };
    grab(/(?<![.\w])nonRetryable\(\s*'([A-Z][\w.]*)'/g); // local helpers: nonRetryable(type, message)
    grab(/ApplicationFailure\.nonRetryable\([\s\S]{0,400}?,\s*'([A-Z][\w.]*)'\s*,?\s*\)/g);
    grab(/\btype:\s*'([A-Z][\w.]*)'/g);
    grab(/\.type\s*[!=]==\s*'([A-Z][\w.]*)'/g);
    for (const m of source.matchAll(/nonRetryableErrorTypes:\s*\[([^\]]*)\]/g)) {
      for (const l of m[1]!.matchAll(/'([A-Z][\w.]*)'/g)) found.push(l[1]!);
    }
    return found;
  }

  it('recognises each way code writes a failure type as a string', () => {
    const sample = [
      "throw nonRetryable('RolloutHookRejected', `hook answered ${status}`);",
      "throw ApplicationFailure.nonRetryable(`${what}: ${text.slice(0, 300)}`, 'GatewayAdminRejected');",
      "ApplicationFailure.nonRetryable(\n  'a human must act',\n  'ManualGateway',\n);",
      "ApplicationFailure.create({ type: 'RotationFailed', message: 'm' });",
      "if ((err as { type?: string }).type === 'GatewayAdminForbidden') return;",
      "retry: { nonRetryableErrorTypes: ['TelemetryUnsupported', 'AttributionUnsupported'] }",
    ].join('\n');
    expect(literalFailureTypes(sample)).toEqual([
      'RolloutHookRejected',
      'GatewayAdminRejected',
      'ManualGateway',
      'RotationFailed',
      'GatewayAdminForbidden',
      'TelemetryUnsupported',
      'AttributionUnsupported',
    ]);
  });

  it('names every failure type the code writes as a string literal', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const p = path.join(dir, f);
        return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
      });
    const sources = [...files(path.join(ROOT, 'activities')), ...files(path.join(ROOT, 'workflows'))];
    const unknown = sources.flatMap((f) =>
      literalFailureTypes(readFileSync(f, 'utf8'))
        .filter((t) => !FAILURE_TYPES.includes(t as never))
        .map((t) => `${path.relative(ROOT, f)}: ${t}`),
    );
    expect(unknown).toEqual([]);
  });
});

describe('layering', () => {
  it('keeps zod out of the workflow bundle: no workflow source imports it at run time', () => {
    const runtimeZod = /^import\s+(?!type\b)[^;]*?from\s+'zod(?:\/[^']*)?'/m;
    const offenders = workflowSources().filter((f) =>
      runtimeZod.test(readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
    expect(workflowSources()).toEqual(
      expect.arrayContaining(['domain/vocabulary.ts', 'domain/message-checks.ts']),
    );
  });

  // Until common/policy.ts and activities/types.ts import these from the domain, they must not drift.
  it('has the same roles, routes, signals and identifier rule as the policy and the activity types', () => {
    expect(ROLES).toEqual(POLICY_ROLES);
    expect(ROUTES).toEqual(POLICY_ROUTES);
    expect(SIGNALS).toEqual(ACTIVITY_SIGNALS);
    expect(IDENTIFIER.source).toBe(POLICY_IDENTIFIER.source);
  });
});

describe('the status and credential schemas', () => {
  it('parse the status the workflow hands to the evidence builder', () => {
    const parsed = rotationStatusSchema.safeParse(evidenceStatus());
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it('parse a registry entry as the workflow carries it', () => {
    const parsed = credentialRefSchema.safeParse(evidenceCredential());
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
});

// Compile-time: the domain's types are the activity boundary's (until activities/types.ts re-exports them).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameAsActivityTypes: [
  Same<observations.WindowMetrics, activityTypes.WindowMetrics>,
  Same<observations.ConsumerUsage, activityTypes.ConsumerUsage>,
  Same<observations.TelemetrySource, activityTypes.TelemetrySource>,
  Same<observations.CanaryRequest, activityTypes.CanaryRequest>,
  Same<observations.PreCheckResult, activityTypes.PreCheckResult>,
  Same<observations.AttributionReport, activityTypes.AttributionReport>,
  Same<observations.NegativeTestResult, activityTypes.NegativeTestResult>,
  Same<observations.EvidenceRecord, activityTypes.EvidenceRecord>,
] = [true, true, true, true, true, true, true, true];
const credentialFits: CredentialRef extends activityTypes.CredentialRef ? true : false = true;
void sameAsActivityTypes;
void credentialFits;
