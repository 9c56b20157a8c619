// main.ts's settings: drills from the environment, and no listening beyond loopback unless asked.
import { isLoopbackHost, keyVaultOptionsFromEnv, parseFaults } from '../../simulator/key-vault';

describe('the reference Key Vault settings', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1'])(
    'treats %s as loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each(['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'vault.example.com', 'localhost.example.com'])(
    'refuses to listen on %s without REKEY_KEYVAULT_ALLOW_REMOTE=1',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => keyVaultOptionsFromEnv({ REKEY_KEYVAULT_HOST: host })).toThrow(
        /not a loopback address.*ALLOW_REMOTE/,
      );
      expect(
        keyVaultOptionsFromEnv({ REKEY_KEYVAULT_HOST: host, REKEY_KEYVAULT_ALLOW_REMOTE: '1' }).host,
      ).toBe(host);
    },
  );

  it('reads the drills: latency, asynchronous operations, faults and the expiry policy', () => {
    const { port, host, options } = keyVaultOptionsFromEnv({
      REKEY_KEYVAULT_PORT: '9443',
      REKEY_KEYVAULT_LATENCY_MS: '250',
      REKEY_KEYVAULT_OPERATION_DELAY_MS: '3000',
      REKEY_KEYVAULT_FAULTS: '429x3@2, 503x1:put',
      REKEY_KEYVAULT_REQUIRE_SECRET_EXPIRY: '1',
    });
    expect([port, host]).toEqual([9443, 'localhost']);
    expect(options).toMatchObject({
      latencyMs: 250,
      operationDelayMs: 3000,
      faults: [
        { status: 429, count: 3, retryAfterSeconds: 2 },
        { status: 503, count: 1, methods: ['PUT'] },
      ],
      policy: { requireExpiry: true },
    });
    expect(keyVaultOptionsFromEnv({}).options).toEqual({ purgeProtection: false, retentionDays: 90 });
  });

  it('rejects settings it cannot read, naming the variable', () => {
    expect(() => parseFaults('500x2')).toThrow(/REKEY_KEYVAULT_FAULTS/);
    expect(() => keyVaultOptionsFromEnv({ REKEY_KEYVAULT_LATENCY_MS: '-1' })).toThrow(
      /REKEY_KEYVAULT_LATENCY_MS/,
    );
    expect(() => keyVaultOptionsFromEnv({ REKEY_KEYVAULT_PORT: 'x' })).toThrow(/REKEY_KEYVAULT_PORT/);
  });
});
