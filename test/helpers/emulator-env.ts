// The environment test workers give secret backends: the reference Key Vault in emulator mode (a no-op
// credential, refused for real Azure hosts), plus whatever the harness exported (OpenBao token, moto URL).
export const EMULATOR_ENV: NodeJS.ProcessEnv = { ...process.env, REKEY_AZURE_KEYVAULT_EMULATOR: 'true' };
