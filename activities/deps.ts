// What createActivities is built from: one adapter per port (domain/ports.ts), wired by worker.ts.
import type { RekeyMetrics } from '../common/metrics';
import type { CredentialRef } from '../domain/activity-io';
import type {
  CredentialRegistry,
  EvidenceStore,
  GatewayAdmin,
  GatewayProbe,
  Notifier,
  SecretStore,
  Telemetry,
} from '../domain/ports';
import type { WebhookAllowlist } from '../domain/webhook-targets';

/** Everything createActivities needs; worker.ts builds it from config. */
export interface ActivityDeps {
  registry: CredentialRegistry;
  secretStoreFor(credential: CredentialRef): SecretStore;
  gatewayAdminFor(credential: CredentialRef): GatewayAdmin | undefined;
  /** The probe with this credential's canary models and status check. */
  probeFor(credential: CredentialRef): GatewayProbe;
  telemetry: Telemetry;
  evidence: EvidenceStore;
  notifier: Notifier;
  /**
   * Where a policy's rollout hook may be POSTed (REKEY_WEBHOOK_ALLOWED_HOSTS, REKEY_WEBHOOK_PRIVATE_HOSTS,
   * the ticket webhooks' allowlist); absent means none: every rollout hook is refused.
   */
  webhookTargets?: WebhookAllowlist;
  /**
   * How long the hold observation re-reads a window whose telemetry has not caught up yet (default
   * 30 s, at most 40 s: the activity's start-to-close is 1 minute); 0 answers at once.
   */
  telemetryCatchUpMs?: number;
  /** rekey's Prometheus metrics the activities count into; absent where nobody scrapes (workflow tests). */
  metrics?: RekeyMetrics;
  now?: () => number;
}
