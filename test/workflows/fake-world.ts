// Fake activities for workflow unit tests: an in-memory vault, gateway and telemetry behind the same
// activity surface createActivities exposes. Key strings are generated per world and live only here;
// tests assert that none of them reaches a workflow history.
import { randomBytes } from 'node:crypto';
import type { RotationActivities } from '../../activities';
import { fingerprint } from '../../activities/fingerprint';
import type {
  CanaryRequest,
  ConsumerUsage,
  CredentialRef,
  SecretStage,
  SecretVersionRecord,
  SecretVersionRef,
  WindowMetrics,
} from '../../activities/types';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../common/failures';

interface Version {
  version: string;
  value: string;
  enabled: boolean;
  stage: string;
}

/** Options that shape a scenario's world. */
export interface WorldOptions {
  adminAdapter?: CredentialRef['adminAdapter'];
  /** Route whose canary fails, with the reason. */
  canaryFailure?: { route: string; reason: CanaryRequest['reason']; status: number };
  /** New-key traffic per hold check; defaults to healthy. */
  newKeyWindow?: (fromMs: number, toMs: number) => Partial<WindowMetrics>;
  /** Old-key requests per consumer per hold check; defaults to none (drained). */
  oldKeyUsage?: (fromMs: number, toMs: number) => ConsumerUsage[];
  /** The gateway keeps accepting the old key after revocation. */
  oldKeyStillAccepted?: boolean;
  registered?: boolean;
}

const VAULT = 'https://fake-vault.vault.example';

/** One scenario's fake external world, with what the activities did to it. */
export class FakeWorld {
  readonly oldKey = `fake-old-key-${randomBytes(12).toString('hex')}`;
  readonly newKey = `fake-new-key-${randomBytes(12).toString('hex')}`;
  readonly handedKey = `fake-handed-key-${randomBytes(12).toString('hex')}`;
  readonly stable: Version[] = [{ version: 'v1', value: this.oldKey, enabled: true, stage: 'current' }];
  pending?: Version;
  readonly gatewayKeys = new Map<string, { value: string; revoked: boolean }>([
    ['gk-old', { value: this.oldKey, revoked: false }],
  ]);
  readonly calls: string[] = [];
  readonly notifications: { event: string; phase: string; message: string }[] = [];
  readonly evidence: unknown[] = [];
  private seq = 1;

  constructor(readonly opts: WorldOptions = {}) {}

  /** Every key string of this world: none may appear in a workflow history. */
  secrets(): string[] {
    return [this.oldKey, this.newKey, this.handedKey];
  }

  /** What an app reading the stable path (newest enabled version) gets. */
  appReads(): string | undefined {
    return [...this.stable].reverse().find((v) => v.enabled)?.value;
  }

  /** The fake vault's versions as SecretStore.history() reports them: tags, stages and fingerprints, no values. */
  history(): SecretVersionRecord[] {
    // The fake's stage labels, in the rekey-stage vocabulary of the real adapter.
    const stageOf = (stage: string): SecretStage =>
      stage === 'rolled-back-to'
        ? 'current'
        : stage.startsWith('pending')
          ? 'pending'
          : (stage as SecretStage);
    const record = (v: Version, name: string): SecretVersionRecord => ({
      vaultUrl: VAULT,
      name,
      version: v.version,
      enabled: v.enabled,
      fingerprint: fingerprint(v.value),
      stage: stageOf(v.stage),
      tags: { 'rekey-stage': stageOf(v.stage), 'rekey-fingerprint': fingerprint(v.value) },
    });
    return [
      ...this.stable.map((v) => record(v, 'flatkey-router-key')),
      ...(this.pending ? [record(this.pending, 'flatkey-router-key-pending')] : []),
    ];
  }

  /** Stages a key as the API's manual hand-off does, returning only its reference. */
  stageByHand(rotationId: string): { version: string; fingerprint: `sha256:${string}` } {
    this.pending = {
      version: `p${this.seq++}`,
      value: this.handedKey,
      enabled: true,
      stage: `pending:${rotationId}`,
    };
    return { version: this.pending.version, fingerprint: fingerprint(this.handedKey) };
  }

  private credential(name: string, environment: string): CredentialRef {
    return {
      name,
      environment,
      vaultUrl: VAULT,
      secretName: name,
      pendingSecretName: `${name}-pending`,
      gatewayBaseUrl: 'https://router.flatkey.ai/v1',
      adminAdapter: this.opts.adminAdapter ?? 'litellm',
      consumers: [
        { app: 'customer-chat-api', environment, reload: 'dynamic' },
        { app: 'enrichment-worker', environment, reload: 'restart' },
      ],
    };
  }

  private ref(v: Version, name = 'flatkey-router-key'): SecretVersionRef {
    return {
      vaultUrl: VAULT,
      name,
      version: v.version,
      fingerprint: fingerprint(v.value),
      enabled: v.enabled,
    };
  }

  private accepts(value: string): boolean {
    if (value === this.oldKey && this.opts.oldKeyStillAccepted) return true;
    return (
      [...this.gatewayKeys.values()].some((k) => k.value === value && !k.revoked) || value === this.handedKey
    );
  }

  private healthy(fromMs: number, toMs: number): WindowMetrics {
    return {
      fromMs,
      toMs,
      requests: 100,
      authErrors: 0,
      rateLimited: 0,
      serverErrors: 0,
      p95LatencyMs: 800,
      tokens: 10_000,
      spend: 1,
    };
  }

  /** The activity implementations, recording each call by name. */
  activities(): RotationActivities {
    const record = (name: string) => this.calls.push(name);
    return {
      preflight: async (input) => {
        record('preflight');
        if (this.opts.registered === false) {
          throw ApplicationFailure.nonRetryable(
            `credential ${input.credential} is not registered`,
            FailureTypes.UnknownCredential,
          );
        }
        const credential = this.credential(input.credential, input.environment);
        const current = this.ref(this.stable.at(-1)!);
        return {
          credential,
          current,
          oldKeyStatus: 200,
          baseline: this.healthy(0, 3600_000),
          preChecks: [
            {
              name: 'inventory_confirmed',
              claimed: true,
              verified: true,
              detail: '2 consumer(s) registered',
            },
          ],
          ...(credential.adminAdapter === 'manual'
            ? {}
            : {
                oldGatewayKeyId: 'gk-old',
                oldScope: { models: ['gpt-4o-mini'], maxBudget: 100, team: 'platform-ai' },
              }),
        };
      },
      issueReplacementKey: async (input) => {
        record('issueReplacementKey');
        const existing = [...this.gatewayKeys.entries()].find(([id]) => id === `gk-${input.rotationId}`);
        if (!existing) this.gatewayKeys.set(`gk-${input.rotationId}`, { value: this.newKey, revoked: false });
        this.pending ??= { version: `p${this.seq++}`, value: this.newKey, enabled: true, stage: 'pending' };
        return {
          gatewayKeyId: `gk-${input.rotationId}`,
          pending: this.ref(this.pending, 'flatkey-router-key-pending'),
          scope: input.oldScope,
          reused: existing !== undefined,
        };
      },
      confirmStagedKey: async (input) => {
        record('confirmStagedKey');
        if (!this.pending || this.pending.version !== input.version) {
          throw ApplicationFailure.nonRetryable('pending secret mismatch', FailureTypes.StagedKeyMismatch);
        }
        return this.ref(this.pending, 'flatkey-router-key-pending');
      },
      runCanary: async (input) => {
        record('runCanary');
        const value = this.pending?.value ?? '';
        const requests = input.routes.map((route, i): CanaryRequest => {
          const failure = this.opts.canaryFailure?.route === route ? this.opts.canaryFailure : undefined;
          const ok = !failure && this.accepts(value);
          return {
            route,
            requestId: `req_canary_${i}`,
            model: 'gpt-4o-mini',
            status: failure?.status ?? (ok ? 200 : 401),
            latencyMs: 120,
            tokens: 42,
            ok,
            ...(ok ? {} : { reason: failure?.reason ?? 'auth' }),
          };
        });
        return { passed: requests.every((r) => r.ok), requests };
      },
      checkAttribution: async (input) => {
        record('checkAttribution');
        return {
          passed: true,
          owner: input.expectedOwner,
          team: 'platform-ai',
          expectedOwner: input.expectedOwner,
          anomalies: [],
        };
      },
      promote: async () => {
        record('promote');
        const pending = this.pending!;
        const previous = this.stable.at(-1)!;
        if (!this.stable.some((v) => v.value === pending.value && v.stage === 'current')) {
          previous.stage = 'previous';
          this.stable.push({
            version: `v${this.stable.length + 1}`,
            value: pending.value,
            enabled: true,
            stage: 'current',
          });
        }
        this.pending = undefined;
        const current = this.stable.at(-1)!;
        const prev = [...this.stable].reverse().find((v) => v.stage === 'previous')!;
        return { current: this.ref(current), previous: this.ref(prev) };
      },
      callRolloutHook: async () => {
        record('callRolloutHook');
        return 202;
      },
      observeWindow: async (input) => {
        record('observeWindow');
        return {
          ...this.healthy(input.fromMs, input.toMs),
          ...(this.opts.newKeyWindow?.(input.fromMs, input.toMs) ?? {}),
        };
      },
      oldKeyUsage: async (input) => {
        record('oldKeyUsage');
        const perConsumer = this.opts.oldKeyUsage?.(input.fromMs, input.toMs) ?? [];
        return {
          fromMs: input.fromMs,
          toMs: input.toMs,
          total: perConsumer.reduce((n, c) => n + c.requests, 0),
          perConsumer,
        };
      },
      revokeGatewayKey: async (input) => {
        record(`revokeGatewayKey:${input.keyId}`);
        const key = this.gatewayKeys.get(input.keyId);
        if (!key || key.revoked) return { method: 'already-gone', at: new Date().toISOString() };
        key.revoked = true;
        return { method: 'disabled-and-deleted', at: new Date().toISOString() };
      },
      revokeIssuedKey: async (input) => {
        record(`revokeIssuedKey:gk-${input.rotationId}`);
        const key = this.gatewayKeys.get(`gk-${input.rotationId}`);
        if (!key || key.revoked) return { method: 'already-gone', at: new Date().toISOString() };
        key.revoked = true;
        return {
          keyId: `gk-${input.rotationId}`,
          method: 'disabled-and-deleted',
          at: new Date().toISOString(),
        };
      },
      negativeTest: async (input) => {
        record('negativeTest');
        const oldValue = this.stable.find((v) => v.version === input.old.version)!.value;
        const newValue = this.stable.find((v) => v.version === input.current.version)!.value;
        const oldKeyStatus = this.accepts(oldValue) ? 200 : 401;
        const newKeyStatus = this.accepts(newValue) ? 200 : 401;
        return {
          oldKeyStatus,
          oldKeyRejected: oldKeyStatus === 401,
          newKeyStatus,
          newKeyAccepted: newKeyStatus === 200,
          attempts: 1,
          at: new Date().toISOString(),
        };
      },
      retirePrevious: async () => {
        record('retirePrevious');
        const prev = this.stable.find((v) => v.stage === 'previous');
        if (!prev) return undefined;
        prev.enabled = false;
        prev.stage = 'retired';
        return this.ref(prev);
      },
      restoreOldSecret: async () => {
        record('restoreOldSecret');
        const current = this.stable.at(-1)!;
        const previous = [...this.stable].reverse().find((v) => v.stage === 'previous');
        if (!previous || current.stage === 'rolled-back-to') return {};
        current.enabled = false;
        current.stage = 'rolled-back';
        this.stable.push({
          version: `v${this.stable.length + 1}`,
          value: previous.value,
          enabled: true,
          stage: 'rolled-back-to',
        });
        return { restored: this.ref(this.stable.at(-1)!), disabled: this.ref(current) };
      },
      discardPending: async () => {
        record('discardPending');
        this.pending = undefined;
      },
      writeEvidence: async (input) => {
        record('writeEvidence');
        this.evidence.push(input.bundle);
        return { location: `memory://${input.rotationId}`, sha256: 'f'.repeat(64), previousSha256: null };
      },
      notify: async (input) => {
        this.notifications.push({ event: input.event, phase: input.phase, message: input.message });
      },
    };
  }
}
