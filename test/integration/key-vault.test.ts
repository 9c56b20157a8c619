import { randomBytes } from 'node:crypto';
import { SecretClient } from '@azure/keyvault-secrets';
import type { AccessToken, TokenCredential } from '@azure/core-auth';

// Lowkey Vault accepts any bearer token; a no-op credential is for the local emulator only.
const emulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'emulator', expiresOnTimestamp: Date.now() + 3600_000 }),
};

const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
const describeVault = unavailable ? describe.skip : describe;
if (unavailable) console.warn(`Key Vault proof skipped: ${unavailable}`);

describeVault('Lowkey Vault over verified TLS', () => {
  it('keeps two versions of a secret and reads both back by version id', async () => {
    const url = process.env.AZURE_KEYVAULT_URL;
    if (!url) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    const client = new SecretClient(url, emulatorCredential, { disableChallengeResourceVerification: true });
    const name = `proof-${randomBytes(4).toString('hex')}`;
    const first = `value-${randomBytes(8).toString('hex')}`;
    const second = `value-${randomBytes(8).toString('hex')}`;
    const v1 = await client.setSecret(name, first);
    const v2 = await client.setSecret(name, second);
    expect(v1.properties.version).not.toEqual(v2.properties.version);
    expect((await client.getSecret(name, { version: v1.properties.version })).value).toBe(first);
    expect((await client.getSecret(name, { version: v2.properties.version })).value).toBe(second);
    expect((await client.getSecret(name)).value).toBe(second);
  });
});
