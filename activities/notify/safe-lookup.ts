// Resolves a webhook's host once, checks every address it resolves to, and hands the socket the checked
// address: no second lookup between the check and the connect, so DNS rebinding cannot slip a private
// address in (a name that answers a public address to the check and 127.0.0.1 to the connect).
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../domain/failure-types';
import {
  addressRefusal,
  WEBHOOK_PRIVATE_HOSTS_SETTING,
  type AdmittedTarget,
} from '../../domain/webhook-targets';

/** One resolved address, as dns.lookup answers it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address a name resolves to (dns.lookup with `all`: the resolver the socket would use). */
export type Resolve = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolve: Resolve = (host) => dnsLookup(host, { all: true, order: 'verbatim' });

/** A refusal retrying cannot fix: the target is not one a webhook may reach. */
export const targetRefused = (message: string) =>
  ApplicationFailure.nonRetryable(message, FailureTypes.WebhookTargetRefused);

/**
 * The addresses to connect to for an admitted target: the literal itself, or every address the name
 * resolves to, once each passed the range check. One refused address refuses the name: which one a
 * connect picks (IPv6 or IPv4 first) is not ours to decide.
 */
export async function resolveChecked(
  target: Pick<AdmittedTarget, 'host' | 'allowPrivate'>,
  resolve: Resolve = systemResolve,
  /** What a refused address throws; default WebhookTargetRefused (a rollout hook has its own type). */
  refuse: (message: string) => Error = targetRefused,
): Promise<ResolvedAddress[]> {
  const family = isIP(target.host);
  const addresses = family ? [{ address: target.host, family }] : await resolveOrThrow(target.host, resolve);
  if (addresses.length === 0) throw new Error(`webhook host ${target.host} resolved to no address`);
  for (const a of addresses) {
    const refused = addressRefusal(a.address, target.allowPrivate);
    if (refused) {
      const privateWouldDo = !target.allowPrivate && !addressRefusal(a.address, true);
      throw refuse(
        `webhook host ${target.host} resolves to ${refused}${privateWouldDo ? `; only an entry of ${WEBHOOK_PRIVATE_HOSTS_SETTING} may reach it` : ''}`,
      );
    }
  }
  return addresses;
}

/** A DNS failure may pass (a resolver restarting): it stays retryable, and says which host. */
async function resolveOrThrow(host: string, resolve: Resolve): Promise<ResolvedAddress[]> {
  try {
    return await resolve(host);
  } catch (err) {
    throw new Error(
      `webhook host ${host} did not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
}

/** A socket `lookup` that answers only the checked addresses, whatever name the socket asks for. */
export function pinnedLookup(checked: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const usable = family ? checked.filter((a) => a.family === family) : [...checked];
    const first = usable[0];
    if (!first) {
      const err: NodeJS.ErrnoException = new Error(`no checked address of family ${String(family)}`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
    } else if (options.all) {
      // net.connect asks for `all` to race address families (autoSelectFamily, on by default).
      callback(
        null,
        usable.map((a) => ({ address: a.address, family: a.family })),
      );
    } else callback(null, first.address, first.family);
  };
}
