// The Azure Key Vault backend for the shared SecretStore contract, on the reference Key Vault global setup
// started (HTTPS, its certificate trusted through NODE_EXTRA_CA_CERTS). Secrets are written, read and broken
// the way a platform team and an app would: a plain SecretClient, outside rekey's client and its policies.
import { randomBytes } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { SecretClient } from '@azure/keyvault-secrets';
import { connectAzureKeyVault } from '../../activities/secrets/azure-key-vault';
import type { SecretLocationOf } from '../../domain/secrets';
import { EMULATOR_ENV } from '../helpers/emulator-env';
import type { ContractBackend } from './backend';

// Emulators take any bearer token and cannot answer the challenge with a *.vault.azure.net resource.
const anyToken: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'contract', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** The harness's Key Vault URL, or a failure naming why global setup could not start it. */
export function referenceKeyVaultUrl(): string {
  const url = process.env.AZURE_KEYVAULT_URL;
  if (!url)
    throw new Error(
      `the reference Key Vault is not running: ${process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE ?? 'global setup did not start it'}`,
    );
  return url;
}

const clients = new Map<string, SecretClient>();
/** A platform team's (or an app's) client of the vault: not rekey's. */
function outsider(): SecretClient {
  const url = referenceKeyVaultUrl();
  let client = clients.get(url);
  if (!client) {
    client = new SecretClient(url, anyToken, { disableChallengeResourceVerification: true });
    clients.set(url, client);
  }
  return client;
}

/** What an app reads: the newest version of `name`; undefined when it is missing, deleted or disabled. */
export async function appReadKeyVault(name: string): Promise<string | undefined> {
  try {
    return (await outsider().getSecret(name)).value;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 403) return undefined;
    // A failed read carries no value; the message names the status only.
    throw new Error(`an app's read of ${name} failed (${status ?? (err as Error).name})`, { cause: err });
  }
}

export const azureKeyVaultContract: ContractBackend<'azure-key-vault'> = {
  kind: 'azure-key-vault',
  serverUrl: referenceKeyVaultUrl,
  async fresh(initial, opts = {}) {
    const admin = outsider();
    const secretName = `contract-${randomBytes(6).toString('hex')}`;
    // A platform team's secret: a content type and a tag of its own, which rekey carries forward.
    await admin.setSecret(secretName, initial, {
      contentType: 'application/x-api-key',
      tags: { owner: 'team-contract' },
    });
    const location: SecretLocationOf<'azure-key-vault'> = {
      backend: 'azure-key-vault',
      vaultUrl: opts.serverUrl ?? referenceKeyVaultUrl(),
      secretName,
      pendingSecretName: `${secretName}-pending`,
    };
    return {
      location,
      // Settle waits shortened for tests; everything else as the worker runs it (emulator mode aside).
      session: connectAzureKeyVault(
        { env: EMULATOR_ENV, ...(opts.logger ? { logger: opts.logger } : {}) },
        { settle: { attempts: 10, intervalMs: 200 } },
      ),
      appRead: () => appReadKeyVault(secretName),
      async breakStable(how) {
        if (how === 'disabled') {
          const newest = await admin.getSecret(secretName);
          await admin.updateSecretProperties(secretName, newest.properties.version ?? '', { enabled: false });
          return;
        }
        await (await admin.beginDeleteSecret(secretName, { intervalInMs: 100 })).pollUntilDone();
        await admin.purgeDeletedSecret(secretName);
      },
      async putOther(value) {
        const name = `contract-other-${randomBytes(6).toString('hex')}`;
        await admin.setSecret(name, value);
        return name;
      },
    };
  },
};
