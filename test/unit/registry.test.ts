import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadRegistry, parseRegistry, RegistryError } from '../../config/registry';

const example = path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml');
const AZURE = `    secret:
      backend: azure-key-vault
      vault_url: https://kv.vault.azure.net
      name: k
`;
const entry = (extra: string, secret = AZURE) => `credentials:
  - name: k
    environment: production
${secret}    gateway:
      base_url: https://gw.example/v1
      admin_adapter: litellm
      admin_base_url: https://gw.example
${extra}
    telemetry:
      adapter: litellm-spend-logs
    consumers:
      - app: a
        environment: production
        reload: dynamic
`;

/** An admin key someone pasted into the registry, made up per run. */
const inlineKey = `sk-${randomBytes(12).toString('hex')}`;

describe('the credential registry', () => {
  it('loads the example registry and resolves a credential to references only', () => {
    const registry = loadRegistry(example);
    expect(registry.names()).toEqual([
      'flatkey-router-key',
      'litellm-platform-key',
      'openrouter-research-key',
    ]);
    expect(registry.lookup('flatkey-router-key', 'production')).toEqual({
      name: 'flatkey-router-key',
      environment: 'production',
      secret: {
        backend: 'azure-key-vault',
        vaultUrl: 'https://kv-platform-prod.vault.azure.net',
        secretName: 'flatkey-router-key',
        pendingSecretName: 'flatkey-router-key-pending',
      },
      gatewayBaseUrl: 'https://router.flatkey.ai/v1',
      adminAdapter: 'manual',
      consumers: [
        { app: 'customer-chat-api', environment: 'production', reload: 'dynamic' },
        { app: 'enrichment-worker', environment: 'production', reload: 'restart' },
      ],
    });
    expect(registry.lookup('flatkey-router-key', 'staging')).toBeUndefined();
    expect(registry.lookup('litellm-platform-key', 'production')?.secret).toEqual({
      backend: 'hashicorp-vault',
      address: 'https://vault.internal:8200',
      mount: 'secret',
      path: 'platform/litellm-platform-key',
      pendingPath: 'platform/litellm-platform-key-pending',
      field: 'api_key',
    });
    expect(registry.lookup('openrouter-research-key', 'staging')?.secret).toEqual({
      backend: 'aws-secrets-manager',
      region: 'eu-west-1',
      secretId: 'research/openrouter-key',
    });
    expect(registry.entries.find((c) => c.name === 'openrouter-research-key')?.gateway.status_check).toBe(
      'key',
    );
  });

  it('refuses an admin key written inline, pointing to the secret store', () => {
    expect(() =>
      parseRegistry(entry(`      admin_key: ${inlineKey}\n      admin_key_secret: m`), 'r.yaml'),
    ).toThrow(/r\.yaml: credentials\.0\.gateway: .*admin keys live in the secret store/);
  });

  it('needs the admin key secret and admin URL for automated gateways', () => {
    expect(() => parseRegistry(entry(''), 'r.yaml')).toThrow(
      /litellm needs admin_base_url and admin_key_secret/,
    );
    expect(() => parseRegistry(entry('      admin_key_secret: litellm-master'), 'r.yaml')).not.toThrow();
  });

  it('refuses a credential registered twice for one environment', () => {
    const one = entry('      admin_key_secret: m');
    const twice = one + one.split('\n').slice(1).join('\n');
    expect(() => parseRegistry(twice, 'r.yaml')).toThrow(/k is registered twice for production/);
  });

  it('refuses a pending secret named like the stable one, whatever the case', () => {
    const entryWith = entry('      admin_key_secret: m').replace(
      '      name: k\n',
      '      name: k\n      pending_name: K\n',
    );
    expect(() => parseRegistry(entryWith, 'r.yaml')).toThrow(
      /secret\.pending_name: must differ from the stable name \(Key Vault names ignore case\)/,
    );
    const vault = `    secret:
      backend: hashicorp-vault
      address: http://127.0.0.1:8200
      path: apps/k
      pending_path: apps/k
`;
    expect(() => parseRegistry(entry('      admin_key_secret: m', vault), 'r.yaml')).toThrow(
      /secret\.pending_path: must differ from the stable path/,
    );
    // KV v2 paths are case-sensitive: apps/K and apps/k are two secrets.
    expect(() =>
      parseRegistry(
        entry('      admin_key_secret: m', vault.replace('pending_path: apps/k', 'pending_path: apps/K')),
        'r.yaml',
      ),
    ).not.toThrow();
  });

  it('reads the pre-0.3 Azure-only fields as an azure-key-vault location', () => {
    const legacy = entry(
      '      admin_key_secret: m',
      '    vault_url: https://kv.vault.azure.net/\n    secret_name: k\n    pending_secret_name: k-next\n',
    );
    expect(parseRegistry(legacy, 'r.yaml').lookup('k', 'production')?.secret).toEqual({
      backend: 'azure-key-vault',
      vaultUrl: 'https://kv.vault.azure.net',
      secretName: 'k',
      pendingSecretName: 'k-next',
    });
    // Both forms at once is ambiguous: the legacy fields are then unknown keys.
    expect(() => parseRegistry(legacy.replace('    gateway:', `${AZURE}    gateway:`), 'r.yaml')).toThrow(
      /r\.yaml: credentials\.0: .*vault_url/,
    );
  });

  it('names what is wrong in a location, by backend', () => {
    const bad = (secret: string) => () => parseRegistry(entry('      admin_key_secret: m', secret), 'r.yaml');
    expect(bad('    secret:\n      backend: gcp-secret-manager\n      name: k\n')).toThrow(
      /r\.yaml: credentials\.0\.secret\.backend: /,
    );
    expect(
      bad('    secret:\n      backend: aws-secrets-manager\n      region: mars\n      secret_id: k\n'),
    ).toThrow(/credentials\.0\.secret\.region: an AWS region/);
    expect(
      bad('    secret:\n      backend: hashicorp-vault\n      address: http://v:8200\n      path: /abs\n'),
    ).toThrow(/credentials\.0\.secret\.path: a KV v2 path/);
  });

  it("refuses one credential's pending secret being another's stable secret in the same vault", () => {
    const a = entry('      admin_key_secret: m');
    const b = a
      .split('\n')
      .slice(1)
      .join('\n')
      .replace('  - name: k\n', '  - name: k-pending\n')
      .replace('      name: k\n', '      name: K-Pending\n');
    expect(() => parseRegistry(a + b, 'r.yaml')).toThrow(
      /secret K-Pending in https:\/\/kv.vault.azure.net is used by both production\/k and production\/k-pending/,
    );
  });

  it('refuses two credentials on one AWS secret, and lets distinct stores reuse a name', () => {
    const aws = (region: string) =>
      `    secret:\n      backend: aws-secrets-manager\n      region: ${region}\n      secret_id: shared/k\n`;
    const a = entry('      admin_key_secret: m', aws('eu-west-1'));
    const b = (region: string) =>
      entry('      admin_key_secret: m', aws(region))
        .split('\n')
        .slice(1)
        .join('\n')
        .replace('  - name: k\n', '  - name: k2\n');
    expect(() => parseRegistry(a + b('eu-west-1'), 'r.yaml')).toThrow(
      /secret shared\/k in aws-secrets-manager:eu-west-1 is used by both production\/k and production\/k2/,
    );
    expect(() => parseRegistry(a + b('us-east-1'), 'r.yaml')).not.toThrow();
  });

  it('needs the admin key where gateway-usage telemetry reads the admin API, also for manual gateways', () => {
    const manual = entry('').replace('admin_adapter: litellm', 'admin_adapter: manual');
    expect(() =>
      parseRegistry(manual.replace('      admin_base_url: https://gw.example\n', ''), 'r.yaml'),
    ).toThrow(/litellm-spend-logs reads the gateway's admin API/);
    expect(() =>
      parseRegistry(manual.replace('\n\n', '\n      admin_key_secret: m\n'), 'r.yaml'),
    ).not.toThrow();
  });

  it('needs no admin key for a manual gateway on Prometheus or app-reported telemetry', () => {
    const bare = entry('')
      .replace('admin_adapter: litellm', 'admin_adapter: manual')
      .replace('      admin_base_url: https://gw.example\n', '');
    const withTelemetry = (yaml: string) => bare.replace('      adapter: litellm-spend-logs\n', yaml);
    const prometheus = parseRegistry(
      withTelemetry('      adapter: prometheus\n      url: http://prometheus:9090\n'),
      'r.yaml',
    );
    expect(prometheus.entries[0]!.telemetry).toEqual({
      adapter: 'prometheus',
      url: 'http://prometheus:9090',
    });
    expect(prometheus.entries[0]!.gateway.admin_key_secret).toBeUndefined();
    const reports = parseRegistry(withTelemetry('      adapter: app-reports\n'), 'r.yaml');
    expect(reports.entries[0]!.telemetry.adapter).toBe('app-reports');
    // The message says what every adapter needs, so the fix is in the error.
    expect(() => parseRegistry(bare, 'r.yaml')).toThrow(
      /litellm-spend-logs reads the gateway's admin API: set gateway\.admin_base_url and gateway\.admin_key_secret \(or use telemetry prometheus needs only url \(no admin key\), or app-reports needs no admin key/,
    );
    expect(() => parseRegistry(withTelemetry('      adapter: prometheus\n'), 'r.yaml')).toThrow(
      /credentials\.0\.telemetry\.url/,
    );
  });

  it('takes the per-key signals a deployment cannot see, and refuses a signal it does not know', () => {
    const withList = (list: string) =>
      entry('      admin_key_secret: m').replace(
        '      adapter: litellm-spend-logs\n',
        `      adapter: litellm-spend-logs\n      unobservable: ${list}\n`,
      );
    const registry = parseRegistry(withList('[latency, perConsumer]'), 'r.yaml');
    expect(registry.entries[0]!.telemetry.unobservable).toEqual(['latency', 'perConsumer']);
    expect(
      parseRegistry(entry('      admin_key_secret: m'), 'r.yaml').entries[0]!.telemetry.unobservable,
    ).toBe(undefined);
    expect(() => parseRegistry(withList('[errors]'), 'r.yaml')).toThrow(
      /r\.yaml: credentials\.0\.telemetry\.unobservable\.0: /,
    );
  });

  it('names the file when it is missing or not YAML', () => {
    expect(() => loadRegistry('/nonexistent/credentials.yaml')).toThrow(RegistryError);
    expect(() => parseRegistry('credentials: [', 'bad.yaml')).toThrow(/bad\.yaml: not valid YAML/);
    expect(readFileSync(example, 'utf8')).not.toMatch(/sk-[A-Za-z0-9]/);
  });
});

describe('paired credentials in the registry', () => {
  const credential = (name: string, extra = '') => `  - name: ${name}
    environment: production
    secret:
      backend: azure-key-vault
      vault_url: https://kv.vault.azure.net
      name: ${name}
    gateway:
      base_url: https://gw.example/v1
      admin_adapter: litellm
      admin_base_url: https://gw.example
      admin_key_secret: admin
    telemetry:
      adapter: litellm-spend-logs
    consumers:
      - app: shared-app
        environment: production
        reload: dynamic
${extra}`;

  it('pair both ways, whichever side names the other, and reach the rotation in its credential', () => {
    const registry = parseRegistry(
      `credentials:\n${credential('a', '    paired_with: [b]\n')}${credential('b')}${credential('c', '    paired_with: [a]\n')}${credential('d')}`,
      'r.yaml',
    );
    expect(registry.lookup('a', 'production')?.pairedWith).toEqual(['b', 'c']);
    expect(registry.lookup('b', 'production')?.pairedWith).toEqual(['a']);
    expect(registry.lookup('c', 'production')?.pairedWith).toEqual(['a']);
    // Unpaired: no field at all (the rotation takes no pair holds).
    expect(registry.lookup('d', 'production')).not.toHaveProperty('pairedWith');
  });

  it('refuse a pair that names no other credential of the environment', () => {
    expect(() =>
      parseRegistry(`credentials:\n${credential('a', '    paired_with: [ghost]\n')}`, 'r.yaml'),
    ).toThrow(/paired_with names ghost, which is not another credential of production/);
    expect(() =>
      parseRegistry(`credentials:\n${credential('a', '    paired_with: [a]\n')}`, 'r.yaml'),
    ).toThrow(RegistryError);
  });
});
