// What the API is built from, and what its Fastify instance and requests carry. A leaf module: app.ts,
// the plugins and the routes import it, and it imports none of them.
import type { Client } from '@temporalio/client';
import type { DestinationStream, LoggerOptions } from 'pino';
import type { Registry } from 'prom-client';
import type { EvidenceReader } from '../domain/ports';
import type { CredentialRegistry, SecretStore } from '../domain/ports';
import type { CredentialRef } from '../domain/activity-io';
import type { RekeyMetrics } from '../common/metrics';
import type { Authenticator, Principal } from './auth';

export interface ApiDeps {
  temporal: Client;
  registry: CredentialRegistry;
  auth: Authenticator;
  taskQueue: string;
  temporalUiUrl: string;
  /** The secret store of a credential, for the manual replacement-key hand-off. */
  secretStoreFor?: (credential: CredentialRef) => SecretStore;
  /** Where finished rotations' evidence bundles are read from. */
  evidence?: EvidenceReader;
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
