// The worker's /metrics: a bare node:http server over a prom-client registry. The worker has no web
// framework and Prometheus needs nothing more than one GET route; anything else is a 404.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** Where Prometheus scrapes it, e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;
  /** Stops listening and drops open scrape connections (keep-alive would hold a shutdown otherwise). */
  close(): Promise<void>;
}

/** Serves the registry as Prometheus text on `GET /metrics` at host:port (port 0: a free one). */
export async function serveMetrics(
  registry: Registry,
  opts: { host: string; port: number },
): Promise<MetricsServer> {
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`);
    }
  };
  const server = createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
