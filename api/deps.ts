// What the API is built from, and what its Fastify instance and requests carry. A leaf module: app.ts,
// the plugins and the routes import it, and it imports none of them.
import type { Client } from '@temporalio/client';
import type { DestinationStream, LoggerOptions } from 'pino';
import type { Registry } from 'prom-client';
import type { EvidenceReader } from '../domain/ports';
import type { AppReportStore } from '../domain/usage-reports';
import type { CredentialRegistry, SecretStore } from '../domain/ports';
import type { CredentialRef } from '../domain/activity-io';
import type { RekeyMetrics } from '../common/metrics';
import type { WebhookAllowlist } from '../domain/webhook-targets';
import type { Authenticator, Principal } from './auth';
import type { TrustProxySetting } from './client-address';
import type { MessageSigner } from './message-signing';
import type { ExposureDeps } from './exposures/exposure-deps';
import type { StagingTwinChecker } from '../domain/staging-twin';

export interface ApiDeps {
  temporal: Client;
  registry: CredentialRegistry;
  auth: Authenticator;
  /**
   * Fastify's trustProxy (REKEY_API_TRUST_PROXY): which proxies may name the client address that
   * req.ip and the failed-authentication limits use. Default false: the peer address.
   */
  trustProxy?: TrustProxySetting;
  taskQueue: string;
  temporalUiUrl: string;
  /**
   * Where change-ticket webhooks may go (REKEY_WEBHOOK_ALLOWED_HOSTS, REKEY_WEBHOOK_PRIVATE_HOSTS); a
   * start naming another is refused with 422. Absent: none, so any ticket webhook is refused.
   */
  webhookTargets?: WebhookAllowlist;
  /**
   * Signs every message the API sends a rotation, and gives each rotation it starts the keys to trust
   * (REKEY_MESSAGE_SIGNING_KEY_FILES). Absent: buildApp makes an ephemeral key, which only suits tests.
   */
  signer?: MessageSigner;
  /** The secret store of a credential, for the manual replacement-key hand-off. */
  secretStoreFor?: (credential: CredentialRef) => SecretStore;
  /** Where finished rotations' evidence bundles are read from. */
  evidence?: EvidenceReader;
  /** Where apps' usage reports are stored (REKEY_APP_REPORTS_DIR); absent: reports are answered 503. */
  appReports?: AppReportStore;
  /**
   * Leak alerts (POST /v1/exposures/github|gitguardian): the scanners' verification secrets and the
   * record store (REKEY_EXPOSURES_DIR); absent: those endpoints answer 503.
   */
  exposures?: ExposureDeps;
  /**
   * Azure Event Grid's Key Vault expiry events (POST /v1/expiry-events/azure-key-vault): the secret each
   * delivery carries (REKEY_EVENT_GRID_SECRET_FILE); absent: that endpoint answers 503.
   */
  expiryEvents?: { eventGridSecret?: string };
  /**
   * Staging before production: checks a start against the credential's staging twin, so that a start
   * the twin gate would fail is refused with 409 (activities/automation/staging-twin.ts). Absent: only
   * the workflow's own gate checks.
   */
  stagingTwin?: StagingTwinChecker;
  /** Where schedule notices and expiry reminders are POSTed (REKEY_SCHEDULE_NOTICE_URL). */
  scheduleNoticeUrl?: string;
  /** pino options (`stream`: where the log goes, default stdout), or false for no request log. */
  logger?: boolean | (LoggerOptions & { stream?: DestinationStream });
  /** Prometheus registry that /metrics exposes; rekey's metrics are added to it. Default: a fresh one. */
  metrics?: Registry;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** rekey's metrics; routes count their own events (a started rotation) here. */
    metrics: RekeyMetrics;
  }
  interface FastifyRequest {
    /** Who sent a /v1 request, from the bearer token (authenticated before the body is read). */
    principal: Principal | null;
  }
}
