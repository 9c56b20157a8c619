export { ConfigError, loadSettings, settingsSchema, type Settings } from './settings';
export {
  credentialEntrySchema,
  loadRegistry,
  parseRegistry,
  RegistryError,
  toCredentialRef,
  type CredentialEntry,
} from './registry';
export { type ScheduleConfig, type ExpiryConfig } from './registry';
