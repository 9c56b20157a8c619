import { Client, Connection } from '@temporalio/client';
import Ajv2020 from 'ajv/dist/2020';
import path from 'node:path';
import { buildApp } from '../../api/app';
import { Authenticator } from '../../api/auth';
import { approvalBody } from '../../api/routes/action-schemas';
import { loadRegistry } from '../../config';
import { TUNED_CHECKS, schemathesisConfig, stArgs, summarize } from '../../scripts/fuzz-api';

// scripts/fuzz-api.ts's own logic (the figures it reports, the checks it widens) and the schema
// declarations the fuzzer holds the API to; the run itself is `make fuzz-api`.

/** One ScenarioFinished event as schemathesis 4.32 writes it, reduced to what the summary reads. */
const scenario = (label: string, cases: Record<string, [string, 'success' | 'failure'][]>) =>
  JSON.stringify({
    ScenarioFinished: {
      phase: 'fuzzing',
      status: Object.values(cases).some((c) => c.some(([, s]) => s === 'failure')) ? 'failure' : 'success',
      recorder: {
        label,
        checks: Object.fromEntries(
          Object.entries(cases).map(([id, checks]) => [
            id,
            checks.map(([name, status]) => ({ name, status })),
          ]),
        ),
        interactions: Object.fromEntries(Object.keys(cases).map((id) => [id, { request: {}, response: {} }])),
      },
    },
  });

describe('the fuzz run summary', () => {
  it("counts operations, requests once per test case and every failed check from schemathesis's NDJSON report", () => {
    const ndjson = [
      JSON.stringify({ Initialize: { seed: 14 } }),
      JSON.stringify({ LoadingFinished: { statistic: { operations: { total: 16, selected: 16 } } } }),
      scenario('GET /v1/rotations', {
        a1: [
          ['not_a_server_error', 'success'],
          ['status_code_conformance', 'success'],
        ],
        a2: [
          ['not_a_server_error', 'success'],
          ['status_code_conformance', 'failure'],
        ],
      }),
      // The stateful phase reports a case again in a later scenario: counted once.
      scenario('POST /v1/rotations', {
        a2: [['status_code_conformance', 'failure']],
        b1: [['not_a_server_error', 'failure']],
      }),
      JSON.stringify({ ScenarioFinished: { status: 'skip', recorder: { label: 'GET /docs' } } }),
      '',
    ].join('\n');
    expect(summarize(ndjson)).toEqual({
      operations: 16,
      requests: 3,
      failures: 2,
      errors: 0,
      perCheck: {
        not_a_server_error: { total: 3, failed: 1 },
        status_code_conformance: { total: 2, failed: 1 },
      },
    });
  });

  it('reports nothing from an empty report, which the run then fails as too few requests', () => {
    expect(summarize('')).toMatchObject({ operations: 0, requests: 0, failures: 0 });
  });
});

describe('the checks the fuzz run widens', () => {
  const DEFAULTS: Record<string, (number | string)[]> = {
    negative_data_rejection: [400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429, '5xx'],
    positive_data_acceptance: ['2xx', '3xx', 401, 403, 404, 409, 429, '5xx'],
  };

  it("keeps each check's defaults and adds only the codes its reason names", () => {
    for (const t of TUNED_CHECKS) {
      const defaults = DEFAULTS[t.check];
      expect(defaults).toBeDefined();
      expect(t.expected).toEqual(expect.arrayContaining(defaults!));
      const added = t.expected.filter((code) => !defaults!.includes(code));
      expect(added.length).toBeGreaterThan(0);
      for (const code of added) expect(t.why).toContain(String(code));
    }
  });

  it('takes the token from the environment, never writes it, and keeps the crash cache off', () => {
    const config = schemathesisConfig();
    expect(config).toContain('bearer = "${REKEY_FUZZ_TOKEN}"');
    expect(config).not.toMatch(/rk_[0-9a-f]{16,}/);
    expect(config).toMatch(/\[cache\]\nenabled = false/);
  });
});

describe('the operations the fuzz run leaves out', () => {
  it('are only the signed scanner webhooks and Event Grid deliveries, not the exposure records nor any other route', () => {
    // What st is given, not the table: st keeps only the last --exclude-path-regex, so there must be one
    // (two of them fuzzed the scanner webhooks, whose 401s failed CI on the warning missing_auth).
    const args = stArgs('http://127.0.0.1:1', 'st.toml', 'report', {
      maxExamples: '1',
      seed: '1',
      workers: '1',
    });
    const flags = args.flatMap((a, i) => (a === '--exclude-path-regex' ? [args[i + 1]!] : []));
    expect(flags).toHaveLength(1);
    const excluded = (p: string) => new RegExp(flags[0]!).test(p);
    expect(excluded('/v1/exposures/github')).toBe(true);
    expect(excluded('/v1/exposures/gitguardian')).toBe(true);
    expect(excluded('/v1/expiry-events/azure-key-vault')).toBe(true);
    for (const kept of [
      '/v1/exposures',
      '/v1/exposures/{source}/{alertId}',
      '/v1/rotations',
      '/v1/schedules',
    ]) {
      expect(excluded(kept)).toBe(false);
    }
  });
});

describe("the approvals body's OpenAPI schema", () => {
  const exception = {
    consumer: 'batch-worker',
    owner: 'team-a',
    expiresAt: '2027-01-31',
    compensatingControl: 'egress restricted to the batch subnet',
  };
  const bodies: Record<string, unknown>[] = [
    { gate: 'flip' },
    { gate: 'revoke', reason: 'looks good' },
    { gate: 'flip', decision: 'approve', riskReason: 'accepted', exceptions: [exception] },
    { gate: 'flip', decision: 'reject' },
    { gate: 'flip', decision: 'reject', reason: 'error rate too high' },
    { gate: 'flip', decision: 'reject', comment: 'error rate too high' },
    { gate: 'flip', decision: 'reject', reason: 'no', riskReason: 'accepted' },
    { gate: 'revoke', decision: 'reject', reason: 'no', exceptions: [exception] },
    { gate: 'revoke', decision: 'reject', comment: 'no', riskReason: 'r', exceptions: [exception] },
  ];

  it('accepts and refuses the same bodies as the zod schema with its refinements', async () => {
    const app = buildApp({
      // Lazy: the document needs no Temporal server, and nothing here calls one.
      temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
      registry: loadRegistry(path.join(__dirname, '..', '..', 'config', 'credentials.example.yaml')),
      auth: new Authenticator([]),
      taskQueue: 'unit',
      temporalUiUrl: 'http://127.0.0.1:8233',
    });
    try {
      await app.ready();
      const doc = (await app.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, { post: { requestBody: { content: Record<string, { schema: object }> } } }>;
      }>();
      const schema =
        doc.paths['/v1/rotations/{id}/approvals']!.post.requestBody.content['application/json']!.schema;
      const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(schema);
      const verdicts = bodies.map((b) => ({
        body: b,
        openapi: validate(b),
        zod: approvalBody.safeParse(b).success,
      }));
      for (const v of verdicts) expect(v).toEqual({ ...v, openapi: v.zod });
      // Both ways occur, or the comparison would prove nothing.
      expect(new Set(verdicts.map((v) => v.zod))).toEqual(new Set([true, false]));
    } finally {
      await app.close();
    }
  });
});
