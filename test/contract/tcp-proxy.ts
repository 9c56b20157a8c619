// A cuttable TCP proxy in front of a backend's real local server, for the contract suite's outage cases.
// It forwards bytes and understands nothing above TCP, so it works the same for HTTPS (Key Vault: the
// certificate names 127.0.0.1, the TLS session runs end to end through it) and plain HTTP (OpenBao, moto).
// Two faults: an outage (`cut`: every live connection is reset and new ones are reset on accept, until
// `restore`) and a blip (`dropAfter`: the connection carrying the n-th client chunk from now is lost
// after that chunk reached the server, so the server acts on a request whose answer never comes back).
import net from 'node:net';

export interface TcpProxy {
  /** The target's URL with the proxy's host and port (`https://127.0.0.1:41234`). */
  readonly url: string;
  /** Resets every live connection and, until restore(), every new one as soon as it is accepted. */
  cut(): void;
  /** Forwards new connections again, and disarms a blip that has not fired. */
  restore(): void;
  /**
   * Arms a one-off blip: the connection that carries the n-th client→server chunk from now on is reset
   * towards the client right after that chunk was forwarded; the server still gets it, its answer is lost.
   */
  dropAfter(n: number): void;
  /** Whether the armed blip has fired (false when none was armed, or it has not yet). */
  readonly dropped: boolean;
  /** Client→server chunks forwarded since the proxy started. */
  readonly chunks: number;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/** Starts a proxy on a free port of 127.0.0.1 forwarding to the host and port of `targetUrl`. */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const targetHost = target.hostname.replace(/^\[|\]$/g, '');
  const pairs = new Set<Pair>();
  let isCut = false;
  let chunks = 0;
  let blipAt: number | undefined;
  let dropped = false;

  const reset = (s: net.Socket) => {
    if (!s.destroyed) s.resetAndDestroy();
  };

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (isCut) {
      reset(client);
      return;
    }
    const upstream = net.connect({ host: targetHost, port: targetPort });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('close', () => {
      // A blip leaves the upstream half open on purpose, so the server finishes the request it got.
      if (!upstream.destroyed && !upstream.writableEnded) upstream.destroy();
      pairs.delete(pair);
    });
    upstream.on('close', forget);

    client.on('data', (chunk: Buffer) => {
      chunks++;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
      if (blipAt !== undefined && chunks >= blipAt) {
        blipAt = undefined;
        dropped = true;
        pairs.delete(pair);
        // The chunk is flushed, then the upstream is half-closed: the server answers into the void.
        upstream.end();
        upstream.setTimeout(5_000, () => upstream.destroy());
        reset(client);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (client.destroyed) return;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the TCP proxy has no port');
  const url = new URL(target.href);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);

  const resetAll = () => {
    for (const { client, upstream } of pairs) {
      reset(client);
      reset(upstream);
    }
    pairs.clear();
  };

  return {
    url: url.href.replace(/\/+$/, ''),
    cut() {
      isCut = true;
      resetAll();
    },
    restore() {
      isCut = false;
      blipAt = undefined;
    },
    dropAfter(n) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`dropAfter needs a positive chunk count, not ${n}`);
      dropped = false;
      blipAt = chunks + n;
    },
    get dropped() {
      return dropped;
    },
    get chunks() {
      return chunks;
    },
    async close() {
      isCut = true;
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
