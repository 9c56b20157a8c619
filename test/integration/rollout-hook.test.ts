import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createActivities } from '../../activities';
import { loadSettings } from '../../config';
import { parseRegistry } from '../../config/registry';
import { buildActivityDeps } from '../../worker';
import { EMULATOR_ENV } from '../helpers/emulator-env';

// callRolloutHook as the worker wires it (buildActivityDeps from settings), against a real HTTP
// receiver on loopback reached by the name `localhost` and the system resolver. The rollout hook URL
// comes from the policy, so it follows the ticket webhooks' allowlist: allowlisted host, checked and
// pinned addresses (loopback only for a REKEY_WEBHOOK_PRIVATE_HOSTS entry), no redirect.
const registry = parseRegistry(
  readFileSync(path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml'), 'utf8'),
  'rollout hook test registry',
);

const received: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let answer = 200;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    received.push({ url: req.url ?? '', headers: req.headers, body });
    if (req.url === '/moved') res.writeHead(307, { location: '/elsewhere' }).end();
    else res.writeHead(answer).end();
  });
});
let port: number;

beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
beforeEach(() => {
  received.length = 0;
  answer = 200;
});

/** The worker's activities with these allowlist settings. */
const hookWith = (lists: { REKEY_WEBHOOK_ALLOWED_HOSTS?: string; REKEY_WEBHOOK_PRIVATE_HOSTS?: string }) =>
  createActivities(buildActivityDeps(loadSettings(lists), { registry, env: EMULATOR_ENV }));

const call = (activities: ReturnType<typeof hookWith>, url: string) =>
  activities.callRolloutHook({ rotationId: 'prod:key:CHG-7', url, version: 'v42' });

const rejected = (message: RegExp): unknown =>
  expect.objectContaining({
    type: 'RolloutHookRejected',
    nonRetryable: true,
    message: expect.stringMatching(message),
  });

describe('callRolloutHook', () => {
  it('refuses a hook host that is not allowlisted, sending nothing and not retrying', async () => {
    await expect(call(hookWith({}), `http://localhost:${port}/rollout`)).rejects.toEqual(
      rejected(/^rollout hook refused: .*REKEY_WEBHOOK_ALLOWED_HOSTS is not set/),
    );
    const other = hookWith({ REKEY_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' });
    await expect(call(other, `http://localhost:${port}/rollout`)).rejects.toEqual(
      rejected(/webhook host localhost is not in REKEY_WEBHOOK_ALLOWED_HOSTS/),
    );
    await expect(call(other, 'http://169.254.169.254/latest/meta-data/')).rejects.toEqual(
      rejected(/webhook host 169\.254\.169\.254 is not in REKEY_WEBHOOK_ALLOWED_HOSTS/),
    );
    expect(received).toHaveLength(0);
  });

  it('refuses an allowlisted host that resolves to loopback unless it is listed as private', async () => {
    const hook = hookWith({ REKEY_WEBHOOK_ALLOWED_HOSTS: `http://localhost:${port}` });
    await expect(call(hook, `http://localhost:${port}/rollout`)).rejects.toEqual(
      rejected(/localhost resolves to .* is loopback.*only an entry of REKEY_WEBHOOK_PRIVATE_HOSTS/),
    );
    expect(received).toHaveLength(0);
  });

  it('posts the version with the idempotency key to a REKEY_WEBHOOK_PRIVATE_HOSTS entry', async () => {
    const hook = hookWith({ REKEY_WEBHOOK_PRIVATE_HOSTS: `http://localhost:${port}` });
    answer = 202;
    await expect(call(hook, `http://localhost:${port}/rollout?env=prod`)).resolves.toBe(202);
    expect(received).toHaveLength(1);
    const [{ url, headers, body }] = received as [(typeof received)[number]];
    expect(url).toBe('/rollout?env=prod');
    expect(headers['idempotency-key']).toBe('prod:key:CHG-7:rollout');
    expect(headers['content-type']).toBe('application/json');
    expect(JSON.parse(body)).toEqual({ rotationId: 'prod:key:CHG-7', secretVersion: 'v42' });
  });

  it('does not follow a redirect, and does not retry one', async () => {
    const hook = hookWith({ REKEY_WEBHOOK_PRIVATE_HOSTS: `http://localhost:${port}` });
    await expect(call(hook, `http://localhost:${port}/moved`)).rejects.toEqual(
      rejected(/^rollout hook refused: answered 307: redirects are not followed/),
    );
    expect(received.map((r) => r.url)).toEqual(['/moved']);
  });

  it('keeps its status handling: 5xx and 429 retryable, another 4xx not', async () => {
    const hook = hookWith({ REKEY_WEBHOOK_PRIVATE_HOSTS: `http://localhost:${port}` });
    for (const status of [503, 429]) {
      answer = status;
      const failure = call(hook, `http://localhost:${port}/rollout`);
      await expect(failure).rejects.toThrow(`rollout hook answered ${status}`);
      await expect(failure).rejects.not.toMatchObject({ nonRetryable: true });
    }
    answer = 404;
    await expect(call(hook, `http://localhost:${port}/rollout`)).rejects.toEqual(
      rejected(/^rollout hook answered 404$/),
    );
    expect(received).toHaveLength(3);
  });
});
