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
  /** rekey's Prometheus metrics the activities count into; absent where nobody scrapes (workflow tests). */
  metrics?: RekeyMetrics;
  now?: () => number;
}
