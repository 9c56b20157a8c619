// Where ticket webhooks and rollout hooks may go. A policy names its change ticket's webhook URL and its
// cutover's rollout hook, but the worker POSTs from inside the platform network, so a free URL would be a server-side request forgery. A deployment
// lists the receivers it trusts in settings; a ticket can pick one of those, and nothing else.
//
// Entry syntax (REKEY_WEBHOOK_ALLOWED_HOSTS, REKEY_WEBHOOK_PRIVATE_HOSTS; comma-separated):
//   [http://]host[:port]   host: a DNS name, `*.` + a DNS name (every name below it, never the name
//                          itself), an IPv4 address, or [an IPv6 address]
// No scheme means https only; `http://` allows plain http to that entry only. No port means the
// scheme's default port only (443, 80). Matching is exact and case-insensitive.
//
// Addresses are checked too, after DNS resolution (the worker resolves once and connects to the address
// it checked). Only public unicast addresses are allowed; private, loopback, link-local, CGNAT,
// unique-local and the other special-purpose ranges below need an entry in REKEY_WEBHOOK_PRIVATE_HOSTS.
// Unspecified, multicast, reserved and cloud metadata addresses are refused whatever the lists say.
// Pure apart from node:net's BlockList: the API checks a policy with it, the worker every send.
import { BlockList, isIP } from 'node:net';
import type { RotationPolicy } from './policy';

export const WEBHOOK_ALLOWED_HOSTS_SETTING = 'REKEY_WEBHOOK_ALLOWED_HOSTS';
export const WEBHOOK_PRIVATE_HOSTS_SETTING = 'REKEY_WEBHOOK_PRIVATE_HOSTS';

/** One allowlist entry, normalised. */
export interface WebhookTarget {
  /** The entry as written in the setting, for messages. */
  entry: string;
  scheme: 'https' | 'http';
  /** Lower case, no trailing dot; an IPv6 address in brackets (as URL.hostname writes it). */
  host: string;
  /** `*.host`: every name below host, not host itself. */
  subdomains: boolean;
  port: number;
  /** From REKEY_WEBHOOK_PRIVATE_HOSTS: may resolve to a private, loopback or link-local address. */
  allowPrivate: boolean;
}

/** The receivers ticket webhooks and rollout hooks may go to; empty means none (all are refused). */
export interface WebhookAllowlist {
  targets: readonly WebhookTarget[];
}

export const NO_WEBHOOK_TARGETS: WebhookAllowlist = { targets: [] };

const DEFAULT_PORT = { https: 443, http: 80 } as const;

/** A name without its one trailing dot, lower case (URL.hostname is lower case already). */
const normalHost = (hostname: string) => hostname.toLowerCase().replace(/\.$/, '');

/** Parses one setting's comma-separated entries; throws an Error naming the bad entry. */
export function parseWebhookTargets(text: string | undefined, allowPrivate: boolean): WebhookTarget[] {
  const entries = (text ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  return entries.map((entry) => {
    const m = /^(?:(https?):\/\/)?(\*\.)?([^/?#@\s*]+)$/i.exec(entry);
    if (!m) {
      throw new Error(
        `"${entry}": expected [http://]host[:port] or [http://]*.domain[:port], without path, query or credentials`,
      );
    }
    const scheme = (m[1]?.toLowerCase() ?? 'https') as 'https' | 'http';
    let url: URL;
    try {
      url = new URL(`${scheme}://${m[3]!}`);
    } catch {
      throw new Error(`"${entry}": not a valid host[:port]`);
    }
    const host = normalHost(url.hostname);
    const subdomains = Boolean(m[2]);
    const literal = isIP(bare(host)) !== 0;
    // `*.com` would admit a whole top-level domain: a wildcard names a domain of two labels or more.
    if (!host || (subdomains && (literal || !host.includes('.')))) {
      throw new Error(
        `"${entry}": a wildcard needs a domain of two labels or more, e.g. *.hooks.example.com`,
      );
    }
    if (url.port === '0') throw new Error(`"${entry}": port 0 is not a port to send to`);
    if (literal) {
      const refused = addressRefusal(bare(host), allowPrivate);
      if (refused) {
        throw new Error(
          `"${entry}": ${refused}${allowPrivate ? '' : ` (list it in ${WEBHOOK_PRIVATE_HOSTS_SETTING} if that is meant)`}`,
        );
      }
    }
    return {
      entry,
      scheme,
      host,
      subdomains,
      port: url.port ? Number(url.port) : DEFAULT_PORT[scheme],
      allowPrivate,
    };
  });
}

/** The allowlist from the two settings' values. */
export function webhookAllowlist(values: { allowed?: string; private?: string }): WebhookAllowlist {
  return {
    targets: [...parseWebhookTargets(values.allowed, false), ...parseWebhookTargets(values.private, true)],
  };
}

/** An address without the brackets URL.hostname puts around IPv6. */
function bare(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** A URL a webhook may be sent to, and the allowlist entry that admits it. */
export interface AdmittedTarget {
  url: URL;
  /** Host to resolve or connect to: lower case, no trailing dot, IPv6 without brackets. */
  host: string;
  port: number;
  /** Whether an entry of REKEY_WEBHOOK_PRIVATE_HOSTS admits it. */
  allowPrivate: boolean;
}

/** Checks a webhook URL against the allowlist (and a literal address's range): admitted, or why not. */
export function checkWebhookUrl(
  raw: string,
  allowlist: WebhookAllowlist | undefined,
): { admitted: AdmittedTarget } | { refusal: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { refusal: 'the webhook URL is not a valid URL' };
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'https' && scheme !== 'http') {
    return { refusal: `the webhook URL must be https (got ${scheme}:)` };
  }
  // Credentials in the URL would travel in the workflow input, its history and the evidence.
  if (url.username || url.password) return { refusal: 'the webhook URL must not carry credentials' };
  const host = normalHost(url.hostname);
  const port = url.port ? Number(url.port) : DEFAULT_PORT[scheme];
  const targets = allowlist?.targets ?? [];
  if (targets.length === 0) {
    return {
      refusal: `webhook host ${host} is refused: ${WEBHOOK_ALLOWED_HOSTS_SETTING} is not set, so no webhook or rollout hook is sent`,
    };
  }
  const sameHost = targets.filter((t) => (t.subdomains ? host.endsWith(`.${t.host}`) : host === t.host));
  if (sameHost.length === 0) {
    return {
      refusal: `webhook host ${host} is not in ${WEBHOOK_ALLOWED_HOSTS_SETTING} (nor ${WEBHOOK_PRIVATE_HOSTS_SETTING})`,
    };
  }
  const matching = sameHost.filter((t) => t.scheme === scheme && t.port === port);
  if (matching.length === 0) {
    return {
      refusal: `webhook ${scheme}://${host}:${port} is not allowed: ${WEBHOOK_ALLOWED_HOSTS_SETTING} allows host ${host} only as ${sameHost
        .map((t) => `${t.scheme}://…:${t.port}`)
        .join(', ')}`,
    };
  }
  const allowPrivate = matching.some((t) => t.allowPrivate);
  const address = bare(host);
  if (isIP(address)) {
    const refused = addressRefusal(address, allowPrivate);
    if (refused) return { refusal: `webhook host ${host}: ${refused}` };
  }
  return { admitted: { url, host: address, port, allowPrivate } };
}

/**
 * Why the API refuses a policy's outbound URLs (the change ticket's webhook, the cutover's rollout hook),
 * each refusal naming its field, the host and the setting; undefined when every URL is allowed.
 */
export function webhookRefusal(
  policy: RotationPolicy,
  allowlist: WebhookAllowlist | undefined,
): string | undefined {
  const urls: [field: string, url: string | undefined][] = [
    ['rotation.change_ticket.webhook_url', policy.rotation.change_ticket?.webhook_url],
    ['rotation.cutover.rollout_hook_url', policy.rotation.cutover.rollout_hook_url],
  ];
  const refusals = urls.flatMap(([field, url]) => {
    if (!url) return [];
    const checked = checkWebhookUrl(url, allowlist);
    return 'refusal' in checked ? [`${field}: ${checked.refusal}`] : [];
  });
  return refusals.length > 0 ? refusals.join('; ') : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Address ranges. IANA's special-purpose registries (IPv4 and IPv6), plus the cloud metadata endpoints.
// `private`: refused unless the entry is in REKEY_WEBHOOK_PRIVATE_HOSTS; `never`: refused always.

type RangeKind = 'private' | 'never';
interface AddressRange {
  cidr: string;
  name: string;
  kind: RangeKind;
}

/** Refused address ranges, most specific first (the first match names the refusal). */
export const REFUSED_RANGES: readonly AddressRange[] = [
  { cidr: '169.254.169.254/32', name: 'the cloud metadata service', kind: 'never' },
  { cidr: '169.254.170.2/32', name: 'the ECS task metadata service', kind: 'never' },
  { cidr: '100.100.100.200/32', name: 'the Alibaba Cloud metadata service', kind: 'never' },
  { cidr: 'fd00:ec2::254/128', name: 'the EC2 IPv6 metadata service', kind: 'never' },
  { cidr: '0.0.0.0/8', name: 'unspecified ("this network", 0.0.0.0/8)', kind: 'never' },
  { cidr: '10.0.0.0/8', name: 'private (RFC 1918, 10/8)', kind: 'private' },
  { cidr: '100.64.0.0/10', name: 'carrier-grade NAT (100.64/10)', kind: 'private' },
  { cidr: '127.0.0.0/8', name: 'loopback (127/8)', kind: 'private' },
  { cidr: '169.254.0.0/16', name: 'link-local (169.254/16)', kind: 'private' },
  { cidr: '172.16.0.0/12', name: 'private (RFC 1918, 172.16/12)', kind: 'private' },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments (192.0.0/24)', kind: 'private' },
  { cidr: '192.0.2.0/24', name: 'documentation (192.0.2/24)', kind: 'private' },
  { cidr: '192.88.99.0/24', name: '6to4 relay anycast (192.88.99/24)', kind: 'private' },
  { cidr: '192.168.0.0/16', name: 'private (RFC 1918, 192.168/16)', kind: 'private' },
  { cidr: '198.18.0.0/15', name: 'benchmarking (198.18/15)', kind: 'private' },
  { cidr: '198.51.100.0/24', name: 'documentation (198.51.100/24)', kind: 'private' },
  { cidr: '203.0.113.0/24', name: 'documentation (203.0.113/24)', kind: 'private' },
  { cidr: '224.0.0.0/4', name: 'multicast (224/4)', kind: 'never' },
  { cidr: '240.0.0.0/4', name: 'reserved or broadcast (240/4)', kind: 'never' },
  { cidr: '::/128', name: 'unspecified (::)', kind: 'never' },
  { cidr: '::1/128', name: 'loopback (::1)', kind: 'private' },
  { cidr: '64:ff9b::/96', name: 'NAT64, which embeds an IPv4 address (64:ff9b::/96)', kind: 'private' },
  { cidr: '64:ff9b:1::/48', name: 'local NAT64 (64:ff9b:1::/48)', kind: 'private' },
  { cidr: '100::/64', name: 'discard-only (100::/64)', kind: 'never' },
  { cidr: '2001::/32', name: 'Teredo, which embeds an IPv4 address (2001::/32)', kind: 'private' },
  { cidr: '2001:2::/48', name: 'benchmarking (2001:2::/48)', kind: 'private' },
  { cidr: '2001:10::/28', name: 'ORCHID (2001:10::/28)', kind: 'never' },
  { cidr: '2001:20::/28', name: 'ORCHIDv2 (2001:20::/28)', kind: 'never' },
  { cidr: '2001:db8::/32', name: 'documentation (2001:db8::/32)', kind: 'private' },
  { cidr: '2002::/16', name: '6to4, which embeds an IPv4 address (2002::/16)', kind: 'private' },
  { cidr: 'fc00::/7', name: 'unique local (fc00::/7)', kind: 'private' },
  { cidr: 'fe80::/10', name: 'link-local (fe80::/10)', kind: 'private' },
  { cidr: 'fec0::/10', name: 'site-local, deprecated (fec0::/10)', kind: 'private' },
  { cidr: 'ff00::/8', name: 'multicast (ff00::/8)', kind: 'never' },
];

/** Each range as a BlockList of its own, built on first use, so a match can say which range it was. */
let compiled: { range: AddressRange; list: BlockList; family: 'ipv4' | 'ipv6' }[] | undefined;
function ranges() {
  compiled ??= REFUSED_RANGES.map((range) => {
    const [network, bits] = range.cidr.split('/') as [string, string];
    const family = isIP(network) === 6 ? ('ipv6' as const) : ('ipv4' as const);
    const list = new BlockList();
    list.addSubnet(network, Number(bits), family);
    return { range, list, family };
  });
  return compiled;
}
let globalUnicast: BlockList | undefined;

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, in any spelling) stands for. */
export function unmappedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6 || address.includes('%')) return undefined;
  // URL writes every IPv6 address one canonical way: ::ffff:7f00:1 for ::ffff:127.0.0.1.
  const canonical = bare(new URL(`http://[${address}]/`).hostname);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!m) return undefined;
  const [hi, lo] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/** The refused range an address is in; undefined for a public unicast address. */
function rangeOf(address: string): { name: string; kind: RangeKind } | undefined {
  const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const hit = ranges().find((r) => r.family === type && r.list.check(address, type));
  if (hit) return hit.range;
  if (type === 'ipv6') {
    // Only 2000::/3 is global unicast; whatever else IANA has not assigned is no place to send to.
    if (!globalUnicast) {
      globalUnicast = new BlockList();
      globalUnicast.addSubnet('2000::', 3, 'ipv6');
    }
    if (!globalUnicast.check(address, 'ipv6')) {
      return { name: 'not global unicast (outside 2000::/3)', kind: 'never' };
    }
  }
  return undefined;
}

/** Why a webhook may not connect to this IP address (undefined: it may); `allowPrivate` admits private ranges. */
export function addressRefusal(address: string, allowPrivate: boolean): string | undefined {
  if (isIP(address) === 0) return `${address} is not an IP address`;
  // A zone index (fe80::1%eth0) picks an interface, not an address: judged without it.
  const unzoned = address.replace(/%.*$/, '');
  // ::ffff:127.0.0.1 reaches 127.0.0.1: judged as the IPv4 address it stands for.
  const mapped = unmappedIPv4(unzoned);
  const range = rangeOf(mapped ?? unzoned);
  if (!range || (range.kind === 'private' && allowPrivate)) return undefined;
  const what = mapped ? `${address} (IPv4-mapped ${mapped})` : address;
  return `${what} is ${range.name}${range.kind === 'never' ? ', never a webhook target' : ''}`;
}
