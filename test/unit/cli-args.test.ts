import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_API_URL, parseCommandLine, UsageError, type Invocation } from '../../cli/args';
import { policyContentType, readKey, signalMessageOf, type CliIo } from '../../cli/commands';
import { main } from '../../cli/main';

const parse = (line: string, env: Record<string, string> = {}) => parseCommandLine(line.split(' '), env);
const command = (line: string) => {
  const inv = parse(line);
  if (inv.kind !== 'run') throw new Error(`expected a command, got ${inv.kind}`);
  return inv.command;
};
const usageError = (line: string) => {
  try {
    parse(line);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`expected a usage error for: ${line}`);
};

function fakeIo(env: Record<string, string> = {}, stdin = '') {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
    stdin: Readable.from([stdin]),
    env,
    fetch: () => Promise.reject(new Error('no request may be sent in this test')),
  };
  return { io, out };
}

describe('rekey command line', () => {
  it('turns every command into its typed form', () => {
    expect(command('start -f policy.yaml --ticket CHG-1')).toEqual({
      name: 'start',
      file: 'policy.yaml',
      ticket: 'CHG-1',
    });
    expect(command('start -f -')).toEqual({ name: 'start', file: '-' });
    expect(
      command('list --credential c --environment e --phase holding --outcome ROLLED_BACK --limit 5'),
    ).toEqual({
      name: 'list',
      filters: { credential: 'c', environment: 'e', phase: 'HOLDING', outcome: 'rolled_back', limit: 5 },
    });
    expect(command('status prod:key:CHG-1')).toEqual({ name: 'status', id: 'prod:key:CHG-1' });
    expect(command('approve prod:key:CHG-1 --gate revoke --comment ok --break-glass-reason leaked')).toEqual({
      name: 'approve',
      id: 'prod:key:CHG-1',
      gate: 'revoke',
      comment: 'ok',
      breakGlassReason: 'leaked',
    });
    expect(command('reject x --gate flip --reason no')).toEqual({
      name: 'reject',
      id: 'x',
      gate: 'flip',
      reason: 'no',
    });
    expect(command('rollback x --reason 5xx')).toEqual({ name: 'rollback', id: 'x', reason: '5xx' });
    expect(command('abort x --reason wrong')).toEqual({ name: 'abort', id: 'x', reason: 'wrong' });
    expect(command('extend-hold x --minutes 30 --reason drain')).toEqual({
      name: 'extend-hold',
      id: 'x',
      minutes: 30,
      reason: 'drain',
    });
    expect(command('confirm-revocation x')).toEqual({ name: 'confirm-revocation', id: 'x' });
    expect(command('revoke-replacement-key x --reason drained')).toEqual({
      name: 'revoke-replacement-key',
      id: 'x',
      reason: 'drained',
    });
    expect(command('hand-off x --key-file -')).toEqual({
      name: 'hand-off',
      id: 'x',
      keyFile: '-',
      insecureHttp: false,
    });
    expect(command('evidence x --markdown')).toEqual({ name: 'evidence', id: 'x', markdown: true });
  });

  it('takes an accepted risk and repeated exceptions on approve, and exceptions on extend-hold', () => {
    const approve = parseCommandLine(
      [
        'approve',
        'prod:key:CHG-1',
        '--gate',
        'revoke',
        '--accept-risk',
        'no usage telemetry for batch; owner confirmed by phone',
        '--exception',
        'consumer=batch-export,owner=data-team,expires=2026-12-31,control=egress restricted to the batch subnet, audited weekly',
        '--exception',
        'consumer=nightly-eval, owner=ml-platform, expires=2027-01-15T08:00:00Z, control=read-only models',
      ],
      {},
    );
    expect(approve).toMatchObject({
      kind: 'run',
      command: {
        name: 'approve',
        id: 'prod:key:CHG-1',
        gate: 'revoke',
        riskReason: 'no usage telemetry for batch; owner confirmed by phone',
        exceptions: [
          {
            consumer: 'batch-export',
            owner: 'data-team',
            expiresAt: '2026-12-31',
            // A comma inside a value is kept: only a comma followed by key= splits fields.
            compensatingControl: 'egress restricted to the batch subnet, audited weekly',
          },
          {
            consumer: 'nightly-eval',
            owner: 'ml-platform',
            expiresAt: '2027-01-15T08:00:00Z',
            compensatingControl: 'read-only models',
          },
        ],
      },
    });
    expect(
      command(
        'extend-hold x --minutes 30 --reason drain --exception control=vpn,expires=2026-12-31,owner=o,consumer=c',
      ),
    ).toEqual({
      name: 'extend-hold',
      id: 'x',
      minutes: 30,
      reason: 'drain',
      exceptions: [{ consumer: 'c', owner: 'o', expiresAt: '2026-12-31', compensatingControl: 'vpn' }],
    });
    // Without the flags nothing is sent for them.
    expect(command('approve x --gate flip')).not.toHaveProperty('riskReason', expect.anything());
    expect(command('approve x --gate flip')).not.toHaveProperty('exceptions', expect.anything());
  });

  it('refuses an --exception that lacks a field, names an unknown one, has a bad date or repeats a consumer', () => {
    const full = 'consumer=c,owner=o,expires=2026-12-31,control=vpn';
    expect(usageError('approve x --gate revoke --exception consumer=c,owner=o,expires=2026-12-31')).toMatch(
      /--exception needs control=/,
    );
    expect(usageError('approve x --gate revoke --exception batch-export')).toMatch(
      /--exception must look like consumer=…,owner=…,expires=…,control=…/,
    );
    expect(usageError(`approve x --gate revoke --exception ${full},team=t`)).toMatch(/must look like/);
    expect(usageError(`approve x --gate revoke --exception ${full},owner=p`)).toMatch(/names owner= twice/);
    expect(
      usageError('approve x --gate revoke --exception consumer=,owner=o,expires=2026-12-31,control=v'),
    ).toMatch(/consumer= is empty/);
    for (const date of ['2026-02-30', '31.12.2026', 'tomorrow', '2026-12-31T10:00']) {
      expect(
        usageError(
          `extend-hold x --minutes 5 --reason r --exception consumer=c,owner=o,expires=${date},control=v`,
        ),
      ).toMatch(/expires= must be an ISO date/);
    }
    expect(usageError(`approve x --gate revoke --exception ${full} --exception ${full}`)).toMatch(
      /c is listed twice/,
    );
    expect(() => parseCommandLine(['approve', 'x', '--gate', 'revoke', '--accept-risk', ' '], {})).toThrow(
      /--accept-risk must not be empty/,
    );
    // Only an approval accepts a risk; a rejection or another command has no such flag.
    expect(usageError('reject x --gate revoke --reason r --accept-risk r')).toMatch(
      /Unknown option '--accept-risk'/,
    );
    expect(usageError('revoke-replacement-key x')).toMatch(/--reason is required/);
    expect(usageError('revoke-replacement-key --reason r')).toMatch(/rotation id is missing/);
  });

  it('accepts global options before or after the command, and takes the API URL from the environment', () => {
    expect(parse('--json --api http://api:9/ list')).toMatchObject({ api: 'http://api:9', json: true });
    expect(parse('list --api=https://rekey.example/base --json')).toMatchObject({
      api: 'https://rekey.example/base',
      json: true,
    });
    expect(parse('list', { REKEY_API_URL: 'https://rekey.example' })).toMatchObject({
      api: 'https://rekey.example',
      json: false,
    });
    expect(parse('list')).toMatchObject({ api: DEFAULT_API_URL });
  });

  it('refuses unknown flags, unknown commands and missing or malformed values', () => {
    expect(usageError('list --bogus')).toMatch(/Unknown option '--bogus'/);
    expect(usageError('--bogus list')).toMatch(/--bogus/);
    expect(usageError('rotate x')).toMatch(/unknown command: rotate/);
    expect(usageError('start')).toMatch(/--file is required/);
    expect(usageError('status')).toMatch(/rotation id is missing/);
    expect(usageError('status a b')).toMatch(/one rotation id expected/);
    expect(usageError('approve x')).toMatch(/--gate is required/);
    expect(usageError('approve x --gate release')).toMatch(/--gate must be one of flip, revoke/);
    expect(usageError('reject x --gate flip')).toMatch(/--reason is required/);
    expect(usageError('rollback x --reason')).toMatch(/argument missing/);
    expect(usageError('extend-hold x --minutes 1.5 --reason r')).toMatch(/--minutes must be an integer/);
    expect(usageError('extend-hold x --minutes 0 --reason r')).toMatch(/--minutes must be an integer >= 1/);
    expect(usageError('list --limit 201')).toMatch(/--limit must be an integer from 1 to 200/);
    expect(usageError('list --phase SLEEPING')).toMatch(/--phase must be one of PREPARING/);
    expect(usageError('list --outcome done')).toMatch(/--outcome must be one of completed/);
    expect(usageError('list --api ftp://x')).toMatch(/http\(s\)/);
    expect(usageError('list --api not-a-url')).toMatch(/not a URL/);
  });

  it('has no flag for the token or the key, so neither can end up in ps or shell history', () => {
    expect(usageError('list --token rk_secret')).toMatch(/Unknown option '--token'/);
    expect(usageError('hand-off x --key sk-live-1')).toMatch(/Unknown option '--key'/);
    expect(usageError('list --api https://user:rk_secret@rekey.example')).toMatch(
      /must not carry credentials/,
    );
  });

  it('answers --help for a command even when its flags are incomplete, and --version', () => {
    expect(parse('approve --help')).toEqual<Invocation>({ kind: 'help', command: 'approve' });
    expect(parse('approve x --gate nope -h')).toEqual<Invocation>({ kind: 'help', command: 'approve' });
    expect(parse('help reject')).toEqual<Invocation>({ kind: 'help', command: 'reject' });
    expect(parse('--help')).toEqual<Invocation>({ kind: 'help', command: undefined });
    expect(parse('--version')).toEqual<Invocation>({ kind: 'version' });
  });

  it('sends policies as YAML unless the file name ends in .json', () => {
    expect(policyContentType('policy.yaml')).toBe('application/yaml');
    expect(policyContentType('policy.yml')).toBe('application/yaml');
    expect(policyContentType('-')).toBe('application/yaml');
    expect(policyContentType('policy.JSON')).toBe('application/json');
  });
});

describe('rekey main', () => {
  it('exits 2 with the usage on a bad command line, without sending anything', async () => {
    const { io, out } = fakeIo();
    expect(await main(['approve', 'x', '--gate', 'release'], io, '9.9.9')).toBe(2);
    expect(out.stderr).toMatch(
      /^rekey: --gate must be one of flip, revoke; got release\nUsage: rekey approve <id>/,
    );
    expect(out.stdout).toBe('');
  });

  it('prints help on stdout with exit 0, and the version it was given', async () => {
    const help = fakeIo();
    expect(await main(['--help'], help.io, '9.9.9')).toBe(0);
    expect(help.out.stdout).toMatch(/Commands:\n {2}start/);
    expect(help.out.stdout).toMatch(/Exit codes: 0 done, 1 refused by the API \(4xx\), 2 usage error, 3/);
    const version = fakeIo();
    expect(await main(['--version'], version.io, '9.9.9')).toBe(0);
    expect(version.out.stdout).toBe('rekey 9.9.9\n');
  });

  it('refuses --markdown together with --json as a usage error', async () => {
    const { io, out } = fakeIo();
    expect(await main(['evidence', 'x', '--markdown', '--json'], io, '1')).toBe(2);
    expect(out.stderr).toMatch(/exclude each other/);
  });
});

describe('reading the replacement key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rekey-cli-'));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes one key from a file or stdin, without the trailing newline', async () => {
    expect(await readKey(file('key', 'sk-new-123\n'), fakeIo().io)).toBe('sk-new-123');
    expect(await readKey('-', fakeIo({}, 'sk-from-stdin\n').io)).toBe('sk-from-stdin');
  });

  it('refuses an empty file, a file with more than one line, and a missing file', async () => {
    await expect(readKey(file('empty', '\n'), fakeIo().io)).rejects.toThrow(/no key in/);
    await expect(readKey(file('policy', 'rotation:\n  credential: x\n'), fakeIo().io)).rejects.toThrow(
      /exactly one key/,
    );
    await expect(readKey(path.join(dir, 'absent'), fakeIo().io)).rejects.toThrow(
      /cannot read the key file .*ENOENT/,
    );
  });
});

describe('rekey --print-signal', () => {
  it('is a flag of every message command, and of no other', () => {
    const inv = parse('approve prod:k:CHG-1 --gate revoke --comment ok --print-signal');
    expect(inv).toMatchObject({ kind: 'run', printSignal: true, command: { name: 'approve' } });
    expect(parse('rollback prod:k:CHG-1 --reason x')).toMatchObject({ printSignal: false });
    expect(usageError('status prod:k:CHG-1 --print-signal')).toMatch(/print-signal/);
    expect(usageError('hand-off prod:k:CHG-1 --key-file k --print-signal')).toMatch(/print-signal/);
  });

  it('maps each message command to the signal it sends and its arguments', () => {
    const of = (line: string) => signalMessageOf(command(line));
    expect(of('approve prod:k:CHG-1 --gate revoke --comment ok')).toEqual({
      id: 'prod:k:CHG-1',
      name: 'approve',
      args: { gate: 'revoke', comment: 'ok' },
    });
    expect(of('reject prod:k:CHG-1 --gate flip --reason no')).toMatchObject({
      name: 'reject',
      args: { gate: 'flip', reason: 'no' },
    });
    expect(of('extend-hold prod:k:CHG-1 --minutes 30 --reason watch')).toMatchObject({
      name: 'extendHold',
      args: { minutes: 30, reason: 'watch' },
    });
    expect(of('confirm-revocation prod:k:CHG-1')).toMatchObject({ name: 'revocationConfirmed', args: {} });
    expect(of('revoke-replacement-key prod:k:CHG-1 --reason d')).toMatchObject({
      name: 'revokeReplacementKey',
    });
    expect(of('abort prod:k:CHG-1 --reason d')).toMatchObject({ name: 'abort', args: { reason: 'd' } });
    expect(of('status prod:k:CHG-1')).toBeUndefined();
  });
});

describe('rekey schedules', () => {
  it('parses list, show, pause, resume, trigger and sync', () => {
    expect(command('schedules list')).toEqual({ name: 'schedules', action: 'list', kind: 'rotation' });
    expect(command('schedules sync')).toEqual({ name: 'schedules', action: 'sync', kind: 'rotation' });
    expect(command('schedules show production:router-key --kind expiry')).toEqual({
      name: 'schedules',
      action: 'show',
      environment: 'production',
      credential: 'router-key',
      kind: 'expiry',
    });
    expect(command('schedules pause production:router-key --reason freeze')).toEqual({
      name: 'schedules',
      action: 'pause',
      environment: 'production',
      credential: 'router-key',
      kind: 'rotation',
      reason: 'freeze',
    });
    expect(command('schedules trigger staging:k --reason now')).toMatchObject({
      action: 'trigger',
      reason: 'now',
    });
  });

  it('says what is missing or wrong', () => {
    expect(usageError('schedules')).toMatch(/action is missing/);
    expect(usageError('schedules delete production:k')).toMatch(/action/);
    expect(usageError('schedules pause production:k')).toBe('--reason is required');
    expect(usageError('schedules show router-key')).toMatch(/needs <environment>:<credential>/);
    expect(usageError('schedules list production:k')).toMatch(/unexpected argument/);
    expect(usageError('schedules show production:k --kind weekly')).toMatch(/kind/);
  });
});
