import { randomBytes } from 'node:crypto';
import { SecretClient, type SecretProperties } from '@azure/keyvault-secrets';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { applyNodeExtraCaCerts } from '../../scripts/local-stack';

// The reference Key Vault accepts any bearer token; a no-op credential is for local
// emulators only.
const emulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'emulator', expiresOnTimestamp: Date.now() + 3600_000 }),
};

// The harness always starts at least the reference Key Vault: no vault is a failure, never a skip.
const unavailable = process.env.REKEY_TEST_KEYVAULT_UNAVAILABLE;
const kind = process.env.REKEY_TEST_KEYVAULT_KIND ?? 'none';

describe(`the Key Vault emulator (${kind}) over verified TLS`, () => {
  let url: string;
  let client: SecretClient;
  const name = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
  const value = () => `value-${randomBytes(8).toString('hex')}`;

  beforeAll(() => {
    if (unavailable) throw new Error(`no Key Vault emulator could start: ${unavailable}`);
    applyNodeExtraCaCerts();
    url = process.env.AZURE_KEYVAULT_URL ?? '';
    if (!url) throw new Error('AZURE_KEYVAULT_URL is not set by the harness');
    client = new SecretClient(url, emulatorCredential, { disableChallengeResourceVerification: true });
  });

  it('keeps two versions of a secret and reads both back by version id', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    const secret = name('proof');
    const [first, second] = [value(), value()];
    const v1 = await client.setSecret(secret, first);
    const v2 = await client.setSecret(secret, second);
    expect(v1.properties.version).not.toEqual(v2.properties.version);
    expect((await client.getSecret(secret, { version: v1.properties.version })).value).toBe(first);
    expect((await client.getSecret(secret, { version: v2.properties.version })).value).toBe(second);
    expect((await client.getSecret(secret)).value).toBe(second);
  });

  it('refuses to read a disabled version with 403 SecretDisabled, as Key Vault does', async () => {
    const secret = name('disabled');
    const v = await client.setSecret(secret, value());
    await client.updateSecretProperties(secret, v.properties.version ?? '', { enabled: false });
    await expect(client.getSecret(secret)).rejects.toMatchObject({
      statusCode: 403,
      details: { error: { innerError: { code: 'SecretDisabled' } } },
    });
  });

  it('pages the versions of a secret through nextLink and keeps tags per version', async () => {
    const secret = name('paged');
    const written: string[] = [];
    for (let i = 0; i < 5; i++)
      written.push(
        (await client.setSecret(secret, value(), { tags: { n: String(i) } })).properties.version ?? '',
      );
    const pages: SecretProperties[][] = [];
    for await (const page of client.listPropertiesOfSecretVersions(secret).byPage({ maxPageSize: 2 }))
      pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const listed = pages.flat();
    expect(listed.map((p) => p.version).sort()).toEqual([...written].sort());
    for (const p of listed) expect(p.tags?.n).toBe(String(written.indexOf(p.version ?? '')));
  });

  it('keeps a soft-deleted name taken until it is recovered or purged', async () => {
    const secret = name('deleted');
    const kept = value();
    await client.setSecret(secret, kept);
    const deleted = await (await client.beginDeleteSecret(secret)).pollUntilDone();
    expect(deleted.recoveryId).toMatch(new RegExp(`/deletedsecrets/${secret}$`));
    expect(deleted.scheduledPurgeDate!.getTime()).toBeGreaterThan(Date.now());
    await expect(client.setSecret(secret, value())).rejects.toMatchObject({ statusCode: 409 });
    await (await client.beginRecoverDeletedSecret(secret)).pollUntilDone();
    expect((await client.getSecret(secret)).value).toBe(kept);
    await (await client.beginDeleteSecret(secret)).pollUntilDone();
    await client.purgeDeletedSecret(secret);
    await expect(client.getDeletedSecret(secret)).rejects.toMatchObject({ statusCode: 404 });
    await client.setSecret(secret, value());
  });

  (kind === 'reference' ? it : it.skip)(
    'answers a request without a token with the Key Vault challenge',
    async () => {
      const res = await fetch(`${url}/secrets/anything?api-version=2025-07-01`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer authorization="https:\/\/login\.microsoftonline\.com\/[0-9a-f-]+", resource="https:\/\/vault\.azure\.net"$/,
      );
      expect(await res.json()).toMatchObject({ error: { code: 'Unauthorized' } });
    },
  );
});
