// Per-key usage from OpenRouter's management API (GET /keys/{hash}). OpenRouter reports one figure
// per key — cumulative spend in USD — with no request counts, status codes or per-consumer split, so:
// - a window's spend is the rise since this adapter's previous reading of the key (readings are kept
//   per worker process), and its request and error counts read zero: pair it with the Prometheus
//   adapter where apps export metrics, if error rates must be watched during the hold;
// - old-key usage is "some traffic" (1) or none (0) per window; the first reading after a worker
//   starts counts as traffic, so a restart never makes an undrained key look drained;
// - traffic on free models costs nothing and is invisible here;
// - usage attribution is not possible (no owner or team per key): it fails non-retryably, naming the
//   policy switch (`evidence.usage_owner_check`, `cost_anomaly_check`: optional).
import { FailureTypes } from '../../../domain/failure-types';
import { ApplicationFailure } from '@temporalio/common';
import type { Telemetry, TelemetryKey } from '../../../domain/ports';
import type { ConsumerUsage, CredentialRef, WindowMetrics } from '../../../domain/activity-io';
import { adminCall, type AdminHttpOptions } from '../../gateway/admin-http';
import { observing } from '../capabilities';

export const UNKNOWN_FIRST_READING = 'unknown (first usage reading of this key)';
export const ALL_CONSUMERS = 'all consumers (OpenRouter reports spend per key only)';

export function createOpenRouterUsageTelemetry(opts: AdminHttpOptions): Telemetry {
  const last = new Map<string, number>();

  const keyId = (key: TelemetryKey) => {
    if (!key.gatewayKeyId) {
      throw ApplicationFailure.nonRetryable(
        `OpenRouter usage needs the key's hash; ${key.fingerprint} has none (manual gateway?)`,
        FailureTypes.TelemetryUnsupported,
      );
    }
    return key.gatewayKeyId;
  };
  /** Spend since the previous reading, or undefined on the first reading; a deleted key reads as no spend. */
  async function spendSinceLastReading(key: TelemetryKey): Promise<number | undefined> {
    const hash = keyId(key);
    const res = await adminCall<{ data: { usage: number } }>(
      opts,
      'GET',
      `/keys/${encodeURIComponent(hash)}`,
    );
    const previous = last.get(hash);
    const usage = res.status === 404 ? (previous ?? 0) : res.body.data.usage;
    last.set(hash, usage);
    return previous === undefined ? undefined : Math.max(0, usage - previous);
  }

  return {
    // One cumulative spend figure per key: every other signal reads zero whatever the traffic.
    source: () => ({ name: 'openrouter-usage', capabilities: observing(['spend']) }),

    async window(
      _credential: CredentialRef,
      key: TelemetryKey,
      fromMs: number,
      toMs: number,
    ): Promise<WindowMetrics> {
      const spend = (await spendSinceLastReading(key)) ?? 0;
      const zero = {
        requests: 0,
        authErrors: 0,
        rateLimited: 0,
        serverErrors: 0,
        p95LatencyMs: 0,
        tokens: 0,
      };
      return { fromMs, toMs, ...zero, spend: Math.round(spend * 1e6) / 1e6 };
    },

    async usageByConsumer(credential: CredentialRef, key: TelemetryKey): Promise<ConsumerUsage[]> {
      const spend = await spendSinceLastReading(key);
      if (spend === undefined) return [{ consumer: UNKNOWN_FIRST_READING, requests: 1 }];
      if (spend > 0) return [{ consumer: ALL_CONSUMERS, requests: 1 }];
      return credential.consumers.map((c) => ({ consumer: c.app, requests: 0 }));
    },

    attribution(): Promise<never> {
      return Promise.reject(
        ApplicationFailure.nonRetryable(
          'OpenRouter reports no owner or team per key: set evidence.usage_owner_check and cost_anomaly_check to optional, or use the Prometheus adapter',
          FailureTypes.AttributionUnsupported,
        ),
      );
    },
  };
}
