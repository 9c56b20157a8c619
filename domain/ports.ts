// Ports the activities are built on. Adapters implement them (secrets/azure-key-vault, gateway/litellm,
// gateway/openrouter, telemetry/prometheus, …); worker.ts wires real ones, integration tests point real
// ones at local servers. Methods that take or return a key value are in-process only and never leave
// an activity.
import type { Route } from './policy';
import type {
  AdminAdapterKind,
  AttributionReport,
  CanaryReport,
  ConsumerUsage,
  CredentialRef,
  EvidenceRecord,
  Fingerprint,
  KeyScope,
  NotifyEvent,
  SecretVersionRecord,
  SecretVersionRef,
  TelemetrySource,
  WindowMetrics,
} from './activity-io';
import type { CredentialAutomation } from './automation';

/** Where a credential lives and how it is managed, from the platform team's registry. */
export interface CredentialRegistry {
  lookup(name: string, environment: string): CredentialRef | undefined;
  names(): string[];
  /** Every credential as automation (schedules, expiry, leak alerts, fleets) sees it; absent: none. */
  automations?(): CredentialAutomation[];
}

/** Secret versions of one credential in one vault (stable path + pending secret). */
export interface SecretStore {
  readCurrent(): Promise<SecretVersionRef>;
  readPending(rotationId: string): Promise<SecretVersionRef | undefined>;
  /** In-process only: the value of a version, for probes and copies inside an activity. */
  resolve(ref: Pick<SecretVersionRef, 'name' | 'version'>): Promise<string>;
  /** In-process only: writes a replacement key as the pending secret, tagged with the rotation id. */
  stagePending(rotationId: string, value: string, gatewayKeyId?: string): Promise<SecretVersionRef>;
  /**
   * The pending version `expected` (and only it: same version id and fingerprint, else
   * StagedKeyMismatch) becomes the newest version of the stable path; idempotent per rotation.
   */
  promote(
    rotationId: string,
    expected: { version: string; fingerprint: Fingerprint },
  ): Promise<{ current: SecretVersionRef; previous: SecretVersionRef }>;
  rollback(rotationId: string): Promise<{ restored?: SecretVersionRef; disabled?: SecretVersionRef }>;
  retirePrevious(rotationId: string): Promise<SecretVersionRef | undefined>;
  discardPending(rotationId: string): Promise<void>;
  /** Every version of the stable and pending secret with tags and times, oldest first; no values. */
  history(): Promise<SecretVersionRecord[]>;
}

/** A gateway's key admin API (one adapter per gateway kind, see activities/gateway/admin-registry.ts). */
export interface GatewayAdmin {
  readonly kind: AdminAdapterKind;
  /** The gateway's id and scope of a key, looked up by its value; undefined when unknown. */
  describeKey(value: string): Promise<{ keyId: string; scope: KeyScope } | undefined>;
  /** The key this rotation issued, found by the rotation tag rekey puts on it. */
  findIssued(rotationId: string): Promise<{ keyId: string; scope: KeyScope } | undefined>;
  /** Creates a key with this scope, tagged with the rotation id. */
  createKey(rotationId: string, scope: KeyScope): Promise<{ keyId: string; value: string }>;
  /**
   * Whether the gateway can disable a key reversibly. Where it cannot, revocation is a delete with no
   * way back, and the evidence says so.
   */
  readonly canDisable: boolean;
  /** Reversible: the key stops working but can be re-enabled. */
  disableKey(keyId: string): Promise<'disabled' | 'already-gone'>;
  /** Undoes disableKey; a key that is gone cannot come back. */
  enableKey(keyId: string): Promise<'enabled' | 'already-gone'>;
  /**
   * Whether the gateway logged a request with this id (the ticket's pre-check canary request id);
   * undefined where the adapter cannot look requests up.
   */
  findRequest?(requestId: string): Promise<boolean>;
  /** Irreversible; an unknown key counts as done. */
  deleteKey(keyId: string): Promise<'deleted' | 'already-gone'>;
}

/** Calls through the gateway's OpenAI-compatible API with a given key. */
export interface GatewayProbe {
  canary(baseUrl: string, key: string, routes: Route[]): Promise<CanaryReport>;
  /** One cheap authenticated call; returns the HTTP status. */
  status(baseUrl: string, key: string): Promise<number>;
}

/** Which key telemetry is asked about: its fingerprint and, for automated gateways, the gateway's id. */
export interface TelemetryKey {
  fingerprint: Fingerprint;
  gatewayKeyId?: string;
}

/** Per-key traffic figures (Prometheus or the gateway's usage API). */
export interface Telemetry {
  /** The source's name and which per-key signals it can observe for this credential. */
  source(credential: CredentialRef): TelemetrySource;
  window(credential: CredentialRef, key: TelemetryKey, fromMs: number, toMs: number): Promise<WindowMetrics>;
  usageByConsumer(
    credential: CredentialRef,
    key: TelemetryKey,
    fromMs: number,
    toMs: number,
  ): Promise<ConsumerUsage[]>;
  attribution(
    credential: CredentialRef,
    key: TelemetryKey,
    expectedOwner: string,
  ): Promise<AttributionReport>;
}

/** One archived bundle as stored: its place in the hash chain and the bundle as written. */
export interface StoredEvidence {
  rotationId: string;
  previousSha256: string | null;
  writtenAt: string;
  bundle: unknown;
}

/** Reads bundles back (API, CLI, `verify`). */
export interface EvidenceReader {
  read(rotationId: string): Promise<{ record: EvidenceRecord; document: StoredEvidence } | undefined>;
  /** Rotation ids of every link, oldest first. */
  list(): Promise<string[]>;
  /** Walks the whole chain; `problems` is empty when every link and every file checks out. */
  verify(): Promise<{ links: number; problems: string[] }>;
}

export interface EvidenceStore {
  write(rotationId: string, bundle: unknown): Promise<EvidenceRecord>;
}

export interface Notifier {
  notify(event: {
    rotationId: string;
    event: NotifyEvent;
    phase: string;
    message: string;
    webhookUrl?: string;
    /** Same for every retry of one event, so the receiver can drop duplicates. */
    deliveryId?: string;
  }): Promise<void>;
}
