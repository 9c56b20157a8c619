// The contract of one secret backend (one folder under activities/secrets/): how it opens the store of a
// credential's secret, and how it reads one other secret of the same store (gateway admin keys). The
// SECRET_STORES registry (registry.ts) keys one of these by backend kind, like ADMIN_ADAPTERS.
import type { SecretBackendKind, SecretLocationOf } from '../../domain/secrets';
import type { SecretStore } from '../../domain/ports';

/** What the stores log through: pino's `info(obj, msg)` shape. Fields never include a value. */
export interface SecretStoreLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** The logger of a store given none: stores log only ids, stages and fingerprints, here nowhere. */
export const SILENT_LOGGER: SecretStoreLogger = { info: () => undefined, warn: () => undefined };

/** What every backend gets from the worker (or the API's hand-off, or a test). */
export interface SecretBackendContext {
  /** The process environment the backend reads its own settings from (token files, emulator flags). */
  env: NodeJS.ProcessEnv;
  /** Where stores log what they wrote, reused and left alone (never a value); silent without one. */
  logger?: SecretStoreLogger;
}

/** One backend: a factory of stores over locations of its kind. */
export interface SecretBackend<K extends SecretBackendKind> {
  readonly kind: K;
  /**
   * A factory bound to the context: reuses its clients (one per vault, address or region) across the
   * stores it opens. Reading settings here fails fast, with a message naming the variable, at worker start.
   */
  connect(ctx: SecretBackendContext): SecretBackendSession<K>;
}

export interface SecretBackendSession<K extends SecretBackendKind> {
  /** The store of one credential's stable and pending secret. */
  open(location: SecretLocationOf<K>): SecretStore;
  /**
   * In-process only: the current value of another secret in the same store as `location` (a Key Vault
   * secret name, a KV v2 path below the same mount, a Secrets Manager secret id). Gateway admin keys.
   */
  readValue(location: SecretLocationOf<K>, name: string): Promise<string>;
}
