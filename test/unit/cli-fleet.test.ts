import { Readable } from 'node:stream';
import { parseCommandLine, usage, UsageError } from '../../cli/args';
import type { FleetView } from '../../cli/client';
import type { CliIo } from '../../cli/commands';
import {
  formatFleetApproval,
  formatFleets,
  formatFleetStart,
  formatFleetStatus,
  formatPhaseCounts,
} from '../../cli/fleet-format';
import { main } from '../../cli/main';

const parse = (args: string[]) => parseCommandLine(args, {});
const command = (args: string[]) => {
  const inv = parse(args);
  if (inv.kind !== 'run') throw new Error(`expected a command, got ${inv.kind}`);
  return inv.command;
};
const usageError = (args: string[]) => {
  try {
    parse(args);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`expected a usage error for: ${args.join(' ')}`);
};
const start = (...rest: string[]) => ['fleet', 'start', '--reason', 'offboarding bob', ...rest];

describe('rekey fleet command line', () => {
  it('parses start with one selector, several, and every option', () => {
    expect(command(start('--selector', 'owner=platform-ai'))).toEqual({
      name: 'fleet',
      action: 'start',
      selector: { owner: 'platform-ai' },
      reason: 'offboarding bob',
    });
    expect(
      command(
        start(
          '--selector',
          'owner=platform-ai',
          '--selector',
          'tag=llm,environment=production',
          '--approval',
          'per-rotation',
          '--concurrency',
          '5',
          '--starts-per-minute',
          '0',
          '--id',
          'offboard-bob',
        ),
      ),
    ).toEqual({
      name: 'fleet',
      action: 'start',
      selector: { owner: 'platform-ai', tag: 'llm', environment: 'production' },
      reason: 'offboarding bob',
      approval: 'per-rotation',
      concurrency: 5,
      startsPerMinute: 0,
      id: 'offboard-bob',
    });
    expect(command(start('--selector', 'names=a+b+c', '--approval', 'fleet'))).toMatchObject({
      selector: { names: ['a', 'b', 'c'] },
      approval: 'fleet',
    });
    expect(command(start('--selector', 'reader=bob@example.com'))).toMatchObject({
      selector: { reader: 'bob@example.com' },
    });
  });

  it('parses status, list and approve', () => {
    expect(command(['fleet', 'status', 'offboard-bob'])).toEqual({
      name: 'fleet',
      action: 'status',
      id: 'offboard-bob',
    });
    expect(command(['fleet', 'list'])).toEqual({ name: 'fleet', action: 'list' });
    expect(
      command(['fleet', 'approve', 'offboard-bob', '--gate', 'revoke', '--comment', 'all drained']),
    ).toEqual({
      name: 'fleet',
      action: 'approve',
      id: 'offboard-bob',
      gate: 'revoke',
      comment: 'all drained',
    });
    expect(command(['fleet', 'approve', 'offboard-bob', '--gate', 'flip'])).toEqual({
      name: 'fleet',
      action: 'approve',
      id: 'offboard-bob',
      gate: 'flip',
    });
    expect(parse(['--json', 'fleet', 'list'])).toMatchObject({ kind: 'run', json: true });
  });

  it('refuses a bad selector as a usage error, with what is wrong', () => {
    expect(usageError(start())).toBe('--selector is required');
    expect(usageError(start('--selector', 'team=platform-ai'))).toMatch(
      /^--selector: selector field "team" is not one of environment, owner, tag, names, reader$/,
    );
    expect(usageError(start('--selector', 'owner='))).toMatch(
      /--selector: selector term "owner=" has no value/,
    );
    expect(usageError(start('--selector', 'platform-ai'))).toMatch(
      /selector field "platform-ai" is not one of/,
    );
    expect(usageError(start('--selector', 'owner=a', '--selector', 'owner=b'))).toMatch(
      /selector field "owner" is given twice/,
    );
    expect(usageError(start('--selector', ','))).toMatch(/needs at least one field=value term/);
    expect(usageError(start('--selector', 'names=+'))).toMatch(/names= lists no name/);
  });

  it('refuses a missing reason, an unknown approval and out-of-range limits', () => {
    expect(usageError(['fleet', 'start', '--selector', 'owner=platform-ai'])).toBe('--reason is required');
    expect(usageError(['fleet', 'start', '--selector', 'owner=platform-ai', '--reason', ' '])).toBe(
      '--reason is required',
    );
    expect(usageError(start('--selector', 'owner=x', '--approval', 'everyone'))).toBe(
      '--approval must be one of per-rotation, fleet; got everyone',
    );
    expect(usageError(start('--selector', 'owner=x', '--concurrency', '0'))).toMatch(
      /--concurrency must be an integer from 1 to 100/,
    );
    expect(usageError(start('--selector', 'owner=x', '--concurrency', '101'))).toMatch(/from 1 to 100/);
    expect(usageError(start('--selector', 'owner=x', '--starts-per-minute', 'fast'))).toMatch(
      /--starts-per-minute must be an integer from 0 to 600/,
    );
    expect(usageError(start('--selector', 'owner=x', '--id', 'bad id'))).toMatch(/--id must be letters/);
  });

  it('refuses a missing or unknown action, a missing id, stray arguments and options of another action', () => {
    expect(usageError(['fleet'])).toMatch(/fleet action is missing/);
    expect(usageError(['fleet', 'stop', 'x'])).toMatch(/must be one of start, status, list, approve/);
    expect(usageError(['fleet', 'status'])).toMatch(/fleet status needs the fleet id/);
    expect(usageError(['fleet', 'approve', '--gate', 'revoke'])).toMatch(/fleet approve needs the fleet id/);
    expect(usageError(['fleet', 'approve', 'x'])).toBe('--gate is required');
    expect(usageError(['fleet', 'approve', 'x', '--gate', 'release'])).toMatch(
      /--gate must be one of flip, revoke/,
    );
    expect(usageError(['fleet', 'status', 'a', 'b'])).toMatch(/unexpected argument: b/);
    expect(usageError(['fleet', 'list', 'x'])).toMatch(/unexpected argument: x/);
    expect(usageError(['fleet', 'status', 'x', '--gate', 'revoke'])).toBe('fleet status takes no --gate');
    expect(usageError(['fleet', 'approve', 'x', '--gate', 'revoke', '--reason', 'r'])).toBe(
      'fleet approve takes no --reason',
    );
    expect(usageError(['fleet', 'list', '--print-signal'])).toMatch(/print-signal/);
  });

  it('is in the command list and has its own help', () => {
    expect(parse(['fleet', '--help'])).toEqual({ kind: 'help', command: 'fleet' });
    expect(usage()).toMatch(/\n {2}fleet <start\|status\|list\|approve> \[<fleet-id>\] +rotate many/);
    const help = usage('fleet');
    expect(help).toMatch(/^Usage: rekey fleet <start\|status\|list\|approve> \[<fleet-id>\] \[options\]/);
    for (const flag of ['--selector <field=value>', '--reason', '--approval fleet|per-rotation', '--gate']) {
      expect(help).toContain(flag);
    }
  });
});

const fleet: FleetView = {
  id: 'offboard-bob',
  workflowId: 'rekey-fleet:offboard-bob',
  status: 'RUNNING',
  requestedBy: 'olga@example.com',
  reason: 'bob leaves',
  selector: { reader: 'bob@example.com' },
  approval: 'fleet',
  concurrency: 10,
  startsPerMinute: 30,
  startedAt: '2026-12-03T09:12:00.123Z',
  finished: false,
  counts: {
    total: 4,
    byState: { pending: 0, running: 2, completed: 1, failed: 1, skipped: 0 },
    byPhase: { ROLLED_BACK: 1, AWAITING_REVOKE_APPROVAL: 2, COMPLETED: 1 },
  },
  members: [
    {
      credential: 'router-key',
      environment: 'production',
      rotationId: 'production:router-key:fleet-offboard-bob',
      workflowId: 'rekey:production:router-key',
      state: 'running',
      phase: 'AWAITING_REVOKE_APPROVAL',
    },
    {
      credential: 'eval-key',
      environment: 'production',
      rotationId: 'production:eval-key:fleet-offboard-bob',
      workflowId: 'rekey:production:eval-key',
      state: 'running',
      phase: 'AWAITING_REVOKE_APPROVAL',
    },
    {
      credential: 'batch-key',
      environment: 'production',
      rotationId: 'production:batch-key:fleet-offboard-bob',
      workflowId: 'rekey:production:batch-key',
      state: 'completed',
      phase: 'COMPLETED',
    },
    {
      credential: 'old-key',
      environment: 'staging',
      rotationId: 'staging:old-key:fleet-offboard-bob',
      workflowId: 'rekey:staging:old-key',
      state: 'failed',
      phase: 'ROLLED_BACK',
      why: 'canary: 5xx rate 12%',
    },
  ],
  approvals: [
    {
      by: 'carol@example.com',
      gate: 'flip',
      at: '2026-12-03T10:00:00.000Z',
      comment: 'canaries green',
      accepted: ['production:router-key:fleet-offboard-bob', 'production:eval-key:fleet-offboard-bob'],
      refused: [{ rotationId: 'staging:old-key:fleet-offboard-bob', why: 'the rotation rolled back' }],
    },
  ],
  temporalUiUrl: 'http://127.0.0.1:8233/namespaces/default/workflows/rekey-fleet%3Aoffboard-bob',
};

describe('rekey fleet output', () => {
  it('shows the fleet with counts per state and per phase, in the order members reach them', () => {
    const text = formatFleetStatus(fleet);
    expect(text.split('\n')[0]).toBe('offboard-bob');
    expect(text).toContain('  status     RUNNING\n');
    expect(text).toContain('  requested  by olga@example.com: bob leaves\n');
    expect(text).toContain('  selector   reader=bob@example.com\n');
    expect(text).toContain('  limits     10 at once, 30 starts a minute\n');
    expect(text).toContain('  started    2026-12-03T09:12:00Z\n');
    expect(text).toContain('  members    4: 0 pending, 2 running, 1 completed, 1 failed, 0 skipped\n');
    expect(text).toContain('  phases     2 AWAITING_REVOKE_APPROVAL, 1 COMPLETED, 1 ROLLED_BACK\n');
  });

  it('lists every member with its state, phase and why, and the approvals with each refusal', () => {
    const text = formatFleetStatus(fleet);
    expect(text).toContain(
      [
        'members',
        '  ROTATION                                  STATE      PHASE                     WHY',
        '  production:router-key:fleet-offboard-bob  running    AWAITING_REVOKE_APPROVAL',
        '  production:eval-key:fleet-offboard-bob    running    AWAITING_REVOKE_APPROVAL',
        '  production:batch-key:fleet-offboard-bob   completed  COMPLETED',
        '  staging:old-key:fleet-offboard-bob        failed     ROLLED_BACK               canary: 5xx rate 12%',
      ].join('\n'),
    );
    expect(text).toMatch(
      /approvals\n {2}AT +GATE +BY +ACCEPTED +REFUSED +COMMENT\n {2}2026-12-03T10:00:00Z +flip +carol@example.com +2 +1 +canaries green\n/,
    );
    expect(text).toContain('refused at flip: staging:old-key:fleet-offboard-bob: the rotation rolled back');
  });

  it('says what to run when every unfinished member waits at the same gate, and not otherwise', () => {
    expect(formatFleetStatus(fleet)).toContain(
      '  next       rekey fleet approve offboard-bob --gate revoke\n',
    );
    const oneStillHolding: FleetView = {
      ...fleet,
      members: fleet.members.map((m, i) => (i === 0 ? { ...m, phase: 'HOLDING' } : m)),
    };
    expect(formatFleetStatus(oneStillHolding)).not.toContain('next');
    expect(formatFleetStatus({ ...fleet, status: 'COMPLETED', finished: true })).not.toContain('next');
    expect(formatFleetStatus({ ...fleet, approval: 'per-rotation' })).toContain(
      'next       2 member(s) wait at a gate: rekey approve <rotation> --gate flip|revoke',
    );
  });

  it('prints a fleet without members or approvals, and phases it does not know last', () => {
    const empty: FleetView = {
      ...fleet,
      startsPerMinute: 0,
      counts: {
        total: 0,
        byState: { pending: 0, running: 0, completed: 0, failed: 0, skipped: 0 },
        byPhase: {},
      },
      members: [],
      approvals: [],
    };
    const text = formatFleetStatus(empty);
    expect(text).toContain('members    0: 0 pending, 0 running, 0 completed, 0 failed, 0 skipped');
    expect(text).toContain('phases     -');
    expect(text).toContain('no start spacing');
    expect(text).not.toMatch(/ROTATION|approvals/);
    expect(
      formatPhaseCounts({
        counts: {
          total: 4,
          byState: { pending: 1, running: 1, completed: 0, failed: 0, skipped: 1 },
          byPhase: { NEW_PHASE: 1, SKIPPED: 1, PENDING: 1, HOLDING: 1 },
        },
      }),
    ).toBe('1 PENDING, 1 HOLDING, 1 SKIPPED, 1 NEW_PHASE');
  });

  it('prints a started fleet id first, the fleet list, and what an approval did', () => {
    const started = formatFleetStart(
      {
        id: 'offboard-bob',
        workflowId: 'rekey-fleet:offboard-bob',
        runId: 'run-1',
        members: [
          {
            rotationId: 'production:router-key:fleet-offboard-bob',
            workflowId: 'rekey:production:router-key',
          },
        ],
        statusUrl: '/v1/fleets/offboard-bob',
        temporalUiUrl: 'http://ui',
      },
      'http://127.0.0.1:8080',
    );
    expect(started.split('\n')[0]).toBe('offboard-bob');
    expect(started).toContain('  status    http://127.0.0.1:8080/v1/fleets/offboard-bob\n');
    expect(started).toContain('  production:router-key:fleet-offboard-bob  rekey:production:router-key');
    expect(formatFleets([])).toBe('no fleets\n');
    expect(
      formatFleets([{ id: 'offboard-bob', status: 'RUNNING', startedAt: '2026-12-03T09:12:00.123Z' }]),
    ).toBe('FLEET         STATUS   STARTED\noffboard-bob  RUNNING  2026-12-03T09:12:00Z\n');
    expect(formatFleetApproval('offboard-bob', fleet.approvals[0]!)).toBe(
      [
        'approved the flip gate of fleet offboard-bob: 2 member(s) accepted, 1 refused',
        '  accepted  production:router-key:fleet-offboard-bob',
        '  accepted  production:eval-key:fleet-offboard-bob',
        '  REFUSED   staging:old-key:fleet-offboard-bob: the rotation rolled back',
        '',
      ].join('\n'),
    );
  });
});

describe('rekey fleet against the API', () => {
  /** Answers every request with `body` and records what was sent. */
  const answering = (status: number, body: unknown) => {
    const out = { stdout: '', stderr: '' };
    const sent: { method: string; url: string; body: unknown }[] = [];
    const io: CliIo = {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      stdin: Readable.from([]),
      env: { REKEY_TOKEN: 'rk_test' },
      fetch: (url, init) => {
        sent.push({
          method: init?.method ?? 'GET',
          url: typeof url === 'string' ? url : url instanceof URL ? url.href : url.url,
          body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
        });
        return Promise.resolve(
          new Response(JSON.stringify(body), {
            status,
            headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' },
          }),
        );
      },
    };
    return { io, out, sent };
  };

  it('starts a fleet with the parsed selector, sending only the options given', async () => {
    const { io, out, sent } = answering(201, {
      id: 'f1',
      workflowId: 'rekey-fleet:f1',
      runId: 'r',
      members: [],
      statusUrl: '/v1/fleets/f1',
      temporalUiUrl: 'http://ui',
    });
    const args = ['fleet', 'start', '--selector', 'owner=platform-ai,tag=llm', '--reason', 'quarterly'];
    expect(await main([...args, '--concurrency', '3'], io, '1')).toBe(0);
    expect(sent).toEqual([
      {
        method: 'POST',
        url: 'http://127.0.0.1:8080/v1/fleets',
        body: { selector: { owner: 'platform-ai', tag: 'llm' }, reason: 'quarterly', concurrency: 3 },
      },
    ]);
    expect(out.stdout.split('\n')[0]).toBe('f1');
  });

  it('reads a fleet (its id encoded), prints the JSON with --json, and approves a gate', async () => {
    const read = answering(200, fleet);
    expect(await main(['fleet', 'status', 'a/b', '--json'], read.io, '1')).toBe(0);
    expect(read.sent[0]).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:8080/v1/fleets/a%2Fb' });
    expect(JSON.parse(read.out.stdout)).toEqual(fleet);

    const approve = answering(200, fleet.approvals[0]);
    expect(await main(['fleet', 'approve', 'offboard-bob', '--gate', 'revoke'], approve.io, '1')).toBe(0);
    expect(approve.sent).toEqual([
      {
        method: 'POST',
        url: 'http://127.0.0.1:8080/v1/fleets/offboard-bob/approvals',
        body: { gate: 'revoke' },
      },
    ]);
    expect(approve.out.stdout).toMatch(/^approved the flip gate of fleet offboard-bob/);

    const list = answering(200, { fleets: [] });
    expect(await main(['fleet', 'list'], list.io, '1')).toBe(0);
    expect(list.sent[0]).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:8080/v1/fleets' });
    expect(list.out.stdout).toBe('no fleets\n');
  });

  it('prints a refused start with its problems listed, and exits 1', async () => {
    const { io, out } = answering(422, {
      title: 'Unprocessable',
      status: 422,
      detail: '1 of 2 credentials have no valid rotation policy',
      problems: [{ credential: 'k', environment: 'production', error: 'no owner' }],
    });
    expect(await main(start('--selector', 'owner=x'), io, '1')).toBe(1);
    expect(out.stderr).toContain(
      '  problems: {"credential":"k","environment":"production","error":"no owner"}',
    );
  });
});
