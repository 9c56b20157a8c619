// One POST to an admitted webhook target over node:http(s), connected to an address resolveChecked
// checked. node:http rather than fetch: its `lookup` hook is public API, while fetch would need undici's
// own Agent to do the same. TLS still verifies the certificate against the URL's host name (SNI and
// identity use the name, only the socket's address is pinned). No redirect is ever followed.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AdmittedTarget } from '../../domain/webhook-targets';
import { pinnedLookup, type ResolvedAddress } from './safe-lookup';

export interface PinnedPost {
  target: AdmittedTarget;
  /** The addresses resolveChecked checked; the socket connects to one of them and nowhere else. */
  addresses: readonly ResolvedAddress[];
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** POSTs the body to the pinned address and answers the status once the response is drained. */
export function postPinned(p: PinnedPost): Promise<number> {
  const { url } = p.target;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: p.target.host,
        port: p.target.port,
        path: `${url.pathname}${url.search}`,
        headers: { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) },
        lookup: pinnedLookup(p.addresses),
        // A fresh connection per delivery, to the address just checked; never a pooled earlier socket.
        agent: false,
        signal: AbortSignal.timeout(p.timeoutMs),
      },
      (res: IncomingMessage) => {
        // Drained and discarded: only the status matters, and the socket is released.
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(p.body);
  });
}
