// What the exposure endpoints are built from (api/server.ts wires it from REKEY_* settings).
import type { KeyObject } from 'node:crypto';
import type { ExposureRecordStore } from '../../domain/exposure-records';
import type { FingerprintIndex } from './fingerprint-index';

export interface ExposureDeps {
  /** GitHub webhook secret (X-Hub-Signature-256); absent: GitHub webhooks are answered 503. */
  githubWebhookSecret?: string;
  /** GitHub's secret-scanning public keys by identifier; absent: partner payloads are answered 503. */
  githubPublicKeys?: ReadonlyMap<string, KeyObject>;
  /** GitGuardian's signature token; absent: GitGuardian webhooks are answered 503. */
  gitguardianToken?: string;
  /** How far a GitGuardian Timestamp may be from now, either way (default 300 s). */
  gitguardianToleranceSeconds?: number;
  records: ExposureRecordStore;
  /** The fingerprint index; default: one over the API's registry and secret stores. */
  index?: FingerprintIndex;
  now?: () => number;
}
