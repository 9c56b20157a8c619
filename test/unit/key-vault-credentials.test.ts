import { DefaultAzureCredential } from '@azure/identity';
import { RestError } from '@azure/keyvault-secrets';
import { ApplicationFailure } from '@temporalio/common';
import {
  createSecretClient,
  isAzureVaultHost,
  keyVaultCredential,
  vaultFailure,
  VaultFailureTypes,
  WRITE_OUTCOME_UNKNOWN,
  writeOncePolicy,
} from '../../activities/secrets';
import { FailureTypes } from '../../domain/failure-types';

describe('Key Vault credentials', () => {
  it.each([
    'https://contoso.vault.azure.net',
    'https://CONTOSO.Vault.Azure.Net/',
    'https://contoso.vault.azure.cn',
    'https://contoso.vault.usgovcloudapi.net',
    'https://contoso.vault.microsoftazure.de',
    'https://contoso.managedhsm.azure.net',
    'https://contoso.vault.azure.net.:443',
  ])('refuses emulator mode for the real Azure vault host %s', (url) => {
    expect(isAzureVaultHost(url)).toBe(true);
    expect(() => keyVaultCredential(url, { emulator: true })).toThrow(/emulator mode is refused/);
    expect(() => createSecretClient(url, { emulator: true })).toThrow(/emulator mode is refused/);
  });

  it('gives emulators a no-op token and turns off only the challenge resource check', async () => {
    const chosen = keyVaultCredential('https://localhost:8443', { emulator: true });
    expect(chosen.emulator).toBe(true);
    expect(chosen.disableChallengeResourceVerification).toBe(true);
    expect((await chosen.credential.getToken('https://vault.azure.net/.default'))?.token).toBeTruthy();
  });

  it('uses DefaultAzureCredential with the challenge resource check outside emulator mode', () => {
    const chosen = keyVaultCredential('https://contoso.vault.azure.net', { emulator: false });
    expect(chosen.credential).toBeInstanceOf(DefaultAzureCredential);
    expect(chosen.disableChallengeResourceVerification).toBe(false);
  });

  it('does not mistake a look-alike host for an Azure vault', () => {
    expect(isAzureVaultHost('https://vault.azure.net.example.com')).toBe(false);
    expect(isAzureVaultHost('https://localhost:8443')).toBe(false);
  });
});

describe('Key Vault error mapping', () => {
  const ctx = { vaultUrl: 'https://kv.example', secretName: 'gateway-key', operation: 'read' };
  const restError = (
    statusCode: number,
    code: string,
    inner?: string,
    headers: Record<string, string> = {},
  ) => {
    const err = new RestError('service said no', {
      statusCode,
      code,
      response: {
        status: statusCode,
        headers: { get: (n: string) => headers[n.toLowerCase()] } as never,
        request: {} as never,
      },
    });
    err.details = {
      error: { code, message: 'service said no', ...(inner ? { innerError: { code: inner } } : {}) },
    };
    return err;
  };

  it('makes a missing secret, a disabled version and a refused identity non-retryable, naming vault and secret', () => {
    const cases: [RestError, string][] = [
      [restError(404, 'SecretNotFound'), FailureTypes.SecretNotFound],
      [restError(403, 'Forbidden', 'SecretDisabled'), FailureTypes.SecretDisabled],
      [restError(403, 'Forbidden', 'AccessDenied'), FailureTypes.VaultForbidden],
      [restError(401, 'Unauthorized'), FailureTypes.VaultForbidden],
    ];
    for (const [err, type] of cases) {
      const failure = vaultFailure(err, ctx);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure.type).toBe(type);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toContain('https://kv.example');
      expect(failure.message).toContain('gateway-key');
    }
  });

  it('retries throttling and 5xx, honouring Retry-After', () => {
    const throttled = vaultFailure(restError(429, 'Throttled', undefined, { 'retry-after': '7' }), ctx);
    expect(throttled.nonRetryable).toBe(false);
    expect(throttled.message).toContain('Retry-After 7s');
    expect(throttled.nextRetryDelay).toBe('7s');
    expect(vaultFailure(restError(503, 'ServiceUnavailable'), ctx).nonRetryable).toBe(false);
    const refused = vaultFailure(new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' }), ctx);
    expect(refused.type).toBe(VaultFailureTypes.VaultUnavailable);
    expect(refused.nonRetryable).toBe(false);
  });

  it('names NODE_EXTRA_CA_CERTS when the certificate is not trusted, and does not retry', () => {
    const failure = vaultFailure(new RestError('self-signed', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), ctx);
    expect(failure.type).toBe(VaultFailureTypes.VaultTlsUntrusted);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('NODE_EXTRA_CA_CERTS');
  });
});

describe('the write-once guard on Set Secret', () => {
  type Policy = ReturnType<typeof writeOncePolicy>;
  type Request = Parameters<Policy['sendRequest']>[0];
  type Next = Parameters<Policy['sendRequest']>[1];
  const request = (method: string) => ({ method, url: 'https://kv.example/secrets/gateway-key' }) as Request;
  const failing =
    (code: string): Next =>
    () =>
      Promise.reject(new RestError('failed', { code }));
  const ok: Next = (req) => Promise.resolve({ status: 200, headers: {} as never, request: req });

  it('stops the SDK from resending a write whose first attempt may have reached the vault', async () => {
    const policy = writeOncePolicy();
    const put = request('PUT');
    await expect(policy.sendRequest(put, failing('ECONNRESET'))).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    await expect(policy.sendRequest(put, ok)).rejects.toMatchObject({ code: WRITE_OUTCOME_UNKNOWN });
  });

  it('lets the SDK resend a write that never reached the vault, and any read', async () => {
    const policy = writeOncePolicy();
    const put = request('PUT');
    await expect(policy.sendRequest(put, failing('ECONNREFUSED'))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await expect(policy.sendRequest(put, ok)).resolves.toMatchObject({ status: 200 });
    const get = request('GET');
    await expect(policy.sendRequest(get, failing('ECONNRESET'))).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    await expect(policy.sendRequest(get, ok)).resolves.toMatchObject({ status: 200 });
  });
});
