// What every Key Vault store operation shares: the vault's client and label, the credential's two secret
// names, the per-operation clock (operation-budget.ts) and the calls that go through it. An operation
// starts with begin(); every SDK call it makes passes the operation's signal and maps its errors through
// vault-errors.ts, so a failure names the vault, the secret and the step, never a value.
import type {
  KeyVaultSecret,
  PollerLike,
  PollOperationState,
  SecretClient,
  SecretProperties,
} from '@azure/keyvault-secrets';
import type { SecretStoreLogger } from '../backend';
import { startOperation, untilAborted, type VaultOperation } from './operation-budget';
import { newestFirst } from './tags';
import { isDisabledError, statusOf } from './vault-errors';

/** One vault as the operations see it: its client, its label, and how long they may wait on it. */
export interface KeyVaultConnection {
  client: SecretClient;
  /** storeLabel() of the location: the vault URL, in every ref, record, log line and message. */
  store: string;
  log: SecretStoreLogger;
  /** Key Vault deletes, purges and recovers asynchronously; how long a reused name may stay in conflict. */
  settle: { attempts: number; intervalMs: number };
  budget: { deadlineMs: number; requestTimeoutMs: number };
  /** The calling activity's cancellation, read when an operation begins. */
  cancellationSignal: () => AbortSignal | undefined;
}

/** One credential's stable and pending secret in one vault. */
export interface KeyVaultSession extends KeyVaultConnection {
  /** The stable path apps read. */
  stable: string;
  /** Where the replacement waits before the flip, read by canaries; never the stable name. */
  pending: string;
}

type Poller<T> = PollerLike<PollOperationState<T>, T>;

/** Starts one operation's clock: every SDK call of the operation gets its signal and request timeout. */
export function begin(c: KeyVaultConnection): VaultOperation {
  const cancellation = c.cancellationSignal();
  return startOperation({ ...c.budget, ...(cancellation ? { cancellation } : {}) });
}

/** The failure of a call: why the operation stopped, or the vault's error mapped (vault-errors.ts). */
export function failure(
  c: KeyVaultConnection,
  op: VaultOperation,
  err: unknown,
  operation: string,
  name: string,
): Error {
  return op.failure(err, { vaultUrl: c.store, secretName: name, operation });
}

/** Runs one SDK call of an operation; any error becomes an ApplicationFailure naming the step. */
export async function call<T>(
  c: KeyVaultConnection,
  op: VaultOperation,
  operation: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw failure(c, op, err, operation, name);
  }
}

/** Like call, but a 404 (no such secret or version, or a deleted one) is `undefined`. */
export async function orMissing<T>(
  c: KeyVaultConnection,
  op: VaultOperation,
  operation: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!op.signal.aborted && statusOf(err) === 404) return undefined;
    throw failure(c, op, err, operation, name);
  }
}

/** Every version's properties (no values); none when the secret does not exist. */
export async function versionsOf(
  c: KeyVaultConnection,
  op: VaultOperation,
  name: string,
): Promise<SecretProperties[]> {
  const listed = await orMissing(c, op, 'list the versions of', name, async () => {
    const out: SecretProperties[] = [];
    // Pages after the first go out without the operation's signal (an SDK gap): stop waiting for them.
    const pages = c.client.listPropertiesOfSecretVersions(name, op.sdk).byPage();
    for (;;) {
      const page = await untilAborted(pages.next(), op.signal);
      if (page.done) return out;
      out.push(...page.value);
    }
  });
  return listed ?? [];
}

/** The newest version with its value; undefined when missing, deleted or disabled. */
export async function newest(
  c: KeyVaultConnection,
  op: VaultOperation,
  name: string,
  operation: string,
): Promise<KeyVaultSecret | undefined> {
  try {
    return await c.client.getSecret(name, op.sdk);
  } catch (err) {
    if (!op.signal.aborted && (statusOf(err) === 404 || isDisabledError(err))) return undefined;
    throw failure(c, op, err, operation, name);
  }
}

/** The newest version's properties, also when it is disabled; undefined when missing or deleted. */
export async function newestProps(
  c: KeyVaultConnection,
  op: VaultOperation,
  name: string,
  operation: string,
): Promise<SecretProperties | undefined> {
  try {
    return (await c.client.getSecret(name, op.sdk)).properties;
  } catch (err) {
    if (!op.signal.aborted && statusOf(err) === 404) return undefined;
    if (op.signal.aborted || !isDisabledError(err)) throw failure(c, op, err, operation, name);
  }
  // Disabled: the list has its properties; creation times are whole seconds, so this is best effort.
  return newestFirst(await versionsOf(c, op, name))[0];
}

/** Polls a delete or recover until Key Vault reports it done, sleeping abortably in between. */
export async function settled<T>(
  c: KeyVaultConnection,
  op: VaultOperation,
  poller: Poller<T>,
  operation: string,
  name: string,
): Promise<void> {
  while (!poller.isDone()) {
    await op.sleep(c.settle.intervalMs, { vaultUrl: c.store, secretName: name, operation });
    await poller.poll({ abortSignal: op.signal });
  }
}
