import { Readable } from 'node:stream';
import type { RotationSummary, RotationView } from '../../cli/client';
import { toProblem } from '../../cli/client';
import type { CliIo } from '../../cli/commands';
import { formatList, formatProblem, formatStart, formatStatus, shellQuote, table } from '../../cli/format';
import { main } from '../../cli/main';
import type { RotationStatus } from '../../workflows/messages';

const ID = 'production:flatkey-router-key:CHG-1';

const summary: RotationSummary = {
  id: ID,
  workflowId: 'rekey:production:flatkey-router-key',
  runId: 'run-1',
  credential: 'flatkey-router-key',
  environment: 'production',
  changeTicket: 'CHG-1',
  requestedBy: 'alice@example.com',
  phase: 'AWAITING_REVOKE_APPROVAL',
  outcome: null,
  status: 'RUNNING',
  startTime: '2025-03-01T10:00:00.123Z',
  closeTime: null,
};

const detail: RotationStatus = {
  rotationId: ID,
  credential: 'flatkey-router-key',
  environment: 'production',
  mode: 'scheduled',
  changeTicket: 'CHG-1',
  requestedBy: 'alice@example.com',
  phase: 'AWAITING_REVOKE_APPROVAL',
  pendingGate: {
    gate: 'revoke',
    openedAt: '2025-03-01T11:00:00.000Z',
    requiredRoles: ['approver'],
    reminders: 1,
  },
  timeline: [
    { at: '2025-03-01T10:00:00.500Z', phase: 'PREPARING', event: 'started', by: 'alice@example.com' },
    { at: '2025-03-01T10:20:00.000Z', phase: 'HOLDING', event: 'hold-check', detail: 'ok' },
  ],
  checks: [],
  approvals: [
    { gate: 'flip', decision: 'APPROVED', principal: 'bob@example.com', at: '2025-03-01T10:10:00Z' },
  ],
  versions: {
    old: {
      store: 'https://kv',
      name: 'flatkey-router-key',
      version: 'v1',
      fingerprint: 'sha256:aaaaaaaaaaaa',
      enabled: true,
    },
  },
  fingerprints: {},
  gatewayKeys: {},
  preChecks: [],
  canary: [],
  exceptions: [{ consumer: 'enrichment-worker', requests: 3 }],
  coverage: [],
  gateEvidence: {},
  riskAcceptances: [],
};

const view = (d: RotationStatus | null): RotationView => ({
  ...summary,
  statusUrl: `/v1/rotations/${encodeURIComponent(ID)}`,
  temporalUiUrl: 'http://ui/namespaces/default/workflows/x',
  detail: d,
});

describe('rekey human output', () => {
  it('lists rotations as an aligned table, with - for what is not known yet', () => {
    const out = formatList([summary, { ...summary, id: 'staging:k:CHG-2', requestedBy: null, phase: null }]);
    expect(out.split('\n')).toEqual([
      'ID                                   PHASE                     OUTCOME  STATUS   REQUESTED BY       STARTED',
      `${ID}  AWAITING_REVOKE_APPROVAL  -        RUNNING  alice@example.com  2025-03-01T10:00:00Z`,
      'staging:k:CHG-2                      -                         -        RUNNING  -                  2025-03-01T10:00:00Z',
      '',
    ]);
    expect(formatList([])).toBe('no rotations match\n');
  });

  it('puts the started id alone on the first line and makes the status link absolute', () => {
    const out = formatStart(
      false,
      { id: ID, workflowId: 'wf', runId: 'r', statusUrl: '/v1/rotations/x', temporalUiUrl: 'http://ui/x' },
      'https://rekey.example/base',
    );
    expect(out.split('\n')[0]).toBe(ID);
    expect(out).toMatch(/already running with this change ticket/);
    expect(out).toMatch(/status +https:\/\/rekey\.example\/base\/v1\/rotations\/x/);
  });

  it('shows the pending gate with the command that answers it, versions, approvals and the timeline', () => {
    const out = formatStatus(view(detail));
    expect(out).toMatch(/phase +AWAITING_REVOKE_APPROVAL \(RUNNING\)/);
    expect(out).toMatch(
      /pending gate +revoke since 2025-03-01T11:00:00Z, needs approver, 1 reminder\(s\) sent/,
    );
    expect(out).toMatch(new RegExp(`next +rekey approve ${ID} --gate revoke`));
    expect(out).toMatch(/versions +old flatkey-router-key\/v1 \(sha256:aaaaaaaaaaaa\)/);
    expect(out).toMatch(/approval +flip APPROVED by bob@example.com at 2025-03-01T10:10:00Z/);
    expect(out).toMatch(/exceptions +old key still used by enrichment-worker \(3 requests\)/);
    expect(out).toMatch(
      /timeline\n {2}AT +PHASE +EVENT +BY +DETAIL\n {2}2025-03-01T10:00:00Z +PREPARING +started +alice/,
    );
    expect(out).toMatch(/HOLDING +hold-check +- +ok/);
  });

  it('shows whether the pending gate has positive evidence, and each blocker when it has not', () => {
    const out = formatStatus(
      view({
        ...detail,
        pendingGate: {
          ...detail.pendingGate!,
          evidence: 'insufficient',
          blockers: ['runtime coverage: enrichment-worker still on the old key', 'quota: 429s unobserved'],
        },
      }),
    );
    expect(out).toMatch(
      /gate evidence +INSUFFICIENT: approving it accepts the risk on record, with the blockers as what was missing\n/,
    );
    expect(out).toMatch(
      /blocker +runtime coverage: enrichment-worker still on the old key\n +blocker +quota: 429s unobserved\n +next +rekey approve/,
    );
    expect(out).toMatch(new RegExp(`next +rekey approve ${ID} --gate revoke --accept-risk <reason> `));

    const positive = formatStatus(
      view({ ...detail, pendingGate: { ...detail.pendingGate!, evidence: 'positive' } }),
    );
    expect(positive).toMatch(/gate evidence +positive\n/);
    expect(positive).not.toMatch(/blocker|--accept-risk/);
  });

  it('shows the rows each gate showed when it opened, with their state', () => {
    const out = formatStatus(
      view({
        ...detail,
        gateEvidence: {
          revoke: {
            gate: 'revoke',
            computedAt: '2025-03-01T11:00:00.000Z',
            evidence: 'insufficient',
            blockers: ['runtime coverage'],
            rows: [
              {
                signal: 'authentication',
                state: 'green',
                blocking: true,
                evidence: ['canary 2/2', 'old key silent'],
              },
              {
                signal: 'runtimeCoverage',
                state: 'red',
                blocking: true,
                evidence: ['enrichment-worker on old key'],
              },
              { signal: 'supportReadiness', state: 'unknown', blocking: false, evidence: [] },
            ],
          },
        },
      }),
    );
    expect(out).toMatch(
      /\nrevoke gate evidence \(computed 2025-03-01T11:00:00Z\): insufficient\n {2}SIGNAL +STATE +BLOCKING +EVIDENCE\n/,
    );
    expect(out).toMatch(/ {2}authentication +green +yes +canary 2\/2; old key silent\n/);
    expect(out).toMatch(/ {2}runtimeCoverage +RED +yes +enrichment-worker on old key\n/);
    expect(out).toMatch(/ {2}supportReadiness +unknown +no\n/);
    expect(formatStatus(view(detail))).not.toMatch(/gate evidence/);
  });

  it('marks each check with its verdict, and says why a check did not pass', () => {
    const check = { at: '2025-03-01T10:30:00.000Z', passed: false, detail: 'window 10:20-10:30' };
    const out = formatStatus(
      view({
        ...detail,
        checks: [
          { ...check, name: 'canary', passed: true, verdict: 'pass', detail: 'chat-completions:200' },
          { ...check, name: 'new-key traffic', verdict: 'fail', reasons: ['5xx rate 0.13 > 0.02'] },
          { ...check, name: 'old-key drain', verdict: 'inconclusive', reasons: ['too little traffic'] },
          { ...check, name: 'usage attribution', verdict: 'error', reasons: ['spend logs 503'] },
          { ...check, name: 'preflight', detail: 'recorded before verdicts' },
        ],
      }),
    );
    expect(out).toMatch(/\nchecks\n {2}AT +CHECK +VERDICT +DETAIL\n/);
    expect(out).toMatch(/canary +✓ pass +chat-completions:200\n/);
    expect(out).toMatch(/new-key traffic +✗ fail +window 10:20-10:30 \(5xx rate 0.13 > 0.02\)\n/);
    expect(out).toMatch(/old-key drain +\? inconclusive +window 10:20-10:30 \(too little traffic\)\n/);
    expect(out).toMatch(/usage attribution +! error +window 10:20-10:30 \(spend logs 503\)\n/);
    expect(out).toMatch(/preflight +✗ fail +recorded before verdicts\n/);
  });

  it('lists a risk accepted at a gate with who, when, why and what evidence was missing', () => {
    const out = formatStatus(
      view({
        ...detail,
        riskAcceptances: [
          {
            gate: 'revoke',
            principal: 'bob@example.com',
            reason: 'worker restarts tonight',
            missing: ['runtime coverage'],
            at: '2025-03-01T11:05:00.000Z',
          },
        ],
        exceptions: [
          {
            consumer: 'enrichment-worker',
            requests: 3,
            owner: 'dana@example.com',
            expiresAt: '2025-03-08',
            compensatingControl: 'egress restricted',
          },
        ],
      }),
    );
    expect(out).toMatch(
      /risk accepted +revoke by bob@example.com at 2025-03-01T11:05:00Z: worker restarts tonight \(missing: runtime coverage\)/,
    );
    expect(out).toMatch(
      /exceptions +old key still used by enrichment-worker \(3 requests, owner dana@example.com, expires 2025-03-08, control: egress restricted\)/,
    );
  });

  it('tells how to revoke a replacement key a rollback kept enabled', () => {
    const out = formatStatus(
      view({
        ...detail,
        pendingGate: { ...detail.pendingGate!, gate: 'replacement-key-revocation' },
      }),
    );
    expect(out).toMatch(new RegExp(`next +rekey revoke-replacement-key ${ID} --reason …`));
  });

  it('points a manual hand-off at the key-file command, never at a key argument', () => {
    const out = formatStatus(
      view({
        ...detail,
        pendingGate: { ...detail.pendingGate!, gate: 'replacement-key', requiredRoles: ['requester'] },
      }),
    );
    expect(out).toMatch(new RegExp(`next +rekey hand-off ${ID} --key-file <file>\\|-`));
  });

  it('says so when no worker answered the status query, instead of claiming no gate is pending', () => {
    const out = formatStatus(view(null));
    expect(out).toMatch(/phase +AWAITING_REVOKE_APPROVAL \(RUNNING\)/);
    expect(out).toMatch(/pending gate +unknown: no worker answered the status query/);
    expect(out).not.toMatch(/timeline/);
  });

  it('prints a refusal with its detail, every field error, extra members and the request id', () => {
    const out = formatProblem(
      {
        type: 'about:blank',
        title: 'Invalid request',
        status: 400,
        detail: '2 field(s) invalid: rotation, rotation.cutover.observation_window_minutes',
        requestId: 'req-1',
        errors: [
          { path: 'rotation', message: 'Unrecognized key: "colour"' },
          { path: 'rotation.cutover.observation_window_minutes', message: 'expected number' },
        ],
        registered: ['a', 'b'],
      },
      { tokenSet: true },
    );
    expect(out.split('\n')).toEqual([
      'rekey: 400 Invalid request: 2 field(s) invalid: rotation, rotation.cutover.observation_window_minutes',
      '  rotation: Unrecognized key: "colour"',
      '  rotation.cutover.observation_window_minutes: expected number',
      '  registered: a, b',
      '  request id: req-1',
      '',
    ]);
    expect(formatProblem({ title: 'Unauthenticated', status: 401 }, { tokenSet: false })).toMatch(
      /hint: REKEY_TOKEN is not set/,
    );
  });

  it("reads Fastify's own error shape and plain text as problems too", () => {
    expect(
      toProblem(
        404,
        'Not Found',
        '{"message":"Route PUT:/v1/x not found","error":"Not Found","statusCode":404}',
        '/v1/x',
      ),
    ).toEqual({ title: 'Not Found', status: 404, detail: 'Route PUT:/v1/x not found', instance: '/v1/x' });
    expect(toProblem(502, 'Bad Gateway', '<html>upstream down</html>', '/v1/rotations')).toMatchObject({
      title: 'Bad Gateway',
      status: 502,
      detail: '<html>upstream down</html>',
    });
  });

  it('quotes ids for the shell only when they need it', () => {
    expect(shellQuote(ID)).toBe(ID);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(table(['A', 'B'], [['long value', 'x']])).toBe('A           B\nlong value  x\n');
  });
});

describe('rekey error output', () => {
  // A canned answer, to check how refusals are printed and which exit code they map to.
  const answering = (status: number, body: unknown) => {
    const out = { stdout: '', stderr: '' };
    const io: CliIo = {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      stdin: Readable.from([]),
      env: { REKEY_TOKEN: 'rk_test' },
      fetch: () =>
        Promise.resolve(
          new Response(JSON.stringify(body), {
            status,
            headers: { 'content-type': 'application/problem+json' },
          }),
        ),
    };
    return { io, out };
  };
  const conflict = {
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'gate not open',
    requestId: 'r9',
  };

  it('prints a 4xx problem on stderr and exits 1, or the problem document itself with --json', async () => {
    const human = answering(409, conflict);
    expect(await main(['approve', ID, '--gate', 'flip'], human.io, '1')).toBe(1);
    expect(human.out.stderr).toBe('rekey: 409 Conflict: gate not open\n  request id: r9\n');
    expect(human.out.stdout).toBe('');

    const json = answering(409, conflict);
    expect(await main(['approve', ID, '--gate', 'flip', '--json'], json.io, '1')).toBe(1);
    expect(JSON.parse(json.out.stderr)).toEqual(conflict);
  });

  it('refuses to hand a key over plain http to another host unless told to, before any request', async () => {
    let requests = 0;
    const { io, out } = answering(202, {
      id: ID,
      version: 'v1',
      fingerprint: 'sha256:0123456789ab',
      phase: 'P',
    });
    const counting: CliIo = {
      ...io,
      stdin: Readable.from(['new-key-value-1234567890\n']),
      fetch: (...a) => (requests++, io.fetch!(...a)),
    };
    const remote = ['--api', 'http://rekey.internal:8080', 'hand-off', ID, '--key-file', '-'];
    expect(await main(remote, counting, '1')).toBe(2);
    expect(out.stderr).toMatch(/refusing to send a key over plain http to rekey.internal:8080/);
    expect(requests).toBe(0);
    const allowed = { ...counting, stdin: Readable.from(['new-key-value-1234567890\n']) };
    expect(await main([...remote, '--insecure-http'], allowed, '1')).toBe(0);
    expect(requests).toBe(1);
  });

  it('exits 3 on a 5xx answer', async () => {
    const { io, out } = answering(500, { title: 'Internal error', status: 500, detail: 'see the log' });
    expect(await main(['list'], io, '1')).toBe(3);
    expect(out.stderr).toMatch(/^rekey: 500 Internal error: see the log/);
  });
});
