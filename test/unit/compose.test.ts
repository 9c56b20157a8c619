import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { SearchAttributeType } from '@temporalio/common';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { loadSettings, settingsSchema } from '../../config/settings';
import { REKEY_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

// No Docker engine runs on rekey's machines, so docker-compose.yml and the Dockerfile are checked here:
// against the Compose Specification's JSON schema, and against the code they start (settings, npm
// scripts, ports, service names, search attributes) and what Temporal's images expect.
//
// The schema is vendored from the compose-spec repository, schema/compose-spec.json at commit
// 00655e2222608fa6eaecdf12ac5195889ca2244a (github.com/compose-spec/compose-spec; upstream bytes have
// SHA-256 bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735), reformatted by Prettier
// only. Validated with ajv 8.20.0 (pinned in package.json).
//
// What Temporal's images expect is read from the v1.32.2 sources of go.temporal.io/server:
// docker/targets/{server,admin-tools}.Dockerfile, docker/scripts/sh/entrypoint.sh,
// common/config/config_template_embedded.yaml and schema/postgresql/v12/.

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
  depends_on?: Record<string, { condition?: string; required?: boolean }> | string[];
  volumes?: string[];
  configs?: { source: string; target: string }[];
  healthcheck?: { test: string[] | string };
  user?: string;
}
interface ComposeFile {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

const composeText = read('docker-compose.yml');
// Compose resolves YAML merge keys (`<<: *anchor`, its "fragments") before anything else, so the file is
// read, validated and checked as Compose sees it.
const compose = parse(composeText, { merge: true }) as ComposeFile;
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
const dependsOn = (name: string) =>
  (services[name]?.depends_on ?? {}) as Record<string, { condition?: string; required?: boolean }>;
/** The shell script of a one-shot that runs `/bin/sh -c <script>`. */
const scriptOf = (name: string) => {
  expect(services[name]?.entrypoint).toEqual(['/bin/sh', '-c']);
  const command = services[name]?.command;
  expect(Array.isArray(command) && command.length === 1).toBe(true);
  return String((command as string[])[0]);
};

/** Container ports a service publishes (`host:container` → container). */
const containerPorts = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':').pop()));
const hostPorts = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':')[0]));
const rekeyImageServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const servicesRunning = (script: string) =>
  Object.entries(services)
    .filter(([, s]) => JSON.stringify(s.command) === JSON.stringify([script]))
    .map(([name]) => name);
const workers = servicesRunning('worker');
const apis = servicesRunning('api');
const rekeyProcesses = [...workers, ...apis];

// Variables that are not rekey settings but are read by what rekey runs on: Node (the emulator's CA) and
// @azure/identity's DefaultAzureCredential. Each must be documented in the README.
const DOCUMENTED_NON_SETTINGS = [
  'NODE_EXTRA_CA_CERTS',
  // The worker's V8 heap limits (README: Worker memory).
  'NODE_OPTIONS',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  // Read by the secret backends themselves (activities/secrets/<backend>/), not config/settings.ts.
  'REKEY_AZURE_KEYVAULT_EMULATOR',
  'VAULT_TOKEN',
  'VAULT_TOKEN_FILE',
  'AWS_REGION',
];

// Variables the config template embedded in temporal-server 1.32 reads for a PostgreSQL store with SQL
// visibility (common/config/config_template_embedded.yaml), plus the entrypoint's BIND_ON_IP /
// TEMPORAL_BROADCAST_ADDRESS and the `start` command's TEMPORAL_SERVICES.
const TEMPORAL_SERVER_VARIABLES = [
  'DB',
  'DB_PORT',
  'POSTGRES_SEEDS',
  'POSTGRES_USER',
  'POSTGRES_PWD',
  'DBNAME',
  'VISIBILITY_DBNAME',
  'VISIBILITY_POSTGRES_SEEDS',
  'VISIBILITY_DB_PORT',
  'VISIBILITY_POSTGRES_USER',
  'VISIBILITY_POSTGRES_PWD',
  'SQL_MAX_CONNS',
  'SQL_MAX_IDLE_CONNS',
  'SQL_VIS_MAX_CONNS',
  'SQL_VIS_MAX_IDLE_CONNS',
  'ENABLE_ES',
  'NUM_HISTORY_SHARDS',
  'BIND_ON_IP',
  'TEMPORAL_BROADCAST_ADDRESS',
  'DYNAMIC_CONFIG_FILE_PATH',
  'LOG_LEVEL',
  'PROMETHEUS_ENDPOINT',
  'TEMPORAL_SERVICES',
];

// The admin-tools image copies the server's schema/ folder to /etc/temporal/schema.
const SCHEMA_DIR = '/etc/temporal/schema/postgresql/v12';

// The `temporal` CLI's names for the SDK's search attribute types (`--type`).
const CLI_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
// SQL visibility keeps a namespace's custom attributes in columns the PostgreSQL visibility schema
// preallocates per type (Keyword01…Keyword10, Text01…Text03, …): more of one type cannot be created.
const SQL_VISIBILITY_COLUMNS: Record<SearchAttributeType, number> = {
  TEXT: 3,
  KEYWORD: 10,
  INT: 3,
  DOUBLE: 3,
  BOOL: 3,
  DATETIME: 3,
  KEYWORD_LIST: 3,
};

/** Every file under a folder of the repository (the folder may not exist yet). */
function filesUnder(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).flatMap((entry) => {
    const rel = path.join(dir, entry);
    return statSync(path.join(ROOT, rel)).isDirectory() ? filesUnder(rel) : [rel];
  });
}

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
    // A merge key Compose would not resolve is an unknown service key.
    expect(validate({ services: { api: { image: 'x', '<<': {} } } })).toBe(false);
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

  it('runs Temporal from the server and admin-tools images of one release, not the deprecated auto-setup', () => {
    const everything = JSON.stringify(Object.values(services).map((s) => [s.image, s.entrypoint, s.command]));
    expect(everything).not.toMatch(/auto-setup/);
    const version = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(services.temporal?.image ?? '')?.[1];
    expect(version).toBeDefined();
    const adminTools = Object.entries(services).filter(([, s]) =>
      s.image?.startsWith('temporalio/admin-tools:'),
    );
    expect(adminTools.map(([name]) => name).sort()).toEqual([
      'temporal-setup-namespace',
      'temporal-setup-schema',
    ]);
    for (const [, s] of adminTools) expect(s.image).toBe(`temporalio/admin-tools:${version}`);
    // The header names the release, and the native topology that is the file's executable twin.
    const header = composeText
      .slice(0, composeText.indexOf('\nname:'))
      .replace(/\n#\s*/g, ' ')
      .replace(/\s+/g, ' ');
    expect(header).toContain(`Temporal Server ${version}`);
    expect(header).toContain('`make test-cluster`');
    expect(header).toContain('executable twin');
    // Wherever the native cluster pins the server module, it is the same release.
    const nativePins = [...filesUnder('scripts'), 'Makefile']
      .filter((f) => existsSync(path.join(ROOT, f)))
      .flatMap((f) => [
        ...read(f).matchAll(/go\.temporal\.io\/server[@ ]v(\d+\.\d+\.\d+)/g),
        ...read(f).matchAll(/^TEMPORAL_SERVER_VERSION=v?(\d+\.\d+\.\d+)$/gm),
      ])
      .map((m) => m[1]);
    for (const pin of nativePins) expect(pin).toBe(version);
  });

  it('sets up the persistence and the visibility database with temporal-sql-tool before the server starts', () => {
    const server = envOf('temporal');
    const script = scriptOf('temporal-setup-schema');
    expect(script.trimStart()).toMatch(/^set -eu\n/);
    const calls = script
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('temporal-sql-tool'));
    const databases = [
      [server.DBNAME, 'temporal'],
      [server.VISIBILITY_DBNAME, 'visibility'],
    ] as const;
    for (const [db, schema] of databases) {
      expect(calls.filter((c) => c.includes(` --db ${db} `))).toEqual([
        `temporal-sql-tool --plugin ${server.DB} --db ${db} create`,
        `temporal-sql-tool --plugin ${server.DB} --db ${db} setup-schema -v 0.0`,
        `temporal-sql-tool --plugin ${server.DB} --db ${db} update-schema -d ${SCHEMA_DIR}/${schema}/versioned`,
      ]);
    }
    expect(calls).toHaveLength(6);
    // The same PostgreSQL, user and password as the server (the tool's SQL_* variables).
    const tool = services['temporal-setup-schema']?.environment ?? {};
    const serverRaw = services.temporal?.environment ?? {};
    expect(tool).toEqual({
      SQL_HOST: serverRaw.POSTGRES_SEEDS,
      SQL_PORT: serverRaw.DB_PORT,
      SQL_USER: serverRaw.POSTGRES_USER,
      SQL_PASSWORD: serverRaw.POSTGRES_PWD,
    });
    expect(services.postgresql?.environment).toEqual({
      POSTGRES_USER: serverRaw.POSTGRES_USER,
      POSTGRES_PASSWORD: serverRaw.POSTGRES_PWD,
    });
    expect(dependsOn('temporal-setup-schema')).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(dependsOn('temporal')).toEqual({
      'temporal-setup-schema': { condition: 'service_completed_successfully' },
    });
    expect(services['temporal-setup-schema']?.profiles).toBeUndefined();
  });

  it('configures the server for PostgreSQL and SQL visibility through the variables its image reads', () => {
    const server = envOf('temporal');
    for (const variable of Object.keys(server)) expect(TEMPORAL_SERVER_VARIABLES).toContain(variable);
    expect(server).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      DB_PORT: '5432',
      ENABLE_ES: 'false',
      BIND_ON_IP: '0.0.0.0',
    });
    expect(server.DBNAME).not.toBe(server.VISIBILITY_DBNAME);
    expect(Number(server.NUM_HISTORY_SHARDS)).toBeGreaterThan(0);
    // The dynamic config file must exist (the image ships none): an inline config mounted there.
    const mount = services.temporal?.configs?.find((c) => c.target === server.DYNAMIC_CONFIG_FILE_PATH);
    expect(mount).toBeDefined();
    const content = compose.configs?.[mount!.source]?.content;
    expect(content).toBeDefined();
    const dynamic = parse(content!) as Record<string, { value: unknown; constraints: object }[]>;
    for (const [key, values] of Object.entries(dynamic)) {
      expect({ key, values }).toEqual({
        key,
        values: expect.arrayContaining([{ value: expect.anything(), constraints: expect.any(Object) }]),
      });
    }
    // Probed on the frontend port the workers, the API and the UI are given.
    expect(containerPorts(services.temporal!)).toContain(7233);
    expect(JSON.stringify(services.temporal?.healthcheck?.test)).toContain('7233');
    expect(dependsOn('temporal-ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
  });

  it('creates the namespace and every search attribute of workflows/search-attributes.ts, with its type, once the server serves', () => {
    const script = scriptOf('temporal-setup-namespace');
    expect(script.trimStart()).toMatch(/^set -eu\n/);
    expect(REKEY_SEARCH_ATTRIBUTES.length).toBeGreaterThanOrEqual(6);
    const created = [...script.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => [m[1], m[2]]);
    expect(created).toEqual(REKEY_SEARCH_ATTRIBUTES.map((key) => [key.name, CLI_TYPE[key.type]]));
    // …and fails unless the server then lists every one of them.
    const checked = /for name in ([\w ]+); do/.exec(script)?.[1]?.split(' ');
    expect(checked).toEqual(REKEY_SEARCH_ATTRIBUTES.map((key) => key.name));
    // …and, before it ends, until a visibility query on all of them is accepted.
    const probe = /retry temporal workflow list --namespace "\$\$ns" --limit 1 --query "([^"]+)"/.exec(
      script,
    )?.[1];
    for (const key of REKEY_SEARCH_ATTRIBUTES) expect(probe).toMatch(new RegExp(`\\b${key.name} = `));
    for (const type of Object.keys(SQL_VISIBILITY_COLUMNS) as SearchAttributeType[]) {
      const count = REKEY_SEARCH_ATTRIBUTES.filter((key) => key.type === type).length;
      expect({ type, fits: count <= SQL_VISIBILITY_COLUMNS[type] }).toEqual({ type, fits: true });
    }
    // Once the cluster is healthy; the namespace only if it is not there; every call in that namespace.
    expect(script).toContain('retry temporal operator cluster health');
    expect(script).toMatch(
      /namespace describe --namespace "\$\$ns" >\/dev\/null 2>&1 \|\|\n\s*temporal operator namespace create --namespace "\$\$ns"/,
    );
    expect(script).toContain('ns="$$TEMPORAL_NAMESPACE"');
    for (const call of script.matchAll(/temporal operator (namespace|search-attribute) \w+[^\n]*/g)) {
      expect(call[0]).toContain('--namespace "$$ns"');
    }
    expect(script).not.toContain('|| true');
    // The namespace and the frontend the workers and the API use.
    const setup = services['temporal-setup-namespace']?.environment ?? {};
    for (const name of rekeyProcesses) {
      expect(setup.TEMPORAL_NAMESPACE).toBe(services[name]?.environment?.TEMPORAL_NAMESPACE);
      expect(setup.TEMPORAL_ADDRESS).toBe(services[name]?.environment?.TEMPORAL_ADDRESS);
    }
    expect(dependsOn('temporal-setup-namespace')).toEqual({ temporal: { condition: 'service_healthy' } });
  });

  it('runs two workers on one task queue and one API, each only once Temporal is set up', () => {
    expect(workers).toEqual(['worker-a', 'worker-b']);
    expect(apis).toEqual(['api']);
    for (const vars of [{}, demoEnv]) {
      expect(envOf('worker-b', vars)).toEqual(envOf('worker-a', vars));
      expect(envOf('api', vars).REKEY_TASK_QUEUE).toBe(envOf('worker-a', vars).REKEY_TASK_QUEUE);
    }
    for (const name of rekeyProcesses) {
      expect(dependsOn(name)['temporal-setup-namespace']).toEqual({
        condition: 'service_completed_successfully',
      });
      // Every worker and the API see the same registry, config and evidence.
      expect(services[name]?.volumes).toEqual(services.api?.volumes);
    }
  });

  it('gives the workers and the API only settings config/settings.ts knows, or variables the README documents', () => {
    for (const name of rekeyProcesses) {
      for (const variable of Object.keys(services[name]?.environment ?? {})) {
        if (settingNames.includes(variable)) continue;
        expect({ name, variable, documented: DOCUMENTED_NON_SETTINGS.includes(variable) }).toEqual({
          name,
          variable,
          documented: true,
        });
      }
    }
    for (const variable of Object.keys(demoEnv)) {
      expect([...settingNames, ...DOCUMENTED_NON_SETTINGS]).toContain(variable);
    }
    for (const variable of DOCUMENTED_NON_SETTINGS) expect(readme).toContain(variable);
  });

  it('gives the workers and the API settings that load, with and without the demo env file', () => {
    for (const name of rekeyProcesses) {
      expect(() => loadSettings(envOf(name))).not.toThrow();
      const demo = loadSettings(envOf(name, demoEnv));
      expect(demo.REKEY_CREDENTIALS_FILE).toBe('/var/lib/rekey/demo/credentials.yaml');
      expect(envOf(name, demoEnv).REKEY_AZURE_KEYVAULT_EMULATOR).toBe('true');
    }
    // The Dockerfile's own defaults are settings too.
    const dockerEnv = [
      ...read('Dockerfile').matchAll(/^\s*(?:ENV\s+)?(REKEY_[A-Z_]+|TEMPORAL_[A-Z_]+)=/gm),
    ].map((m) => m[1]);
    expect(dockerEnv.length).toBeGreaterThan(3);
    for (const variable of dockerEnv) expect(settingNames).toContain(variable);
  });

  it('points the workers, the API and the demo at services that exist, on the ports they listen on', () => {
    const hostPortOf = (value: string) => {
      const url = /^[a-z]+:\/\//.test(value) ? new URL(value) : new URL(`tcp://${value}`);
      return { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
    };
    const expectService = (value: string) => {
      const { host, port } = hostPortOf(value);
      expect(Object.keys(services)).toContain(host);
      expect(containerPorts(services[host]!)).toContain(port);
    };
    for (const name of [...rekeyProcesses, 'temporal-ui', 'temporal-setup-namespace']) {
      expectService(envOf(name).TEMPORAL_ADDRESS!);
    }
    // The server and the schema job reach the database service on its port.
    expect(Object.keys(services)).toContain(envOf('temporal').POSTGRES_SEEDS);
    expect(envOf('temporal').DB_PORT).toBe('5432');
    // The demo seed writes the registry that points the workers at the demo's Key Vault, and the gateway.
    expectService(envOf('demo-seed').AZURE_KEYVAULT_URL!);
    expectService(envOf('demo-seed').REKEY_DEMO_GATEWAY_URL!);
    expect(envOf('gateway').REKEY_SIMULATOR_PORT).toBe(
      String(hostPortOf(envOf('demo-seed').REKEY_DEMO_GATEWAY_URL!).port),
    );
    // The Web UI link the API hands out is the port the UI is published on.
    const ui = hostPortOf(envOf('api').TEMPORAL_UI_URL!);
    expect(ui.host).toBe('localhost');
    expect(hostPorts(services['temporal-ui']!)).toContain(ui.port);
    // Every dependency, named volume and config exists.
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
      for (const c of s.configs ?? []) expect(Object.keys(compose.configs ?? {})).toContain(c.source);
    }
  });

  it('publishes the ports the API, the worker metrics and the gateway listen on, and probes them there', () => {
    const api = envOf('api');
    expect(containerPorts(services.api!)).toContain(Number(api.REKEY_API_PORT));
    expect(api.REKEY_API_HOST).toBe('0.0.0.0');
    expect(JSON.stringify(services.api?.healthcheck?.test)).toContain(
      `127.0.0.1:${api.REKEY_API_PORT}/readyz`,
    );
    for (const name of workers) {
      const worker = envOf(name);
      expect(worker.REKEY_WORKER_METRICS_HOST).toBe('0.0.0.0');
      for (const port of [worker.REKEY_WORKER_METRICS_PORT, worker.REKEY_TEMPORAL_METRICS_PORT]) {
        expect(containerPorts(services[name]!)).toContain(Number(port));
      }
      expect(JSON.stringify(services[name]?.healthcheck?.test)).toContain(
        `127.0.0.1:${worker.REKEY_WORKER_METRICS_PORT}/metrics`,
      );
    }
    const gateway = envOf('gateway');
    expect(containerPorts(services.gateway!)).toContain(Number(gateway.REKEY_SIMULATOR_PORT));
    expect(JSON.stringify(services.gateway?.healthcheck?.test)).toContain(
      `127.0.0.1:${gateway.REKEY_SIMULATOR_PORT}/health`,
    );
    // No two services publish the same host port (the two workers' metrics included).
    const published = Object.values(services).flatMap(hostPorts);
    expect(new Set(published).size).toBe(published.length);
  });

  it('keeps Lowkey Vault and the reference gateway in the demo profile, Temporal, the workers and the API in every profile', () => {
    expect(services['lowkey-vault']?.image).toMatch(/^nagyesta\/lowkey-vault:/);
    const lowkeyVersion = /^LOWKEY_VAULT_VERSION=(.+)$/m.exec(read('scripts/versions.env'))?.[1];
    expect(services['lowkey-vault']?.image).toBe(`nagyesta/lowkey-vault:${lowkeyVersion}`);
    for (const name of ['lowkey-vault', 'gateway', 'demo-seed', 'demo-tls'])
      expect(services[name]?.profiles).toEqual(['demo']);
    const everyProfile = [
      ...rekeyProcesses,
      'temporal',
      'postgresql',
      'temporal-ui',
      'temporal-setup-schema',
      'temporal-setup-namespace',
    ];
    for (const name of everyProfile) expect(services[name]?.profiles).toBeUndefined();
    // A profile-only dependency must not stop the default profile from starting.
    for (const name of rekeyProcesses) expect(dependsOn(name)['demo-seed']?.required).toBe(false);
  });

  it('runs every rekey-image service through an npm script that exists', () => {
    for (const [name, s] of rekeyImageServices) {
      if (s.entrypoint !== undefined) continue; // one-shot shell steps (demo-tls) replace the entrypoint
      const command = Array.isArray(s.command) ? s.command : [s.command];
      expect({ name, script: command[0] }).toEqual({ name, script: expect.any(String) });
      expect(scripts).toContain(command[0]);
    }
    for (const name of workers) expect(services[name]?.build).toBe('.');
    expect(services.api?.build).toBe('.');
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
