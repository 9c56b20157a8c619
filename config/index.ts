export { ConfigError, loadSettings, settingsSchema, type Settings } from './settings';
