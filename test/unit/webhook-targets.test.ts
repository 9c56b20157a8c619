import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadSettings } from '../../config';
import { webhookAllowlistOf } from '../../config/settings';
import { rotationPolicySchema, type RotationPolicy } from '../../domain/policy';
import {
  addressRefusal,
  checkWebhookUrl,
  NO_WEBHOOK_TARGETS,
  parseWebhookTargets,
  unmappedIPv4,
  webhookAllowlist,
  webhookRefusal,
} from '../../domain/webhook-targets';

describe('webhook address ranges', () => {
  // [address, what the refusal names] for every range a webhook must not reach without being marked private.
  const privateRanges: [string, RegExp][] = [
    ['10.1.2.3', /private \(RFC 1918, 10\/8\)/],
    ['172.16.0.1', /RFC 1918, 172\.16\/12/],
    ['172.31.255.254', /RFC 1918, 172\.16\/12/],
    ['192.168.1.1', /RFC 1918, 192\.168\/16/],
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['169.254.10.20', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.254', /carrier-grade NAT/],
    ['198.18.0.1', /benchmarking/],
    ['192.0.2.10', /documentation/],
    ['::1', /loopback/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fe80::1', /link-local/],
    ['febf::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['64:ff9b::7f00:1', /NAT64/],
    ['2002:7f00:1::1', /6to4/],
    ['2001:0:4136:e378::1', /Teredo/],
    ['2001:db8::1', /documentation/],
    // IPv4-mapped IPv6, in each spelling a resolver or a URL may use.
    ['::ffff:127.0.0.1', /IPv4-mapped 127\.0\.0\.1\) is loopback/],
    ['::ffff:7f00:1', /IPv4-mapped 127\.0\.0\.1\) is loopback/],
    ['0:0:0:0:0:ffff:a00:1', /IPv4-mapped 10\.0\.0\.1\) is private/],
    ['::ffff:169.254.1.1', /IPv4-mapped 169\.254\.1\.1\) is link-local/],
    ['::ffff:100.64.0.1', /IPv4-mapped 100\.64\.0\.1\) is carrier-grade NAT/],
  ];
  it.each(privateRanges)('refuses %s unless the host is marked private', (address, named) => {
    expect(addressRefusal(address, false)).toMatch(named);
    expect(addressRefusal(address, true)).toBeUndefined();
  });

  const neverRanges: [string, RegExp][] = [
    ['169.254.169.254', /cloud metadata/],
    ['::ffff:169.254.169.254', /cloud metadata/],
    ['169.254.170.2', /ECS task metadata/],
    ['fd00:ec2::254', /EC2 IPv6 metadata/],
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['::', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['ff02::1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['::127.0.0.1', /not global unicast/],
    ['100::1', /discard-only/],
  ];
  it.each(neverRanges)('refuses %s even for a host marked private', (address, named) => {
    expect(addressRefusal(address, true)).toMatch(named);
    expect(addressRefusal(address, true)).toMatch(/never a webhook target/);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
  ])('lets the public address %s through', (address) => {
    expect(addressRefusal(address, false)).toBeUndefined();
  });

  it('refuses what is not an IP address at all', () => {
    expect(addressRefusal('localhost', true)).toMatch(/not an IP address/);
  });

  it('reads the IPv4 address an IPv4-mapped IPv6 address stands for, and nothing else', () => {
    expect(unmappedIPv4('::ffff:192.168.0.1')).toBe('192.168.0.1');
    expect(unmappedIPv4('::FFFF:C0A8:0001')).toBe('192.168.0.1');
    expect(unmappedIPv4('::1')).toBeUndefined();
    expect(unmappedIPv4('192.168.0.1')).toBeUndefined();
    expect(unmappedIPv4('64:ff9b::c0a8:1')).toBeUndefined();
  });
});

describe('webhook allowlist entries', () => {
  it('reads hosts, wildcards, ports and an http:// marker, normalised', () => {
    expect(
      parseWebhookTargets(
        ' Hooks.Example.com , *.tickets.example.com:8443,http://plain.example.com:8080',
        false,
      ),
    ).toEqual([
      expect.objectContaining({ scheme: 'https', host: 'hooks.example.com', subdomains: false, port: 443 }),
      expect.objectContaining({ scheme: 'https', host: 'tickets.example.com', subdomains: true, port: 8443 }),
      expect.objectContaining({ scheme: 'http', host: 'plain.example.com', subdomains: false, port: 8080 }),
    ]);
    expect(parseWebhookTargets('http://hooks.internal', true)).toEqual([
      expect.objectContaining({ port: 80, allowPrivate: true }),
    ]);
    expect(parseWebhookTargets(undefined, false)).toEqual([]);
    expect(parseWebhookTargets(' , ', false)).toEqual([]);
  });

  it.each([
    ['https://hooks.example.com/path', /without path/],
    ['hooks.example.com?x=1', /without path/],
    ['user@hooks.example.com', /credentials/],
    ['ftp://hooks.example.com', /expected/],
    ['*', /expected/],
    ['*.com', /two labels/],
    ['*.10.0.0.1', /two labels/],
    ['hooks.*.example.com', /expected/],
    ['hooks.example.com:0', /port 0/],
    ['hooks.example.com:99999', /not a valid/],
    ['127.0.0.1', /loopback .*REKEY_WEBHOOK_PRIVATE_HOSTS/],
    ['[::ffff:10.0.0.1]', /IPv4-mapped 10\.0\.0\.1\) is private/],
  ])('refuses the entry %s', (entry, why) => {
    expect(() => parseWebhookTargets(entry, false)).toThrow(why);
  });

  it('refuses a metadata address even as a private entry', () => {
    expect(() => parseWebhookTargets('http://169.254.169.254', true)).toThrow(/cloud metadata/);
    expect(parseWebhookTargets('http://127.0.0.1:9000', true)).toHaveLength(1);
  });
});

describe('webhook URLs against the allowlist', () => {
  const allowlist = webhookAllowlist({
    allowed: 'hooks.example.com,*.tickets.example.com,http://plain.example.com:8080',
    private: 'http://localhost:9000,http://10.0.0.5',
  });
  const admitted = (url: string) => {
    const r = checkWebhookUrl(url, allowlist);
    return 'admitted' in r
      ? { host: r.admitted.host, port: r.admitted.port, private: r.admitted.allowPrivate }
      : r;
  };

  it('admits allowlisted hosts on their scheme and port, any path', () => {
    expect(admitted('https://hooks.example.com/a/b?c=d')).toEqual({
      host: 'hooks.example.com',
      port: 443,
      private: false,
    });
    expect(admitted('https://HOOKS.example.com.:443/x')).toEqual({
      host: 'hooks.example.com',
      port: 443,
      private: false,
    });
    expect(admitted('https://a.b.tickets.example.com/')).toEqual({
      host: 'a.b.tickets.example.com',
      port: 443,
      private: false,
    });
    expect(admitted('http://plain.example.com:8080/h')).toEqual({
      host: 'plain.example.com',
      port: 8080,
      private: false,
    });
    expect(admitted('http://localhost:9000/h')).toEqual({ host: 'localhost', port: 9000, private: true });
    expect(admitted('http://10.0.0.5/h')).toEqual({ host: '10.0.0.5', port: 80, private: true });
  });

  it.each([
    ['https://evil.example.com/', /host evil\.example\.com is not in REKEY_WEBHOOK_ALLOWED_HOSTS/],
    ['https://hooks.example.com.evil.com/', /not in/],
    ['https://tickets.example.com/', /host tickets\.example\.com is not in/],
    ['https://xtickets.example.com/', /not in/],
    ['http://hooks.example.com/', /only as https/],
    ['https://hooks.example.com:8443/', /is not allowed/],
    ['https://plain.example.com:8080/', /only as http/],
    ['http://localhost:9001/', /is not allowed/],
    ['https://user:secret@hooks.example.com/', /must not carry credentials/],
    ['ftp://hooks.example.com/', /must be https/],
    ['file:///etc/passwd', /must be https/],
    ['not a url', /not a valid URL/],
    ['http://169.254.169.254/latest/meta-data/', /host 169\.254\.169\.254 is not in/],
    ['http://[::ffff:127.0.0.1]:9000/', /host \[::ffff:7f00:1\] is not in/],
    ['http://2130706433:9000/', /host 127\.0\.0\.1 is not in/],
  ])('refuses %s', (url, why) => {
    expect(checkWebhookUrl(url, allowlist)).toEqual({ refusal: expect.stringMatching(why) });
  });

  it('compares hosts as the URL parser reads them, so odd spellings of an address are the same host', () => {
    expect(admitted('http://0x0a.0.0.5/')).toEqual({ host: '10.0.0.5', port: 80, private: true });
    expect(admitted('http://167772165/')).toEqual({ host: '10.0.0.5', port: 80, private: true });
  });

  it('refuses every webhook when neither setting is set', () => {
    expect(checkWebhookUrl('https://hooks.example.com/', NO_WEBHOOK_TARGETS)).toEqual({
      refusal: expect.stringMatching(/REKEY_WEBHOOK_ALLOWED_HOSTS is not set/),
    });
    expect(checkWebhookUrl('https://hooks.example.com/', undefined)).toHaveProperty('refusal');
  });

  it('checks a literal address of an allowlist built in code, too', () => {
    const built = {
      targets: [
        {
          entry: 'x',
          scheme: 'http' as const,
          host: '127.0.0.1',
          subdomains: false,
          port: 80,
          allowPrivate: false,
        },
      ],
    };
    expect(checkWebhookUrl('http://127.0.0.1/', built)).toEqual({
      refusal: expect.stringMatching(/127\.0\.0\.1 is loopback/),
    });
  });
});

describe('the API start check', () => {
  const seed = parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'seed-policy.yaml'), 'utf8')) as {
    rotation: Record<string, unknown>;
  };
  const policyWith = (webhook_url?: string): RotationPolicy =>
    rotationPolicySchema.parse({
      rotation: { ...seed.rotation, change_ticket: { id: 'CHG-1', ...(webhook_url ? { webhook_url } : {}) } },
    });
  const allowlist = webhookAllowlist({ allowed: 'hooks.example.com' });

  it('passes a policy without a webhook, or with an allowlisted one', () => {
    expect(webhookRefusal(policyWith(), NO_WEBHOOK_TARGETS)).toBeUndefined();
    expect(webhookRefusal(rotationPolicySchema.parse(seed), undefined)).toBeUndefined();
    expect(webhookRefusal(policyWith('https://hooks.example.com/rekey'), allowlist)).toBeUndefined();
  });

  it('names the field, the host and the setting when it refuses', () => {
    expect(webhookRefusal(policyWith('https://internal.corp:8443/admin'), allowlist)).toBe(
      'rotation.change_ticket.webhook_url: webhook host internal.corp is not in REKEY_WEBHOOK_ALLOWED_HOSTS (nor REKEY_WEBHOOK_PRIVATE_HOSTS)',
    );
    expect(webhookRefusal(policyWith('https://hooks.example.com/rekey'), undefined)).toMatch(
      /^rotation\.change_ticket\.webhook_url: webhook host hooks\.example\.com is refused: REKEY_WEBHOOK_ALLOWED_HOSTS is not set/,
    );
  });

  it('refuses a rollout hook outside the allowlist too, naming its field', () => {
    const withHook = (rollout_hook_url: string, webhook_url?: string): RotationPolicy =>
      rotationPolicySchema.parse({
        rotation: {
          ...seed.rotation,
          change_ticket: { id: 'CHG-1', ...(webhook_url ? { webhook_url } : {}) },
          cutover: { ...(seed.rotation.cutover as object), rollout_hook_url },
        },
      });
    expect(webhookRefusal(withHook('https://hooks.example.com/rollout'), allowlist)).toBeUndefined();
    expect(webhookRefusal(withHook('http://169.254.169.254/latest/meta-data/'), allowlist)).toBe(
      'rotation.cutover.rollout_hook_url: webhook host 169.254.169.254 is not in REKEY_WEBHOOK_ALLOWED_HOSTS (nor REKEY_WEBHOOK_PRIVATE_HOSTS)',
    );
    expect(webhookRefusal(withHook('https://hooks.example.com/rollout'), undefined)).toMatch(
      /^rotation\.cutover\.rollout_hook_url: webhook host hooks\.example\.com is refused: REKEY_WEBHOOK_ALLOWED_HOSTS is not set/,
    );
    // Both fields refused: both named, so one correction fixes the policy.
    expect(
      webhookRefusal(withHook('https://deploy.internal/', 'https://internal.corp/admin'), allowlist),
    ).toBe(
      'rotation.change_ticket.webhook_url: webhook host internal.corp is not in REKEY_WEBHOOK_ALLOWED_HOSTS (nor REKEY_WEBHOOK_PRIVATE_HOSTS); ' +
        'rotation.cutover.rollout_hook_url: webhook host deploy.internal is not in REKEY_WEBHOOK_ALLOWED_HOSTS (nor REKEY_WEBHOOK_PRIVATE_HOSTS)',
    );
  });

  it('leaves only http and https URLs to the policy schema', () => {
    expect(() => policyWith('ftp://hooks.example.com/')).toThrow(/https \(or http\) URL/);
    expect(() => policyWith('gopher://127.0.0.1:6379/_FLUSHALL')).toThrow(/https \(or http\) URL/);
  });
});

describe('the webhook settings', () => {
  it('are unset by default, so no webhook is allowed', () => {
    expect(webhookAllowlistOf(loadSettings({})).targets).toEqual([]);
  });

  it('build one allowlist from both variables', () => {
    const s = loadSettings({
      REKEY_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com',
      REKEY_WEBHOOK_PRIVATE_HOSTS: 'http://localhost:9000',
    });
    expect(webhookAllowlistOf(s).targets.map((t) => [t.host, t.allowPrivate])).toEqual([
      ['hooks.example.com', false],
      ['localhost', true],
    ]);
  });

  it('stop at load with one line naming the variable and the bad entry', () => {
    expect(() =>
      loadSettings({ REKEY_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com,https://x.example.com/p' }),
    ).toThrow(ConfigError);
    expect(() => loadSettings({ REKEY_WEBHOOK_ALLOWED_HOSTS: '10.0.0.1' })).toThrow(
      /^REKEY_WEBHOOK_ALLOWED_HOSTS: "10\.0\.0\.1": 10\.0\.0\.1 is private .*\(got "10\.0\.0\.1"\)$/,
    );
    expect(() => loadSettings({ REKEY_WEBHOOK_PRIVATE_HOSTS: '*.com' })).toThrow(
      /^REKEY_WEBHOOK_PRIVATE_HOSTS: /,
    );
  });
});
