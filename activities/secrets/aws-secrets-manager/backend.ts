// The AWS Secrets Manager backend (activities/secrets/backend.ts): one SDK client per region and endpoint,
// shared by the stores it opens and by readValue (gateway admin keys kept as other secrets of the same
// region). Settings come from the context's env at connect, so a half-given key pair fails at worker start.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type SecretLocationOf } from '../../../domain/secrets';
import { storeLabel } from '../../../domain/secret-refs';
import type { SecretBackend } from '../backend';
import { awsSettings, createSecretsManagerClient } from './client';
import { currentActivitySignal, OPERATION_DEADLINE_MS, startOperation } from './operation-budget';
import { Label, secretIo } from './secret-io';
import { createSecretsManagerStore } from './secrets-manager-store';

type AwsLocation = SecretLocationOf<'aws-secrets-manager'>;

/** AWS Secrets Manager: AWSCURRENT is what apps read, AWSPENDING the replacement (AWS's rotation model). */
export const awsSecretsManagerBackend: SecretBackend<'aws-secrets-manager'> = {
  kind: 'aws-secrets-manager',
  connect(ctx) {
    const settings = awsSettings(ctx.env);
    const clients = new Map<string, SecretsManagerClient>();
    const clientFor = (l: AwsLocation): SecretsManagerClient => {
      const key = JSON.stringify([l.region, l.endpoint ?? null]);
      let client = clients.get(key);
      if (!client) {
        client = createSecretsManagerClient(l, settings);
        clients.set(key, client);
      }
      return client;
    };
    return {
      open: (location) =>
        createSecretsManagerStore({
          client: clientFor(location),
          location,
          ...(ctx.logger ? { logger: ctx.logger } : {}),
        }),
      async readValue(location, name) {
        const cancellation = currentActivitySignal();
        const op = startOperation({
          deadlineMs: OPERATION_DEADLINE_MS,
          ...(cancellation ? { cancellation } : {}),
        });
        const io = secretIo({
          client: clientFor(location),
          secretId: name,
          store: storeLabel(location),
          log: ctx.logger ?? { info: () => undefined, warn: () => undefined },
        });
        // By label: moto 5.2.5 answers a read without a stage with the version first written.
        return (await io.value(op, { stage: Label.current })).value;
      },
    };
  },
};
