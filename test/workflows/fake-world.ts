// Fake activities for workflow unit tests: an in-memory vault, gateway and telemetry behind the same
// activity surface createActivities exposes. Key strings are generated per world and live only here;
// tests assert that none of them reaches a workflow history.
import { randomBytes } from 'node:crypto';
import type { RotationActivities } from '../../activities';
import type { AutomationActivities } from '../../activities/automation';
import { policyFingerprint } from '../../activities/automation/staging-twin';
import type { TwinRotation } from '../../domain/staging-twin';
import type { StagingTwinSpec } from '../../domain/automation';
import { fingerprint } from '../../domain/fingerprint';
import type {
  CanaryRequest,
  ConsumerUsage,
  CredentialRef,
  SecretStage,
  SecretVersionRecord,
  SecretVersionRef,
  SignalCapabilities,
  WindowMetrics,
} from '../../domain/activity-io';
import { ApplicationFailure } from '@temporalio/common';
import { observing } from '../../activities/telemetry/capabilities';
import { SIGNALS } from '../../domain/activity-io';
import { FailureTypes } from '../../domain/failure-types';

interface Version {
  version: string;
  value: string;
  enabled: boolean;
  stage: string;
}

/** What a world's worker runs: the rotation's activities, and the staging-twin gate's. */
export type WorldActivities = RotationActivities & Pick<AutomationActivities, 'checkStagingTwin'>;

/** Options that shape a scenario's world. */
export interface WorldOptions {
  adminAdapter?: CredentialRef['adminAdapter'];
  /** Route whose canary fails, with the reason. */
  canaryFailure?: { route: string; reason: CanaryRequest['reason']; status: number };
  /** New-key traffic figures per window, over what the consumers send; defaults to healthy. */
  newKeyWindow?: (fromMs: number, toMs: number) => Partial<WindowMetrics>;
  /**
   * Consumers and their requests per window (default: customer-chat-api 60, enrichment-worker 40).
   * `key`: `follow` reads the stable secret as an app with reload does (default), `old` never
   * reloads, `none` sends nothing.
   */
  consumers?: (
    fromMs: number,
    toMs: number,
  ) => { consumer: string; requests: number; key?: 'follow' | 'old' | 'none' }[];
  /** The telemetry source fails on every read. */
  telemetryDown?: boolean;
  /** Registered canary consumers: they read the pending secret while there is one. */
  canaryCohort?: string[];
  /** Signals the telemetry source cannot see (e.g. per-key 401s). */
  blind?: (keyof SignalCapabilities)[];
  /** The gateway keeps accepting the old key after revocation. */
  oldKeyStillAccepted?: boolean;
  /**
   * Replicas the gateway lists: one whose cache `keepsOldKey` still accepts it after revocation; one that
   * `cutOldKeyEarly` refuses it before revoke (LiteLLM #27193).
   */
  replicas?: { replica: string; keepsOldKey?: boolean; cutOldKeyEarly?: boolean }[];
  /** The gateway's admin API refuses to enable a key again. */
  enableFails?: boolean;
  /** The gateway refuses the new key once the old one is disabled (a broken key cache). */
  newKeyFailsOnceDisabled?: boolean;
  registered?: boolean;
  /** The registry's pairs of the credential (shared consumers): never held at the same time. */
  pairedWith?: string[];
  /**
   * The registry's staging twin of the credential, and what visibility holds of it: the completed twin
   * rotation with the same policy (`match`), and how many completed with another one (`differing`).
   */
  stagingTwin?: { spec: StagingTwinSpec; match?: TwinRotation; differing?: number };
}

const ALL_SIGNALS: SignalCapabilities = observing(SIGNALS);
const DEFAULT_CONSUMERS: { consumer: string; requests: number; key?: 'follow' | 'old' | 'none' }[] = [
  { consumer: 'customer-chat-api', requests: 60 },
  { consumer: 'enrichment-worker', requests: 40 },
];

const VAULT = 'https://fake-vault.vault.example';

/** One scenario's fake external world, with what the activities did to it. */
export class FakeWorld {
  readonly oldKey = `fake-old-key-${randomBytes(12).toString('hex')}`;
  readonly newKey = `fake-new-key-${randomBytes(12).toString('hex')}`;
  readonly handedKey = `fake-handed-key-${randomBytes(12).toString('hex')}`;
  readonly stable: Version[] = [{ version: 'v1', value: this.oldKey, enabled: true, stage: 'current' }];
  pending?: Version;
  readonly gatewayKeys = new Map<string, { value: string; revoked: boolean; disabled?: boolean }>([
    ['gk-old', { value: this.oldKey, revoked: false }],
  ]);
  /** Set by a test: runs inside the notify activity, while the workflow waits for it. */
  onNotify?: (event: string) => Promise<void>;
  /** Set by a test to make the gateway answer the new key with this status (a fault mid-rotation). */
  newKeyFault?: { status: number; reason: CanaryRequest['reason'] };
  /** The telemetry source fails on every read while set (starts from the option). */
  telemetryDown: boolean;
  /** Requests the canary and probes sent since the last telemetry window (they show up in it). */
  private probeRequests = 0;
  readonly calls: string[] = [];
  readonly notifications: { event: string; phase: string; message: string }[] = [];
  readonly evidence: unknown[] = [];
  private seq = 1;

  constructor(readonly opts: WorldOptions = {}) {
    this.telemetryDown = opts.telemetryDown ?? false;
  }

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
      store: VAULT,
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
      secret: {
        backend: 'azure-key-vault',
        vaultUrl: VAULT,
        secretName: name,
        pendingSecretName: `${name}-pending`,
      },
      gatewayBaseUrl: 'https://router.flatkey.ai/v1',
      adminAdapter: this.opts.adminAdapter ?? 'litellm',
      ...(this.opts.pairedWith ? { pairedWith: this.opts.pairedWith } : {}),
      consumers: [
        { app: 'customer-chat-api', environment, reload: 'dynamic' as const },
        { app: 'enrichment-worker', environment, reload: 'restart' as const },
      ].map((c) => (this.opts.canaryCohort?.includes(c.app) ? { ...c, canary: true } : c)),
    };
  }

  private ref(v: Version, name = 'flatkey-router-key'): SecretVersionRef {
    return {
      store: VAULT,
      name,
      version: v.version,
      fingerprint: fingerprint(v.value),
      enabled: v.enabled,
    };
  }

  private accepts(value: string): boolean {
    if (value === this.oldKey && this.opts.oldKeyStillAccepted) return true;
    return (
      [...this.gatewayKeys.values()].some((k) => k.value === value && !k.revoked && !k.disabled) ||
      value === this.handedKey
    );
  }

  /** The key value the app-like consumers send this window, by how they reload. */
  private trafficOn(value: string, fromMs: number, toMs: number): ConsumerUsage[] {
    const reads = (consumer: string) =>
      this.opts.canaryCohort?.includes(consumer) && this.pending ? this.pending.value : this.appReads();
    return (this.opts.consumers?.(fromMs, toMs) ?? DEFAULT_CONSUMERS)
      .filter(
        (c) => (c.key === 'old' ? this.oldKey : c.key === 'none' ? undefined : reads(c.consumer)) === value,
      )
      .map(({ consumer, requests }) => ({ consumer, requests }));
  }

  private valueOf(fingerprintOrValue: string): string | undefined {
    return [this.oldKey, this.newKey, this.handedKey].find((v) => fingerprint(v) === fingerprintOrValue);
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
  activities(): WorldActivities {
    const record = (name: string) => this.calls.push(name);
    return {
      checkStagingTwin: async ({ input }) => {
        record('checkStagingTwin');
        const t = this.opts.stagingTwin;
        const policy = policyFingerprint(input);
        if (!t) return { policyFingerprint: policy, differing: 0 };
        return {
          twin: t.spec,
          policyFingerprint: policy,
          differing: t.differing ?? 0,
          ...(t.match ? { match: t.match } : {}),
        };
      },
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
          baselineByConsumer: DEFAULT_CONSUMERS.map(({ consumer, requests }) => ({ consumer, requests })),
          telemetry: {
            name: 'fake-telemetry',
            capabilities: {
              ...ALL_SIGNALS,
              ...Object.fromEntries((this.opts.blind ?? []).map((s) => [s, false])),
            },
          },
          gatewayCanDisable: credential.adminAdapter !== 'manual',
          preChecks: [
            {
              name: 'inventory_confirmed',
              claimed: true,
              result: 'verified',
              verified: true,
              detail: '2 consumer(s) registered',
            },
            {
              name: 'canary_request_id',
              claimed: 'req_redacted',
              result: 'unverified',
              verified: false,
              detail: 'the fake gateway cannot look requests up',
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
        const value = this.valueOf(input.version.fingerprint) ?? '';
        this.probeRequests += input.routes.length;
        const requests = input.routes.map((route, i): CanaryRequest => {
          const failure =
            this.opts.canaryFailure?.route === route
              ? this.opts.canaryFailure
              : value !== this.oldKey && this.newKeyFault
                ? { route, ...this.newKeyFault }
                : undefined;
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
          verdict: 'pass',
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
      observeHoldWindow: async (input) => {
        record('observeHoldWindow');
        const source = {
          name: 'fake-telemetry',
          capabilities: {
            ...ALL_SIGNALS,
            ...Object.fromEntries((this.opts.blind ?? []).map((s) => [s, false])),
          },
        };
        if (this.telemetryDown) {
          return {
            fromMs: input.fromMs,
            toMs: input.toMs,
            source,
            errors: ['new-key window: telemetry unreachable'],
          };
        }
        const newValue = this.valueOf(input.newKey.fingerprint) ?? '';
        const newKeyByConsumer = this.trafficOn(newValue, input.fromMs, input.toMs);
        const appRequests = newKeyByConsumer.reduce((n, c) => n + c.requests, 0);
        const probes = this.probeRequests;
        this.probeRequests = 0;
        const faulty =
          this.newKeyFault && !this.opts.blind?.includes('authErrors') ? this.newKeyFault : undefined;
        const scaled = (n: number) => Math.round((n * appRequests) / 100);
        const healthy = this.healthy(input.fromMs, input.toMs);
        const figures: WindowMetrics = {
          ...healthy,
          requests: appRequests + probes,
          tokens: scaled(healthy.tokens),
          spend: scaled(healthy.spend * 100) / 100,
          ...(faulty && faulty.status >= 500 ? { serverErrors: appRequests } : {}),
          ...(faulty && (faulty.status === 401 || faulty.status === 403) ? { authErrors: appRequests } : {}),
          ...(this.opts.newKeyWindow?.(input.fromMs, input.toMs) ?? {}),
        };
        const oldKeyByConsumer = input.oldKey
          ? this.trafficOn(this.oldKey, input.fromMs, input.toMs)
          : undefined;
        return {
          fromMs: input.fromMs,
          toMs: input.toMs,
          source,
          newKey: figures,
          newKeyByConsumer,
          ...(oldKeyByConsumer ? { oldKeyByConsumer } : {}),
          errors: [],
        };
      },
      disableGatewayKey: async (input) => {
        record(`disableGatewayKey:${input.keyId}`);
        const key = this.gatewayKeys.get(input.keyId);
        if (!key || key.revoked) return { result: 'already-gone', at: new Date().toISOString() };
        key.disabled = true;
        if (this.opts.newKeyFailsOnceDisabled) this.newKeyFault = { status: 401, reason: 'auth' };
        return { result: 'disabled', at: new Date().toISOString() };
      },
      enableGatewayKey: async (input) => {
        record(`enableGatewayKey:${input.keyId}`);
        if (this.opts.enableFails) {
          throw ApplicationFailure.nonRetryable(
            'admin API answered 403 to /key/unblock',
            'GatewayAdminForbidden',
          );
        }
        const key = this.gatewayKeys.get(input.keyId);
        if (!key || key.revoked) return { result: 'already-gone', at: new Date().toISOString() };
        key.disabled = false;
        if (this.opts.newKeyFailsOnceDisabled) delete this.newKeyFault;
        return { result: 'enabled', at: new Date().toISOString() };
      },
      deleteGatewayKey: async (input) => {
        record(`deleteGatewayKey:${input.keyId}`);
        const key = this.gatewayKeys.get(input.keyId);
        if (!key || key.revoked) return { result: 'already-gone', at: new Date().toISOString() };
        key.revoked = true;
        return { result: 'deleted', at: new Date().toISOString() };
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
        const newKeyStatus = this.newKeyFault?.status ?? (this.accepts(newValue) ? 200 : 401);
        const replicas = this.opts.replicas?.map(({ replica, keepsOldKey }) => {
          const old = keepsOldKey ? 200 : oldKeyStatus;
          return {
            replica,
            oldKeyStatus: old,
            oldKeyRejected: old === 401,
            newKeyStatus,
            newKeyAccepted: newKeyStatus === 200,
            attempts: 1,
          };
        });
        const worst = replicas?.find((r) => !r.oldKeyRejected);
        return {
          oldKeyStatus: worst?.oldKeyStatus ?? oldKeyStatus,
          oldKeyRejected: worst ? false : oldKeyStatus === 401,
          newKeyStatus,
          newKeyAccepted: newKeyStatus === 200,
          attempts: 1,
          at: new Date().toISOString(),
          ...(replicas ? { replicas } : {}),
        };
      },
      checkOldKeyGrace: async (input) => {
        record('checkOldKeyGrace');
        const oldValue = this.stable.find((v) => v.version === input.old.version)!.value;
        const replicas = (this.opts.replicas ?? [{ replica: 'https://gateway.example/v1' }]).map((r) => {
          const status = !r.cutOldKeyEarly && this.accepts(oldValue) ? 200 : 401;
          return { replica: r.replica, status, ok: status === 200 };
        });
        return { passed: replicas.every((r) => r.ok), at: new Date().toISOString(), replicas };
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
        await this.onNotify?.(input.event);
      },
    };
  }
}
