// The reference Key Vault's state: secrets with their versions, soft-deleted secrets, and the rules of
// the Azure Key Vault secrets API (names are case-insensitive, a set adds a version, a delete is soft,
// a deleted name cannot be reused until recovered or purged). Like the service, delete, purge and recover
// can finish asynchronously (`operationDelayMs`): meanwhile the name answers 409 (ObjectIsBeingDeleted,
// ObjectIsBeingRecovered) to a set, and neither Get Secret nor Get Deleted Secret finds it. Optionally
// persisted to a JSON file so a restarted emulator keeps its secrets. That file holds secret VALUES in
// clear: dev and CI only.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { KeyVaultError } from './errors';

/** One version of a secret as the emulator stores it; times are epoch seconds, as the service sends them. */
export interface StoredVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

/** A delete, purge or recover the service has accepted but not finished (epoch ms when it will). */
export interface PendingTransition {
  kind: 'deleting' | 'purging' | 'recovering';
  until: number;
}

/** A secret: its versions in creation order (the last is the latest) and, when soft-deleted, when. */
export interface StoredSecret {
  name: string;
  versions: StoredVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
  /** Set while a delete, purge or recover is still in progress (only with `operationDelayMs`). */
  transition?: PendingTransition;
}

/** Attributes a set or an update may carry (epoch seconds). */
export interface AttributeInput {
  enabled?: boolean;
  nbf?: number | null;
  exp?: number | null;
}

export interface KeyVaultStateOptions {
  /** JSON file the state is loaded from and saved to after each change; none keeps it in memory only. */
  stateFile?: string;
  /** Soft-delete retention in days (7–90); 90 gives the service default recovery level. */
  retentionDays?: number;
  /** With purge protection a deleted secret cannot be purged, only recovered or left to expire. */
  purgeProtection?: boolean;
  /** Epoch milliseconds; tests inject a clock. */
  now?: () => number;
  /**
   * How long a delete, purge or recover takes to finish after the service accepted it (0: at once).
   * The real service finishes them asynchronously, usually within seconds.
   */
  operationDelayMs?: number;
  /**
   * Azure Policy as the vault's scope may assign it, enforced with the service's 403 ForbiddenByPolicy:
   * `requireExpiry` is the built-in "Key Vault secrets should have an expiration date" with a deny effect.
   */
  policy?: { requireExpiry?: boolean };
}

/** The service's name rule for secrets: 1–127 letters, digits and dashes. */
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_TAGS = 15;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;
const MAX_VALUE_BYTES = 25 * 1024;

interface PersistedState {
  format: 'rekey-reference-key-vault/1';
  secrets: StoredSecret[];
}

export class KeyVaultState {
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly nowMs: () => number;
  readonly retentionDays: number;
  readonly purgeProtection: boolean;
  readonly operationDelayMs: number;
  /** The vault's Azure Policy; tests switch it on after seeding. */
  policy: { requireExpiry?: boolean };

  constructor(private readonly opts: KeyVaultStateOptions = {}) {
    this.nowMs = opts.now ?? Date.now;
    this.retentionDays = opts.retentionDays ?? 90;
    this.purgeProtection = opts.purgeProtection ?? false;
    this.operationDelayMs = opts.operationDelayMs ?? 0;
    this.policy = { ...opts.policy };
    if (!Number.isFinite(this.operationDelayMs) || this.operationDelayMs < 0)
      throw new Error(`operationDelayMs must be 0 or more, got ${this.operationDelayMs}`);
    if (this.retentionDays < 7 || this.retentionDays > 90)
      throw new Error(`retentionDays must be 7–90, got ${this.retentionDays}`);
    if (opts.stateFile && existsSync(opts.stateFile)) this.load(opts.stateFile);
  }

  /** The recovery level the service reports for this vault's soft-delete and purge settings. */
  get recoveryLevel(): string {
    const custom = this.retentionDays < 90 ? 'Customized' : '';
    return this.purgeProtection ? `${custom}Recoverable` : `${custom}Recoverable+Purgeable`;
  }

  private nowS(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  /** Secrets not deleted, in name order. */
  active(): StoredSecret[] {
    return [...this.secrets.values()].filter((s) => !s.deleted).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Soft-deleted secrets (deletion finished), in name order. */
  deleted(): StoredSecret[] {
    return [...this.secrets.values()]
      .filter((s) => s.deleted && !s.transition)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** An active secret, or SecretNotFound as the service words it. */
  get(name: string): StoredSecret {
    const secret = this.secrets.get(name.toLowerCase());
    if (!secret || secret.deleted) throw notFound(name);
    return secret;
  }

  /** One version of an active secret; `undefined` or empty means the latest. */
  version(name: string, version?: string): { secret: StoredSecret; version: StoredVersion } {
    const secret = this.get(name);
    const found = version
      ? secret.versions.find((v) => v.version === version.toLowerCase())
      : secret.versions.at(-1);
    if (!found) throw notFound(version ? `${name}/${version}` : name);
    return { secret, version: found };
  }

  /** Set Secret: a new version, which becomes the latest. */
  set(
    name: string,
    input: {
      value: string;
      contentType?: string;
      tags?: Record<string, string>;
      attributes?: AttributeInput;
    },
  ): { secret: StoredSecret; version: StoredVersion } {
    validateName(name);
    if (Buffer.byteLength(input.value, 'utf8') > MAX_VALUE_BYTES)
      throw new KeyVaultError(400, 'BadParameter', 'The secret value exceeds the maximum size of 25 KB.');
    validateTags(input.tags);
    if (this.policy.requireExpiry && typeof input.attributes?.exp !== 'number')
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation 'secrets/setSecret' on ${name} is disallowed by Azure Policy: the policy assignment ` +
          `'Key Vault secrets should have an expiration date' denies secrets without an expiration date.`,
        'ForbiddenByPolicy',
      );
    const key = name.toLowerCase();
    let secret = this.secrets.get(key);
    if (secret?.transition) throw inTransition(secret);
    if (secret?.deleted) {
      throw new KeyVaultError(
        409,
        'Conflict',
        `Secret ${secret.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        'ObjectIsDeletedButRecoverable',
      );
    }
    if (!secret) {
      secret = { name, versions: [] };
      this.secrets.set(key, secret);
    }
    const t = this.nowS();
    const version: StoredVersion = {
      version: randomBytes(16).toString('hex'),
      value: input.value,
      enabled: input.attributes?.enabled ?? true,
      created: t,
      updated: t,
      ...(input.contentType !== undefined ? { contentType: input.contentType } : {}),
      ...(input.tags !== undefined ? { tags: { ...input.tags } } : {}),
      ...(typeof input.attributes?.nbf === 'number' ? { nbf: input.attributes.nbf } : {}),
      ...(typeof input.attributes?.exp === 'number' ? { exp: input.attributes.exp } : {}),
    };
    secret.versions.push(version);
    this.save();
    return { secret, version };
  }

  /** Update Secret: attributes, tags and content type of one version; the value never changes. */
  update(
    name: string,
    versionId: string | undefined,
    input: { contentType?: string; tags?: Record<string, string>; attributes?: AttributeInput },
  ): { secret: StoredSecret; version: StoredVersion } {
    const found = this.version(name, versionId);
    validateTags(input.tags);
    const v = found.version;
    if (input.attributes?.enabled !== undefined) v.enabled = input.attributes.enabled;
    if (input.attributes?.nbf !== undefined) setOptional(v, 'nbf', input.attributes.nbf);
    if (input.attributes?.exp !== undefined) setOptional(v, 'exp', input.attributes.exp);
    if (input.contentType !== undefined) v.contentType = input.contentType;
    // Tags in an update replace the whole set, as the service does.
    if (input.tags !== undefined) v.tags = { ...input.tags };
    v.updated = this.nowS();
    this.save();
    return found;
  }

  /** Delete Secret: soft delete of every version; the name stays taken until recovered or purged. */
  delete(name: string): StoredSecret {
    const secret = this.get(name);
    const t = this.nowS();
    secret.deleted = { deletedDate: t, scheduledPurgeDate: t + this.retentionDays * 86_400 };
    if (this.operationDelayMs > 0)
      secret.transition = { kind: 'deleting', until: this.nowMs() + this.operationDelayMs };
    this.save();
    return secret;
  }

  /** A soft-deleted secret whose deletion has finished, or SecretNotFound (also while it is in progress). */
  getDeleted(name: string): StoredSecret {
    const secret = this.secrets.get(name.toLowerCase());
    if (!secret?.deleted || secret.transition) throw deletedNotFound(name);
    return secret;
  }

  /** A deleted secret a purge or recover may act on: 409 while its deletion is still in progress. */
  private settledDeleted(name: string): StoredSecret {
    const secret = this.secrets.get(name.toLowerCase());
    if (secret?.transition?.kind === 'deleting') throw inTransition(secret);
    return this.getDeleted(name);
  }

  /** Purge Deleted Secret: gone for good, unless the vault has purge protection. */
  purge(name: string): void {
    const secret = this.settledDeleted(name);
    if (this.purgeProtection) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
        'ForbiddenByPolicy',
      );
    }
    // The name stays blocked (409 to a set) until the purge has finished.
    if (this.operationDelayMs > 0)
      secret.transition = { kind: 'purging', until: this.nowMs() + this.operationDelayMs };
    else this.secrets.delete(secret.name.toLowerCase());
    this.save();
  }

  /** Recover Deleted Secret: every version back, as it was (once the recovery has finished). */
  recover(name: string): StoredSecret {
    const secret = this.settledDeleted(name);
    if (this.operationDelayMs > 0)
      secret.transition = { kind: 'recovering', until: this.nowMs() + this.operationDelayMs };
    else delete secret.deleted;
    this.save();
    return secret;
  }

  /** Finishes the deletes, purges and recovers whose time has come (called on every request). */
  settle(): void {
    const now = this.nowMs();
    let changed = false;
    for (const [key, s] of this.secrets) {
      if (!s.transition || s.transition.until > now) continue;
      if (s.transition.kind === 'purging') this.secrets.delete(key);
      else if (s.transition.kind === 'recovering') delete s.deleted;
      delete s.transition;
      changed = true;
    }
    if (changed) this.save();
  }

  /** Drops soft-deleted secrets whose retention has passed (the service's scheduled purge). */
  expire(): void {
    const t = this.nowS();
    let changed = false;
    for (const [key, s] of this.secrets) {
      if (s.deleted && !s.transition && s.deleted.scheduledPurgeDate <= t) {
        this.secrets.delete(key);
        changed = true;
      }
    }
    if (changed) this.save();
  }

  private load(file: string): void {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as PersistedState;
    if (parsed.format !== 'rekey-reference-key-vault/1')
      throw new Error(`${file} is not a reference Key Vault state file`);
    for (const s of parsed.secrets) this.secrets.set(s.name.toLowerCase(), s);
  }

  // Written to a temporary file, flushed, then renamed: a crash never leaves half a state file, and the
  // file (secret values!) is created 0600 so no other user can read it at any moment.
  private save(): void {
    const file = this.opts.stateFile;
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const data: PersistedState = {
      format: 'rekey-reference-key-vault/1',
      secrets: [...this.secrets.values()],
    };
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }
}

function setOptional(v: StoredVersion, key: 'nbf' | 'exp', value: number | null): void {
  if (value === null) delete v[key];
  else v[key] = value;
}

function validateName(name: string): void {
  if (!SECRET_NAME.test(name))
    throw new KeyVaultError(
      400,
      'BadParameter',
      `The request URI contains an invalid name: ${name.slice(0, 130)}. Secret names may contain only 0-9, a-z, A-Z and -, up to 127 characters.`,
    );
}

function validateTags(tags: Record<string, string> | undefined): void {
  if (!tags) return;
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS)
    throw new KeyVaultError(400, 'BadParameter', `A secret can have at most ${MAX_TAGS} tags.`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string')
      throw new KeyVaultError(400, 'BadParameter', `The value of tag ${k.slice(0, 64)} must be a string.`);
    if (k.length > MAX_TAG_NAME || v.length > MAX_TAG_VALUE)
      throw new KeyVaultError(
        400,
        'BadParameter',
        `Tag names are limited to ${MAX_TAG_NAME} and tag values to ${MAX_TAG_VALUE} characters.`,
      );
  }
}

/** The service's 404 for a secret or version that does not exist (or is deleted). */
export function notFound(nameOrId: string): KeyVaultError {
  return new KeyVaultError(
    404,
    'SecretNotFound',
    `A secret with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

/** The service's 409 for a name whose delete, purge or recover is still in progress. */
function inTransition(secret: StoredSecret): KeyVaultError {
  return secret.transition?.kind === 'recovering'
    ? new KeyVaultError(
        409,
        'Conflict',
        `Secret ${secret.name} is currently being recovered.`,
        'ObjectIsBeingRecovered',
      )
    : new KeyVaultError(
        409,
        'Conflict',
        `Secret ${secret.name} is currently being deleted.`,
        'ObjectIsBeingDeleted',
      );
}

function deletedNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
}
