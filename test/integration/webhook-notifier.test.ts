import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createWebhookNotifier, webhookSignature } from '../../activities/notify';
import type { Resolve } from '../../activities/notify/safe-lookup';
import { webhookAllowlist, type WebhookAllowlist } from '../../domain/webhook-targets';
import { keyVaultPaths, referenceKeyVaultUnavailableReason } from '../../scripts/local-stack';

// The ticket webhook notifier against real HTTP(S) receivers on loopback, with the system resolver
// (`localhost` is a real name that resolves to loopback: the "private" case) unless a test says otherwise.
const SECRET = 'a-webhook-secret-for-these-tests';

interface Receiver {
  port: number;
  received: { url: string; headers: IncomingMessage['headers']; body: string }[];
  /** What the receiver answers next; `/moved` always answers a redirect. */
  answer: number;
  close: () => Promise<void>;
}

function handler(r: Pick<Receiver, 'received' | 'answer'>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      r.received.push({ url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/moved') res.writeHead(307, { location: '/elsewhere' }).end();
      else res.writeHead(r.answer).end();
    });
  };
}

async function listen(server: Server, r: { received: Receiver['received']; answer: number }) {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const receiver = r as Receiver;
  receiver.port = (server.address() as AddressInfo).port;
  receiver.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return receiver;
}

async function startReceiver(): Promise<Receiver> {
  const r = { received: [] as Receiver['received'], answer: 204 };
  return listen(createServer(handler(r)), r);
}

const event = {
  rotationId: 'prod:key:CHG-1',
  event: 'gate-opened' as const,
  phase: 'AWAITING_REVOKE_APPROVAL',
  message: 'revoke gate open',
};

/** A notifier with the secret and this allowlist (the settings' syntax). */
const notifierFor = (lists: { allowed?: string; private?: string }, resolve?: Resolve) =>
  createWebhookNotifier({
    signingSecret: SECRET,
    allowlist: webhookAllowlist(lists),
    ...(resolve ? { resolve } : {}),
  });

/** A resolver answering fixed addresses per name, counting how often it was asked. */
function fixedResolver(answers: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve: Resolve = (host) => {
    asked.push(host);
    const addresses = answers[host];
    if (!addresses) return Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return { resolve, asked };
}

describe('the webhook notifier', () => {
  let hook: Receiver;
  let allowlist: WebhookAllowlist;
  let url: string;
  beforeAll(async () => {
    hook = await startReceiver();
    allowlist = webhookAllowlist({ private: `http://localhost:${hook.port}` });
    url = `http://localhost:${hook.port}/hooks/rekey`;
  });
  afterAll(() => hook.close());
  beforeEach(() => {
    hook.received.length = 0;
    hook.answer = 204;
  });

  it('signs the body with HMAC-SHA256 over timestamp and body, which the receiver can verify', async () => {
    const secret = 'a-shared-webhook-secret';
    await createWebhookNotifier({ signingSecret: secret, allowlist }).notify({ ...event, webhookUrl: url });
    expect(hook.received).toHaveLength(1);
    const { headers, body } = hook.received[0]!;
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
    hook.answer = 503;
    const failure = createWebhookNotifier({ signingSecret: SECRET, allowlist }).notify({
      ...event,
      webhookUrl: url,
    });
    await expect(failure).rejects.toThrow(/answered 503/);
    await expect(failure).rejects.not.toMatchObject({ nonRetryable: true });
  });

  it('refuses to send an unsigned event when no signing secret is configured, without retrying', async () => {
    await expect(
      createWebhookNotifier({ allowlist }).notify({ ...event, webhookUrl: url }),
    ).rejects.toMatchObject({
      type: 'WebhookUnsigned',
      nonRetryable: true,
    });
    expect(hook.received).toHaveLength(0);
  });

  it('only logs when the ticket names no webhook', async () => {
    const logged: unknown[] = [];
    await createWebhookNotifier({ log: (m, f) => logged.push({ m, f }) }).notify(event);
    expect(hook.received).toHaveLength(0);
    expect(logged).toHaveLength(1);
  });
});

describe('webhook targets (no SSRF)', () => {
  let hook: Receiver;
  beforeAll(async () => {
    hook = await startReceiver();
  });
  afterAll(() => hook.close());
  beforeEach(() => {
    hook.received.length = 0;
  });

  const refused = (message: RegExp): unknown =>
    expect.objectContaining({
      type: 'WebhookTargetRefused',
      nonRetryable: true,
      message: expect.stringMatching(message),
    });

  it('refuses every webhook when no allowlist is set, sending nothing', async () => {
    await expect(
      createWebhookNotifier({ signingSecret: SECRET }).notify({
        ...event,
        webhookUrl: `http://localhost:${hook.port}/hook`,
      }),
    ).rejects.toEqual(refused(/REKEY_WEBHOOK_ALLOWED_HOSTS is not set/));
    expect(hook.received).toHaveLength(0);
  });

  it('refuses a host that is not in the allowlist, sending nothing', async () => {
    const notifier = notifierFor({ allowed: 'hooks.example.com', private: `http://localhost:${hook.port}` });
    await expect(
      notifier.notify({ ...event, webhookUrl: `http://127.0.0.1:${hook.port}/hook` }),
    ).rejects.toEqual(refused(/host 127\.0\.0\.1 is not in REKEY_WEBHOOK_ALLOWED_HOSTS/));
    expect(hook.received).toHaveLength(0);
  });

  it('refuses another port or plain http on an allowlisted host', async () => {
    const notifier = notifierFor({ private: `http://localhost:${hook.port}` });
    await expect(
      notifier.notify({ ...event, webhookUrl: `http://localhost:${hook.port + 1}/hook` }),
    ).rejects.toEqual(refused(/is not allowed/));
    const httpsOnly = notifierFor({ private: `localhost:${hook.port}` });
    await expect(
      httpsOnly.notify({ ...event, webhookUrl: `http://localhost:${hook.port}/hook` }),
    ).rejects.toEqual(refused(/only as https/));
    expect(hook.received).toHaveLength(0);
  });

  it('refuses an allowlisted name that resolves to loopback unless the host is marked private', async () => {
    const publicOnly = notifierFor({ allowed: `http://localhost:${hook.port}` });
    await expect(
      publicOnly.notify({ ...event, webhookUrl: `http://localhost:${hook.port}/hook` }),
    ).rejects.toEqual(refused(/localhost resolves to .* loopback .*REKEY_WEBHOOK_PRIVATE_HOSTS/));
    expect(hook.received).toHaveLength(0);

    const marked = notifierFor({ private: `http://localhost:${hook.port}` });
    await marked.notify({ ...event, webhookUrl: `http://localhost:${hook.port}/hook` });
    expect(hook.received.map((r) => r.url)).toEqual(['/hook']);
  });

  it('matches a wildcard entry to names below the domain, never the domain itself', async () => {
    const { resolve } = fixedResolver({ 'a.hooks.test': ['127.0.0.1'], 'hooks.test': ['127.0.0.1'] });
    const notifier = notifierFor({ private: `http://*.hooks.test:${hook.port}` }, resolve);
    await notifier.notify({ ...event, webhookUrl: `http://a.hooks.test:${hook.port}/w` });
    await expect(
      notifier.notify({ ...event, webhookUrl: `http://hooks.test:${hook.port}/w` }),
    ).rejects.toEqual(refused(/not in/));
    expect(hook.received.map((r) => r.headers.host)).toEqual([`a.hooks.test:${hook.port}`]);
  });

  it('resolves the host once and connects to the address it checked, not to a second lookup', async () => {
    // The system resolver does not know hooks.test: the delivery arriving proves the socket used the
    // checked address, and one question proves there was no second lookup to rebind.
    const { resolve, asked } = fixedResolver({ 'hooks.test': ['127.0.0.1'] });
    const notifier = notifierFor({ private: `http://hooks.test:${hook.port}` }, resolve);
    await notifier.notify({ ...event, webhookUrl: `http://hooks.test:${hook.port}/pinned` });
    expect(asked).toEqual(['hooks.test']);
    expect(hook.received.map((r) => [r.url, r.headers.host])).toEqual([
      ['/pinned', `hooks.test:${hook.port}`],
    ]);
  });

  it('refuses a name when any one of its addresses is private, even if another is public', async () => {
    const { resolve } = fixedResolver({ 'mixed.test': ['93.184.215.14', '127.0.0.1'] });
    const notifier = notifierFor({ allowed: `http://mixed.test:${hook.port}` }, resolve);
    await expect(
      notifier.notify({ ...event, webhookUrl: `http://mixed.test:${hook.port}/x` }),
    ).rejects.toEqual(refused(/127\.0\.0\.1 is loopback/));
    expect(hook.received).toHaveLength(0);
  });

  it('refuses the cloud metadata address, as a literal and behind a private-marked name', async () => {
    const notifier = notifierFor({ allowed: 'hooks.example.com' });
    await expect(
      notifier.notify({ ...event, webhookUrl: 'http://169.254.169.254/latest/meta-data/iam/' }),
    ).rejects.toEqual(refused(/host 169\.254\.169\.254 is not in/));
    expect(() => webhookAllowlist({ private: 'http://169.254.169.254' })).toThrow(/cloud metadata/);
    const { resolve } = fixedResolver({ 'metadata.test': ['169.254.169.254'] });
    await expect(
      notifierFor({ private: 'http://metadata.test' }, resolve).notify({
        ...event,
        webhookUrl: 'http://metadata.test/latest/meta-data/',
      }),
    ).rejects.toEqual(refused(/the cloud metadata service, never a webhook target/));
  });

  it('refuses an IPv4-mapped IPv6 loopback, as a literal and as a resolved address', async () => {
    await expect(
      notifierFor({ allowed: 'hooks.example.com' }).notify({
        ...event,
        webhookUrl: `http://[::ffff:127.0.0.1]:${hook.port}/hook`,
      }),
    ).rejects.toEqual(refused(/host \[::ffff:7f00:1\] is not in/));
    expect(() => webhookAllowlist({ allowed: `http://[::ffff:127.0.0.1]:${hook.port}` })).toThrow(
      /IPv4-mapped 127\.0\.0\.1\) is loopback/,
    );
    const { resolve } = fixedResolver({ 'mapped.test': ['::ffff:127.0.0.1'] });
    await expect(
      notifierFor({ allowed: `http://mapped.test:${hook.port}` }, resolve).notify({
        ...event,
        webhookUrl: `http://mapped.test:${hook.port}/hook`,
      }),
    ).rejects.toEqual(refused(/IPv4-mapped 127\.0\.0\.1\) is loopback/));
    expect(hook.received).toHaveLength(0);
  });

  it('does not follow a redirect, and does not retry one', async () => {
    const notifier = notifierFor({ private: `http://localhost:${hook.port}` });
    await expect(
      notifier.notify({ ...event, webhookUrl: `http://localhost:${hook.port}/moved` }),
    ).rejects.toEqual(refused(/answered 307 .* redirects are not followed/));
    expect(hook.received.map((r) => r.url)).toEqual(['/moved']);
  });

  it('carries the delivery id the activity gives it, so a receiver can drop a retried duplicate', async () => {
    const notifier = notifierFor({ private: `http://localhost:${hook.port}` });
    const webhookUrl = `http://localhost:${hook.port}/hook`;
    await notifier.notify({ ...event, webhookUrl, deliveryId: 'd-1' });
    await notifier.notify({ ...event, webhookUrl, deliveryId: 'd-1' });
    expect(hook.received.map((r) => r.headers['x-rekey-delivery'])).toEqual(['d-1', 'd-1']);
  });
});

// HTTPS with the harness's certificate for `localhost` (the reference Key Vault's): the socket goes to
// the pinned address, and the certificate is still checked against the URL's name.
const tlsUnavailable = referenceKeyVaultUnavailableReason();
(tlsUnavailable ? describe.skip : describe)('webhook targets over https', () => {
  let hook: Receiver;
  beforeAll(async () => {
    const p = keyVaultPaths();
    const cert = readFileSync(p.certPem, 'utf8');
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), cert]);
    const r = { received: [] as Receiver['received'], answer: 204 };
    hook = await listen(createTlsServer({ cert, key: readFileSync(p.keyPem, 'utf8') }, handler(r)), r);
  });
  afterAll(() => hook?.close());

  it('delivers over https to an allowlisted host, verifying its certificate', async () => {
    await notifierFor({ private: `localhost:${hook.port}` }).notify({
      ...event,
      webhookUrl: `https://localhost:${hook.port}/tls`,
    });
    expect(hook.received.map((r) => r.url)).toEqual(['/tls']);
  });

  it('checks the certificate against the name, not the pinned address', async () => {
    hook.received.length = 0;
    const { resolve } = fixedResolver({ 'other-name.test': ['127.0.0.1'] });
    await expect(
      notifierFor({ private: `other-name.test:${hook.port}` }, resolve).notify({
        ...event,
        webhookUrl: `https://other-name.test:${hook.port}/tls`,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(hook.received).toHaveLength(0);
  });
});
