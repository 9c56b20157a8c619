// Who a request comes from: Fastify's trustProxy option from REKEY_API_TRUST_PROXY (req.ip is then the
// client the trusted proxies name in X-Forwarded-For), and the key the failure limits count it under.
import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyServerOptions } from 'fastify';

/** REKEY_API_TRUST_PROXY as parsed: false, true, a hop count, or trusted proxy addresses/CIDRs. */
export type TrustProxySetting = boolean | number | string[];

/**
 * Fastify's trustProxy for a setting. A hop count trusts that many proxies nearest the API, whoever
 * they are (Fastify itself now treats a number as "trust nothing"): like `true`, it lets a client that
 * reaches the API directly name any address, so it suits only an API that proxies alone can reach.
 */
export function trustProxyOption(setting: TrustProxySetting = false): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') return setting;
  const hops = setting;
  return hops > 0 ? (_address: string, hop: number) => hop < hops : false;
}

/**
 * The key a client address is counted under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4),
 * IPv6 by its /64, since one host or subscriber usually holds a whole /64 and could rotate within it.
 */
export function clientKey(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (!isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
