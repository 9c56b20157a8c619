import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { loadSettings, settingsSchema } from '../../config/settings';

// No Docker engine runs on rekey's machines, so docker-compose.yml and the Dockerfile are checked here:
// against the Compose Specification's JSON schema, and against the code they start (settings, npm
// scripts, ports, service names).
//
// The schema is vendored from the compose-spec repository, schema/compose-spec.json at commit
// 00655e2222608fa6eaecdf12ac5195889ca2244a (github.com/compose-spec/compose-spec; upstream bytes have
// SHA-256 bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735), reformatted by Prettier
// only. Validated with ajv 8.20.0 (pinned in package.json).

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, unknown> | string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  user?: string;
}
interface ComposeFile {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const compose = parse(read('docker-compose.yml')) as ComposeFile;
const services = compose.services;
const scripts = Object.keys(
  (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
);
const settingNames = Object.keys(settingsSchema.shape);
const readme = read('README.md');
const demoEnvFile = 'scripts/demo/compose.env';
const demoEnv = Object.fromEntries(
  read(demoEnvFile)
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
) as Record<string, string>;

/** Compose's `${VAR:-default}` / `${VAR}` interpolation against the given variables. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) =>
    vars[name] ? vars[name] : (fallback ?? ''),
  );
}
const envOf = (name: string, vars: Record<string, string> = {}) =>
  Object.fromEntries(
    Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]),
  );

/** Container ports a service publishes (`host:container` → container). */
const containerPorts = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':').pop()));
const hostPorts = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':')[0]));
const rekeyImageServices = Object.entries(services).filter(([, s]) => s.build !== undefined);

// Variables that are not rekey settings but are read by what rekey runs on: Node (the emulator's CA) and
// @azure/identity's DefaultAzureCredential. Each must be documented in the README.
const DOCUMENTED_NON_SETTINGS = [
  'NODE_EXTRA_CA_CERTS',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
];

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(read('test/fixtures/compose-spec/compose-spec.json')) as Record<
      string,
      unknown
    >;
    // The spec marks some keys `deprecated` (an annotation ajv's draft-07 mode does not know) and names
    // its meta-schema by an https URL ajv does not bundle: annotations only, no validation is lost.
    const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('rejects what the schema forbids, so the check above has teeth', () => {
    const schema = JSON.parse(read('test/fixtures/compose-spec/compose-spec.json')) as Record<
      string,
      unknown
    >;
    const validate = new Ajv({ strict: false, validateSchema: false }).compile(schema);
    expect(validate({ services: { api: { image: 'x', enviroment: {} } } })).toBe(false);
    expect(validate({ services: { api: { depends_on: { temporal: { condition: 'ready' } } } } })).toBe(false);
  });

  it('pins every image to a version, never latest', () => {
    for (const [name, s] of Object.entries(services)) {
      const image = s.image ?? '';
      if (s.build !== undefined) {
        expect(image).toBe('rekey:local');
        continue;
      }
      expect({ name, image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:\d[\w.-]*$/) });
    }
  });

  it('runs Temporal on PostgreSQL with its UI and registers every search attribute the workflow sets', () => {
    expect(services.temporal?.image).toMatch(/^temporalio\/auto-setup:/);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    const register = JSON.stringify(services['temporal-search-attributes']?.command);
    const workflowKeys = [
      ...read('workflows/search-attributes.ts').matchAll(/defineSearchAttributeKey\(\s*'(\w+)'/g),
    ].map((m) => m[1]);
    expect(workflowKeys.length).toBeGreaterThanOrEqual(6);
    for (const key of workflowKeys) expect(register).toContain(key);
    // In the namespace the worker and API use, after it exists, and failing loudly otherwise.
    expect(register).toContain('namespace describe');
    expect(register).toContain('--namespace \\"$$TEMPORAL_NAMESPACE\\"');
    expect(register).not.toContain('|| true');
    expect(services['temporal-search-attributes']?.environment).toMatchObject({
      TEMPORAL_NAMESPACE: services.worker?.environment?.TEMPORAL_NAMESPACE,
    });
  });

  it('gives the worker and the API only settings config/settings.ts knows, or variables the README documents', () => {
    for (const name of ['worker', 'api']) {
      for (const variable of Object.keys(services[name]?.environment ?? {})) {
        if (settingNames.includes(variable)) continue;
        expect(DOCUMENTED_NON_SETTINGS).toContain(variable);
      }
    }
    for (const variable of Object.keys(demoEnv)) {
      expect([...settingNames, ...DOCUMENTED_NON_SETTINGS]).toContain(variable);
    }
    for (const variable of DOCUMENTED_NON_SETTINGS) expect(readme).toContain(variable);
  });

  it('gives the worker and the API settings that load, with and without the demo env file', () => {
    for (const name of ['worker', 'api']) {
      expect(() => loadSettings(envOf(name))).not.toThrow();
      const demo = loadSettings(envOf(name, demoEnv));
      expect(demo.REKEY_KEYVAULT_EMULATOR).toBe(true);
      expect(demo.AZURE_KEYVAULT_URL).toBe('https://lowkey-vault:8443');
    }
    // The Dockerfile's own defaults are settings too.
    const dockerEnv = [
      ...read('Dockerfile').matchAll(/^\s*(?:ENV\s+)?(REKEY_[A-Z_]+|TEMPORAL_[A-Z_]+)=/gm),
    ].map((m) => m[1]);
    expect(dockerEnv.length).toBeGreaterThan(3);
    for (const variable of dockerEnv) expect(settingNames).toContain(variable);
  });

  it('points the worker, the API and the demo at services that exist, on the ports they listen on', () => {
    const hostPortOf = (value: string) => {
      const url = /^[a-z]+:\/\//.test(value) ? new URL(value) : new URL(`tcp://${value}`);
      return { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
    };
    const expectService = (value: string) => {
      const { host, port } = hostPortOf(value);
      expect(Object.keys(services)).toContain(host);
      expect(containerPorts(services[host]!)).toContain(port);
    };
    for (const name of ['worker', 'api', 'temporal-ui', 'temporal-search-attributes']) {
      expectService(envOf(name).TEMPORAL_ADDRESS!);
    }
    expect(containerPorts(services.temporal!)).toContain(7233);
    // With the demo env file: Lowkey Vault, and the gateway the seed registers.
    expectService(envOf('worker', demoEnv).AZURE_KEYVAULT_URL!);
    expectService(envOf('demo-seed').AZURE_KEYVAULT_URL!);
    expectService(envOf('demo-seed').REKEY_DEMO_GATEWAY_URL!);
    expect(envOf('gateway').REKEY_SIMULATOR_PORT).toBe(
      String(hostPortOf(envOf('demo-seed').REKEY_DEMO_GATEWAY_URL!).port),
    );
    // The Web UI link the API hands out is the port the UI is published on.
    const ui = hostPortOf(envOf('api').TEMPORAL_UI_URL!);
    expect(ui.host).toBe('localhost');
    expect(hostPorts(services['temporal-ui']!)).toContain(ui.port);
    // Every dependency and named volume exists.
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const dep of deps)
        expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/') && !source.startsWith('$')) {
          expect(Object.keys(compose.volumes)).toContain(source);
        }
      }
    }
  });

  it('publishes the ports the API, the worker metrics and the gateway listen on, and probes them there', () => {
    const api = envOf('api');
    expect(containerPorts(services.api!)).toContain(Number(api.REKEY_API_PORT));
    expect(api.REKEY_API_HOST).toBe('0.0.0.0');
    expect(JSON.stringify(services.api?.healthcheck?.test)).toContain(
      `127.0.0.1:${api.REKEY_API_PORT}/readyz`,
    );
    const worker = envOf('worker');
    expect(worker.REKEY_WORKER_METRICS_HOST).toBe('0.0.0.0');
    for (const port of [worker.REKEY_WORKER_METRICS_PORT, worker.REKEY_TEMPORAL_METRICS_PORT]) {
      expect(containerPorts(services.worker!)).toContain(Number(port));
    }
    expect(JSON.stringify(services.worker?.healthcheck?.test)).toContain(
      `127.0.0.1:${worker.REKEY_WORKER_METRICS_PORT}/metrics`,
    );
    const gateway = envOf('gateway');
    expect(containerPorts(services.gateway!)).toContain(Number(gateway.REKEY_SIMULATOR_PORT));
    expect(JSON.stringify(services.gateway?.healthcheck?.test)).toContain(
      `127.0.0.1:${gateway.REKEY_SIMULATOR_PORT}/health`,
    );
    // No two services publish the same host port.
    const published = Object.values(services).flatMap(hostPorts);
    expect(new Set(published).size).toBe(published.length);
  });

  it('keeps Lowkey Vault and the reference gateway in the demo profile, the worker and the API in every profile', () => {
    expect(services['lowkey-vault']?.image).toMatch(/^nagyesta\/lowkey-vault:/);
    const lowkeyVersion = /^LOWKEY_VAULT_VERSION=(.+)$/m.exec(read('scripts/versions.env'))?.[1];
    expect(services['lowkey-vault']?.image).toBe(`nagyesta/lowkey-vault:${lowkeyVersion}`);
    for (const name of ['lowkey-vault', 'gateway', 'demo-seed', 'demo-tls'])
      expect(services[name]?.profiles).toEqual(['demo']);
    for (const name of ['worker', 'api', 'temporal', 'postgresql', 'temporal-ui']) {
      expect(services[name]?.profiles).toBeUndefined();
    }
    // A profile-only dependency must not stop the default profile from starting.
    for (const name of ['worker', 'api']) {
      expect(
        (services[name]?.depends_on as Record<string, { required?: boolean }>)['demo-seed']?.required,
      ).toBe(false);
    }
  });

  it('runs every rekey-image service through an npm script that exists', () => {
    for (const [name, s] of rekeyImageServices) {
      if (s.entrypoint !== undefined) continue; // one-shot shell steps (demo-tls) replace the entrypoint
      const command = Array.isArray(s.command) ? s.command : [s.command];
      expect({ name, script: command[0] }).toEqual({ name, script: expect.any(String) });
      expect(scripts).toContain(command[0]);
    }
    expect(services.worker?.command).toEqual(['worker']);
    expect(services.api?.command).toEqual(['api']);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instruction = (name: string) =>
    JSON.parse(new RegExp(`^${name}\\s+(\\[.*\\])\\s*$`, 'm').exec(dockerfile)?.[1] ?? 'null') as
      string[] | null;

  it('builds on Node 24 slim with npm ci and runs as a user that is not root', () => {
    const from = /^FROM\s+(\S+)/m.exec(dockerfile)?.[1] ?? '';
    expect(from).toMatch(/^node:24[\w.-]*slim$/);
    expect(from).toContain(read('.nvmrc').trim());
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(users.at(-1));
  });

  it('has two commands, `api` (default) and `worker`, both npm scripts run through `npm run`', () => {
    const entrypoint = instruction('ENTRYPOINT');
    const cmd = instruction('CMD');
    expect(entrypoint?.slice(-3)).toEqual(['npm', 'run', '--silent']);
    expect(cmd).toEqual(['api']);
    for (const script of ['api', 'worker']) expect(scripts).toContain(script);
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });
});
