// ISSUING and CANARY: the replacement key is issued (or the staged one confirmed), then proved on every
// allowed route and in the gateway's usage attribution before anything reads it in production.
import type { Route } from '../../domain/policy';
import { FailureTypes } from '../../domain/failure-types';
import { issueReplacementKey } from '../gateway/issue-key';
import type { KeyScopeRules } from '../../domain/key-scope';
import { canaryOnReplicas, replicaBaseUrls } from '../gateway/replicas';
import type { TelemetryKey } from '../../domain/ports';
import type {
  AttributionReport,
  CanaryReport,
  CredentialRef,
  IssuedKey,
  PreflightResult,
  SecretVersionRef,
} from '../../domain/activity-io';
import { adminFor, nonRetryable, type AreaDeps } from './area-deps';

/** The activities that put a replacement key in the pending secret and prove it. */
export function keyIssueAndCanaryActivities(
  deps: Pick<AreaDeps, 'secretStoreFor' | 'gatewayAdminFor' | 'probeFor' | 'telemetry' | 'metrics'>,
) {
  return {
    /** Automated gateways: issue a key with the old key's scope and stage it as the pending secret. */
    async issueReplacementKey(input: {
      rotationId: string;
      credential: CredentialRef;
      oldScope: NonNullable<PreflightResult['oldScope']>;
      oldGatewayKeyId?: string;
      /** The policy's key_scope; absent from workflows older than it (the defaults apply). */
      keyScope?: KeyScopeRules;
    }): Promise<IssuedKey> {
      const admin = adminFor(deps, input.credential);
      const store = deps.secretStoreFor(input.credential);
      const result = await issueReplacementKey(
        admin,
        input.rotationId,
        input.oldScope,
        await store.readPending(input.rotationId),
        (value, keyId) => store.stagePending(input.rotationId, value, keyId),
        input.oldGatewayKeyId,
        input.keyScope,
      );
      return {
        gatewayKeyId: result.keyId,
        pending: result.pending,
        scope: result.scope,
        reused: result.reused,
        scopeCheck: result.scopeCheck,
      };
    },

    /** Manual gateways: the API staged the key; confirm the pending version and fingerprint match. */
    async confirmStagedKey(input: {
      rotationId: string;
      credential: CredentialRef;
      version: string;
      fingerprint: string;
    }): Promise<SecretVersionRef> {
      const pending = await deps.secretStoreFor(input.credential).readPending(input.rotationId);
      if (!pending || pending.version !== input.version || pending.fingerprint !== input.fingerprint) {
        throw nonRetryable(
          FailureTypes.StagedKeyMismatch,
          `pending secret of ${input.rotationId} is ${pending ? `${pending.version} ${pending.fingerprint}` : 'missing'}, not ${input.version} ${input.fingerprint}`,
        );
      }
      return pending;
    },

    /**
     * Every allowed route with one key version, through the gateway's OpenAI API: the canary of the
     * pending key, the active probe of every hold check, and the probe just before revoke.
     */
    async runCanary(input: {
      credential: CredentialRef;
      version: SecretVersionRef;
      routes: Route[];
    }): Promise<CanaryReport> {
      const key = await deps.secretStoreFor(input.credential).resolve(input.version);
      // On every replica the registry lists: one replica serving the key badly fails the probe.
      const report = await canaryOnReplicas(
        deps.probeFor(input.credential),
        await replicaBaseUrls(input.credential),
        key,
        input.routes,
      );
      // Every attempt's requests are counted: a retried canary really sent them again.
      for (const r of report.requests) {
        deps.metrics?.canaryRequests.inc({ route: r.route, result: r.ok ? 'ok' : (r.reason ?? 'failed') });
      }
      return report;
    },

    /** CANARY: the new key's usage rolls up to the expected owner, without cost or quota anomaly. */
    async checkAttribution(input: {
      credential: CredentialRef;
      key: TelemetryKey;
      expectedOwner: string;
    }): Promise<AttributionReport> {
      return deps.telemetry.attribution(input.credential, input.key, input.expectedOwner);
    },
  };
}
