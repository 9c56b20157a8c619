// ISSUING and CANARY: the replacement key is issued (or the staged one confirmed), then proved on every
// allowed route and in the gateway's usage attribution before anything reads it in production.
import type { Route } from '../../domain/policy';
import { FailureTypes } from '../../domain/failure-types';
import { issueReplacementKey } from '../gateway/issue-key';
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
      );
      return {
        gatewayKeyId: result.keyId,
        pending: result.pending,
        scope: result.scope,
        reused: result.reused,
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
      const report = await deps
        .probeFor(input.credential)
        .canary(input.credential.gatewayBaseUrl, key, input.routes);
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
