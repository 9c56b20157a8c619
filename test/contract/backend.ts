// What the shared SecretStore contract suite (secret-store.contract.ts) needs from each backend: fresh
// secrets on its real local server, an app-like reader, and ways to break a secret the way an operator
// could. One file per backend (azure-key-vault.ts, hashicorp-vault.ts, aws-secrets-manager.ts) exports one.
import type { SecretBackendKind, SecretLocationOf } from '../../domain/secrets';
import type { SecretBackendSession, SecretStoreLogger } from '../../activities/secrets/backend';

export interface ContractFixture<K extends SecretBackendKind> {
  location: SecretLocationOf<K>;
  /** The session the store is opened from (store = session.open(location)). */
  session: SecretBackendSession<K>;
  /** What an app reads right now the way apps of this backend do; undefined when nothing is readable. */
  appRead(): Promise<string | undefined>;
  /** Makes the stable secret missing, or unreadable the backend's way (disabled / deleted version). */
  breakStable(how: 'missing' | 'disabled'): Promise<void>;
  /** Writes a value into another secret of the same store, outside rekey (an admin key); returns its name. */
  putOther(value: string): Promise<string>;
}

export interface ContractBackend<K extends SecretBackendKind> {
  kind: K;
  /**
   * A new, uniquely named secret holding `initial` as what apps read, written the way a platform team
   * would (outside rekey). `serverUrl`, when given, replaces the server's URL in the location (the suite
   * puts a cuttable TCP proxy in front to simulate an outage). `logger` receives the session's logs.
   */
  fresh(
    initial: string,
    opts?: { serverUrl?: string; logger?: SecretStoreLogger },
  ): Promise<ContractFixture<K>>;
  /** The real server's base URL (https://127.0.0.1:port, http://127.0.0.1:8200, …). */
  serverUrl(): string;
}
