// The azure-key-vault backend's settings and session wiring, without a vault: what it reads from the
// environment, when it refuses, and that it keeps one SecretClient per vault.
import type { SecretClient } from '@azure/keyvault-secrets';
import {
  azureKeyVaultBackend,
  azureKeyVaultSettings,
  connectAzureKeyVault,
  VaultFailureTypes,
} from '../../activities/secrets/azure-key-vault';
import type { SecretLocationOf } from '../../domain/secrets';

const location = (vaultUrl: string, secretName = 'gw-key'): SecretLocationOf<'azure-key-vault'> => ({
  backend: 'azure-key-vault',
  vaultUrl,
  secretName,
  pendingSecretName: `${secretName}-pending`,
});

describe('the azure-key-vault backend', () => {
  it('is off emulator mode unless REKEY_AZURE_KEYVAULT_EMULATOR says true or 1', () => {
    expect(azureKeyVaultSettings({})).toEqual({ emulator: false });
    expect(azureKeyVaultSettings({ REKEY_AZURE_KEYVAULT_EMULATOR: '' })).toEqual({ emulator: false });
    for (const [raw, emulator] of [
      ['true', true],
      ['1', true],
      ['false', false],
      ['0', false],
    ] as const)
      expect(azureKeyVaultSettings({ REKEY_AZURE_KEYVAULT_EMULATOR: raw })).toEqual({ emulator });
  });

  it('still reads the deprecated REKEY_KEYVAULT_EMULATOR, and says so in the log', () => {
    expect(azureKeyVaultSettings({ REKEY_KEYVAULT_EMULATOR: '1' })).toEqual({
      emulator: true,
      deprecatedVariable: 'REKEY_KEYVAULT_EMULATOR',
    });
    // The new name wins when both agree; nothing deprecated is reported then.
    expect(
      azureKeyVaultSettings({ REKEY_AZURE_KEYVAULT_EMULATOR: 'true', REKEY_KEYVAULT_EMULATOR: '1' }),
    ).toEqual({ emulator: true });
    const warnings: Array<Record<string, unknown>> = [];
    connectAzureKeyVault({
      env: { REKEY_KEYVAULT_EMULATOR: 'true' },
      logger: { info: () => undefined, warn: (fields) => void warnings.push(fields) },
    });
    expect(warnings).toEqual([{ variable: 'REKEY_KEYVAULT_EMULATOR', use: 'REKEY_AZURE_KEYVAULT_EMULATOR' }]);
  });

  it('fails at connect, naming the variable, on a value it cannot read or two names that disagree', () => {
    expect(() => azureKeyVaultBackend.connect({ env: { REKEY_AZURE_KEYVAULT_EMULATOR: 'yes' } })).toThrow(
      /REKEY_AZURE_KEYVAULT_EMULATOR must be true, false, 1 or 0/,
    );
    expect(() => azureKeyVaultBackend.connect({ env: { REKEY_KEYVAULT_EMULATOR: 'TRUE' } })).toThrow(
      /REKEY_KEYVAULT_EMULATOR must be/,
    );
    expect(() =>
      azureKeyVaultSettings({ REKEY_AZURE_KEYVAULT_EMULATOR: 'false', REKEY_KEYVAULT_EMULATOR: '1' }),
    ).toThrow(/disagree: set only REKEY_AZURE_KEYVAULT_EMULATOR/);
  });

  it('refuses emulator mode for a real Azure vault host when a store on it is opened', async () => {
    const session = azureKeyVaultBackend.connect({ env: { REKEY_AZURE_KEYVAULT_EMULATOR: 'true' } });
    expect(() => session.open(location('https://contoso.vault.azure.net'))).toThrow(
      /emulator mode is refused for contoso\.vault\.azure\.net/,
    );
    // A configuration mistake: the activity must not retry it for minutes.
    let refused: unknown;
    try {
      session.open(location('https://contoso.vault.azure.net'));
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ type: 'EmulatorModeRefused', nonRetryable: true });
    await expect(session.readValue(location('https://contoso.vault.azure.cn'), 'admin')).rejects.toThrow(
      /emulator mode is refused/,
    );
  });

  it('keeps one SecretClient per vault URL across the stores and reads it opens', () => {
    const made: string[] = [];
    const session = connectAzureKeyVault(
      { env: {} },
      {
        secretClientFor: (vaultUrl) => {
          made.push(vaultUrl);
          return {} as SecretClient;
        },
      },
    );
    session.open(location('https://a.example.test'));
    session.open(location('https://a.example.test/', 'other-key'));
    session.open(location('https://b.example.test'));
    expect(made).toEqual(['https://a.example.test', 'https://b.example.test']);
  });

  it('refuses a location whose pending name is its stable name in another letter case', () => {
    const session = connectAzureKeyVault({ env: {} }, { secretClientFor: () => ({}) as SecretClient });
    let thrown: unknown;
    try {
      session.open({ ...location('https://a.example.test'), pendingSecretName: 'GW-KEY' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ type: VaultFailureTypes.SecretNamesCollide, nonRetryable: true });
  });
});
