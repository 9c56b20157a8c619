// The AWS Secrets Manager backend for the shared SecretStore contract, against the moto server global setup
// started (REKEY_TEST_MOTO_URL). Secrets are created the way a platform team would (CreateSecret: the
// first version is AWSCURRENT); apps read the AWSCURRENT version by label, as AWS's caching clients do —
// moto 5.2.5 answers a read without a stage with the version first written, real AWS with AWSCURRENT.
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { awsSecretsManagerBackend } from '../../activities/secrets/aws-secrets-manager';
import type { SecretLocationOf } from '../../domain/secrets';
import type { ContractBackend } from './backend';

/** moto's region is whatever the client signs for; every secret here lives in this one. */
export const MOTO_REGION = 'eu-west-1';
/** moto takes any keys; these never reach AWS (every location has moto's endpoint). */
export const MOTO_ENV: NodeJS.ProcessEnv = {
  AWS_ACCESS_KEY_ID: 'rekey-test',
  AWS_SECRET_ACCESS_KEY: 'rekey-test',
};

/** The harness's moto URL, or a failure naming why there is none (never a skip). */
export function motoUrl(): string {
  const unavailable = process.env.REKEY_TEST_MOTO_UNAVAILABLE;
  if (unavailable) throw new Error(`no moto server could start: ${unavailable}`);
  const url = process.env.REKEY_TEST_MOTO_URL;
  if (!url) throw new Error('REKEY_TEST_MOTO_URL is not set by the harness (test/harness/global-setup.ts)');
  return url;
}

/** A plain SDK client, as a platform team's script or an app would make one. */
export function motoClient(endpoint = motoUrl()): SecretsManagerClient {
  return new SecretsManagerClient({
    region: MOTO_REGION,
    endpoint,
    credentials: { accessKeyId: 'rekey-test', secretAccessKey: 'rekey-test' },
    maxAttempts: 1,
  });
}

/** What an app reads: the AWSCURRENT version; undefined when the secret is gone or scheduled for deletion. */
export async function appReadCurrent(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string | undefined> {
  try {
    return (await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' })))
      .SecretString;
  } catch (err) {
    if (['ResourceNotFoundException', 'InvalidRequestException'].includes((err as Error).name))
      return undefined;
    throw err;
  }
}

export const awsSecretsManagerContract: ContractBackend<'aws-secrets-manager'> = {
  kind: 'aws-secrets-manager',
  serverUrl: motoUrl,
  async fresh(initial, opts = {}) {
    const admin = motoClient();
    const secretId = `contract-${randomBytes(5).toString('hex')}`;
    await admin.send(new CreateSecretCommand({ Name: secretId, SecretString: initial }));
    const location: SecretLocationOf<'aws-secrets-manager'> = {
      backend: 'aws-secrets-manager',
      region: MOTO_REGION,
      endpoint: opts.serverUrl ?? motoUrl(),
      secretId,
    };
    return {
      location,
      session: awsSecretsManagerBackend.connect({
        env: MOTO_ENV,
        ...(opts.logger ? { logger: opts.logger } : {}),
      }),
      appRead: () => appReadCurrent(admin, secretId),
      async breakStable(how) {
        // Secrets Manager has no disabled versions: a secret scheduled for deletion is the unreadable one.
        await admin.send(
          new DeleteSecretCommand(
            how === 'missing'
              ? { SecretId: secretId, ForceDeleteWithoutRecovery: true }
              : { SecretId: secretId, RecoveryWindowInDays: 7 },
          ),
        );
      },
      async putOther(value) {
        const name = `contract-other-${randomBytes(5).toString('hex')}`;
        await admin.send(new CreateSecretCommand({ Name: name, SecretString: value }));
        return name;
      },
    };
  },
};
