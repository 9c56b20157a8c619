import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookNotifier, webhookSignature } from '../../activities/notify';

// The ticket webhook notifier against a real HTTP receiver on loopback.
const SECRET = 'a-webhook-secret-for-these-tests';
describe('the webhook notifier', () => {
  let server: Server;
  let url: string;
  let answer = 204;
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/rekey`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    received.length = 0;
    answer = 204;
  });

  const event = {
    rotationId: 'prod:key:CHG-1',
    event: 'gate-opened' as const,
    phase: 'AWAITING_REVOKE_APPROVAL',
    message: 'revoke gate open',
  };

  it('signs the body with HMAC-SHA256 over timestamp and body, which the receiver can verify', async () => {
    const secret = 'a-shared-webhook-secret';
    await createWebhookNotifier({ signingSecret: secret }).notify({ ...event, webhookUrl: url });
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    expect(JSON.parse(body)).toMatchObject({
      rotationId: 'prod:key:CHG-1',
      event: 'gate-opened',
      source: 'rekey',
    });
    expect(headers['x-rekey-signature']).toBe(
      webhookSignature(secret, String(headers['x-rekey-timestamp']), body),
    );
    expect(headers['x-rekey-signature']).not.toBe(
      webhookSignature('another-secret-entirely', String(headers['x-rekey-timestamp']), body),
    );
  });

  it('throws when the receiver fails, so the activity retry policy tries again', async () => {
    answer = 503;
    await expect(
      createWebhookNotifier({ signingSecret: SECRET }).notify({ ...event, webhookUrl: url }),
    ).rejects.toThrow(/answered 503/);
  });

  it('refuses to send an unsigned event when no signing secret is configured, without retrying', async () => {
    await expect(createWebhookNotifier().notify({ ...event, webhookUrl: url })).rejects.toMatchObject({
      type: 'WebhookUnsigned',
      nonRetryable: true,
    });
    expect(received).toHaveLength(0);
  });

  it('only logs when the ticket names no webhook', async () => {
    const logged: unknown[] = [];
    await createWebhookNotifier({ log: (m, f) => logged.push({ m, f }) }).notify(event);
    expect(received).toHaveLength(0);
    expect(logged).toHaveLength(1);
  });
});

describe('webhook deliveries', () => {
  let server: Server;
  let url: string;
  const seen: IncomingMessage['headers'][] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      if (req.url === '/moved') res.writeHead(307, { location: '/elsewhere' }).end();
      else res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const event = {
    rotationId: 'prod:key:CHG-2',
    event: 'phase-changed' as const,
    phase: 'HOLDING',
    message: 'holding',
  };

  it('carries the delivery id the activity gives it, so a receiver can drop a retried duplicate', async () => {
    const notifier = createWebhookNotifier({ signingSecret: SECRET });
    await notifier.notify({ ...event, webhookUrl: `${url}/hook`, deliveryId: 'd-1' });
    await notifier.notify({ ...event, webhookUrl: `${url}/hook`, deliveryId: 'd-1' });
    expect(seen.map((h) => h['x-rekey-delivery'])).toEqual(['d-1', 'd-1']);
  });

  it('does not follow a redirect elsewhere', async () => {
    seen.length = 0;
    await expect(
      createWebhookNotifier({ signingSecret: SECRET }).notify({ ...event, webhookUrl: `${url}/moved` }),
    ).rejects.toThrow();
    expect(seen).toHaveLength(1);
  });
});
