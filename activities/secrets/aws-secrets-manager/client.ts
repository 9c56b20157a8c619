// The Secrets Manager client of one region (and endpoint): the official SDK with per-request timeouts and
// bounded resends. Credentials come from the SDK's default provider chain (environment, SSO and profiles,
// web identity / IRSA, ECS and EC2 instance roles), except that static keys in the backend context's env
// win, so a worker, the API and tests each sign with what they were given. An `endpoint` (a VPC endpoint,
// a FIPS endpoint, moto locally) replaces the regional one; plain HTTP is accepted for loopback only,
// because secret values travel in the request and response bodies.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ApplicationFailure } from '@temporalio/common';
import type { SecretLocationOf } from '../../../domain/secrets';
import { AwsFailureTypes } from './aws-errors';
import { CONNECTION_TIMEOUT_MS, REQUEST_TIMEOUT_MS, SDK_MAX_ATTEMPTS } from './operation-budget';

/** Opt-in for a plain-HTTP endpoint on another host (a compose network's moto, say); never for production. */
export const ALLOW_HTTP_ENDPOINT_ENV = 'REKEY_AWS_ALLOW_HTTP_ENDPOINT';

type AwsLocation = SecretLocationOf<'aws-secrets-manager'>;

/** What the backend reads from its context's environment, once, at connect. */
export interface AwsSettings {
  /** Static keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN); else the default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  allowHttpEndpoint: boolean;
}

/** Reads the backend's settings; a half-given key pair fails naming the missing variable. */
export function awsSettings(env: NodeJS.ProcessEnv): AwsSettings {
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw new Error(
      `${accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'} is not set while ` +
        `${accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} is: set both, or neither to use the ` +
        `default AWS credential chain (profiles, SSO, web identity, instance roles)`,
    );
  const sessionToken = env.AWS_SESSION_TOKEN?.trim();
  return {
    ...(accessKeyId && secretAccessKey
      ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } }
      : {}),
    allowHttpEndpoint: ['1', 'true'].includes((env[ALLOW_HTTP_ENDPOINT_ENV] ?? '').toLowerCase()),
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Refuses an endpoint that would carry secret values in clear across a network. */
export function assertEndpointAllowed(location: AwsLocation, settings: AwsSettings): void {
  if (!location.endpoint) return;
  const url = new URL(location.endpoint);
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || settings.allowHttpEndpoint)) return;
  throw ApplicationFailure.create({
    type: AwsFailureTypes.InsecureEndpoint,
    message:
      `the Secrets Manager endpoint ${location.endpoint} of secret ${location.secretId} is not HTTPS: secret ` +
      `values would cross the network in clear. Use an https:// endpoint (or none, for AWS's regional one); ` +
      `plain HTTP is accepted for loopback, or elsewhere with ${ALLOW_HTTP_ENDPOINT_ENV}=true (development only)`,
    nonRetryable: true,
  });
}

/** A client for the location's region and endpoint. */
export function createSecretsManagerClient(
  location: AwsLocation,
  settings: AwsSettings,
): SecretsManagerClient {
  assertEndpointAllowed(location, settings);
  return new SecretsManagerClient({
    region: location.region,
    ...(location.endpoint ? { endpoint: location.endpoint } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
}
