import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookSignature } from '../../activities/notify';
import { finalStatusOf } from '../../api/final-status';
import type { RotationStatus } from '../../workflows/messages';
import { runRekey } from '../helpers/cli';
import { runCommand, TOOLS } from '../../scripts/local-stack';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
  type Who,
} from '../helpers/rotation-stack';

// A whole rotation through the API, on the real Temporal dev server, with the real worker and real
// activities: the reference gateway, Key Vault (the reference Key Vault), a real Prometheus scraping the gateway as the telemetry, the filesystem evidence
// store. Two rotations run side by side: an automated LiteLLM key, whose app sends four times the
// policy's min_requests per hold window so that the revoke gate opens on positive evidence, approved
// through to COMPLETED; and a manual one handed over through the API and rolled back.
// The stack (test/helpers/rotation-stack.ts) listens for the CLI and captures the API's and the
// worker's log lines.
jest.setTimeout(6 * 60_000);

const run = randomBytes(3).toString('hex');
let stack: RotationStack;
let app: StackApp;
/** The policy's min_requests (its default) and the app's pace: 80 requests per 15 s window. */
const MIN_REQUESTS = 20;
const APP_REQUESTS_PER_MINUTE = 320;

const automated: StackCredential = {
  name: `auto-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-A${run}`,
  adapter: 'litellm',
};
const manual: StackCredential = {
  name: `manual-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-M${run}`,
  adapter: 'manual',
};
const idOf = (c: StackCredential) => stack.idOf(c);
const newGatewayKey = () => stack.newGatewayKey();

function policy(c: StackCredential) {
  return stack.policy(c, {
    ...(c === automated ? { changeTicket: { webhook_url: `${hooks.url}/ticket-hook` } } : {}),
    thresholds: { min_requests: MIN_REQUESTS },
  });
}

// The stack keeps every response body for the leak check.
const call: RotationStack['call'] = (...args) => stack.call(...args);
/** The real `rekey` bin against the stack's listening API; its output counts as a response. */
async function cli(args: string[], who: Who) {
  const run = await runRekey(args, { api: stack.apiUrl!, token: stack.tokens[who] });
  stack.responses.push(run.stdout, run.stderr);
  return run;
}
const rotationUrl = (id: string, suffix = '') => `/v1/rotations/${encodeURIComponent(id)}${suffix}`;
/** The Temporal CLI against the harness's server, as someone with write access to the namespace. */
const temporalCli = (args: string[]) =>
  runCommand(path.join(TOOLS, 'bin', 'temporal'), [...args, '--address', process.env.TEMPORAL_ADDRESS!]);
/** A command line as a shell runs it (the Temporal CLI found on PATH, as on an operator's machine). */
const shell = (line: string) =>
  runCommand('bash', ['-c', line], {
    env: { ...process.env, PATH: `${path.join(TOOLS, 'bin')}${path.delimiter}${process.env.PATH ?? ''}` },
  });

/** Every status read answers 200 with a status; a rotation may take minutes to reach a phase. */
function untilPhase(id: string, phases: string[]): Promise<RotationStatus> {
  return stack.untilPhase(id, phases, { timeoutMs: 4 * 60_000, intervalMs: 1000, expectOk: true });
}

const webhookSecret = `whsec-${randomBytes(16).toString('hex')}`;
interface Delivery {
  id: string;
  event: string;
  phase: string;
  signed: boolean;
  answered: number;
}
let hooks: { url: string; deliveries: Delivery[]; close: () => Promise<void> };

/** The change ticket's webhook: refuses the first attempt of every delivery, so each is retried. */
async function startTicketWebhook(): Promise<typeof hooks> {
  const deliveries: Delivery[] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const id = String(req.headers['x-rekey-delivery']);
      const signature = String(req.headers['x-rekey-signature']);
      const signed =
        signature === webhookSignature(webhookSecret, String(req.headers['x-rekey-timestamp']), body);
      const answered = seen.has(id) ? 204 : 503;
      seen.add(id);
      const event = JSON.parse(body) as { event: string; phase: string };
      deliveries.push({ id, event: event.event, phase: event.phase, signed, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const describeVault = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeVault('a rotation through the API with the real worker', () => {
  beforeAll(async () => {
    hooks = await startTicketWebhook();
    stack = await startRotationStack([automated, manual], {
      // The ticket's receiver listens on loopback: allowlisted as a private host, as a local one would be.
      workerSettings: { REKEY_WEBHOOK_SIGNING_SECRET: webhookSecret, REKEY_WEBHOOK_PRIVATE_HOSTS: hooks.url },
      listen: true,
    });
    // The automated key's consumer, already busy on the old key when the rotation starts.
    app = await stack.startApp(automated, { requestsPerMinute: APP_REQUESTS_PER_MINUTE });
    await new Promise((r) => setTimeout(r, 3000));

    // Both rotations start now and run side by side.
    for (const c of [automated, manual]) {
      const res = await call('POST', '/v1/rotations', 'alice', policy(c), {
        'content-type': 'application/yaml',
      });
      expect(res.statusCode).toBe(201);
    }
  });

  afterAll(async () => {
    // Terminates both rotations, then stops the worker, the API, the connections and the gateway.
    await stack?.close();
    await hooks?.close();
  });

  it('runs an automated rotation to COMPLETED through the gates: roles, four-eyes and closed gates refused, the approver accepted', async () => {
    const id = idOf(automated);
    const approve = (who: Who, gate: string) =>
      call('POST', rotationUrl(id, '/approvals'), who, {
        gate,
        decision: 'approve',
        comment: 'drain is clean',
      });

    const holding = await untilPhase(id, ['HOLDING']);
    const oldFp = holding.fingerprints.old!;
    const newFp = holding.fingerprints.new!;
    expect((await approve('bob', 'revoke')).statusCode).toBe(409);

    const gate = await untilPhase(id, ['AWAITING_REVOKE_APPROVAL']);
    // Every hold window was judged on the app's traffic, and the gate opened on positive evidence.
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
    expect(gate.pendingGate!.blockers ?? []).toEqual([]);
    expect(gate.gateEvidence.revoke).toMatchObject({ evidence: 'positive', blockers: [] });
    expect(gate.gateEvidence.revoke!.rows.filter((r) => r.blocking && r.state !== 'green')).toEqual([]);
    expect(gate.telemetry).toMatchObject({ name: 'prometheus', unobservable: [] });
    const windows = gate.checks.filter((c) => c.name === 'new-key traffic');
    expect(windows.length).toBeGreaterThanOrEqual(4);
    expect(gate.analysis).toMatchObject({ stage: 'hold', failed: 0 });
    expect(gate.analysis!.passed).toBeGreaterThanOrEqual(3);
    const passed = windows.filter((c) => c.verdict === 'pass');
    for (const w of passed) expect(w.figures!.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(gate.hold!.totals.newKeyRequests).toBeGreaterThanOrEqual(3 * MIN_REQUESTS);
    // The app moved to the new key with the flip, and the gateway answered it.
    expect(app.fingerprint).toBe(newFp);
    expect(app.stats(newFp)!.answers).toEqual({ '200': expect.any(Number) });
    expect(app.stats(oldFp)!.answers).toEqual({ '200': expect.any(Number) });
    // Visibility may lag the status query by a moment.
    const line = `rekey_rotation_phase{credential="${automated.name}",environment="e2e",phase="AWAITING_REVOKE_APPROVAL"} 1`;
    let scraped = '';
    for (let i = 0; i < 20 && !scraped.includes(line); i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      scraped = (await stack.app.inject({ url: '/metrics' })).body;
    }
    expect(scraped).toContain(line);
    expect(scraped).toMatch(/rekey_approvals_pending\{gate="revoke"\} [1-9]/);
    const viewer = await approve('dave', 'revoke');
    expect(viewer.statusCode).toBe(403);
    expect(viewer.headers['content-type']).toMatch(/application\/problem\+json/);
    const requester = await approve('alice', 'revoke');
    expect(requester.statusCode).toBe(403);
    expect(requester.json<{ detail: string }>().detail).toMatch(/four-eyes/);
    expect((await approve('bob', 'flip')).statusCode).toBe(409);

    // Anyone with write access to the namespace can send a signal naming bob: refused, and recorded.
    const wf = (await call('GET', rotationUrl(id), 'dave')).json<{ workflowId: string }>().workflowId;
    const forged = await temporalCli([
      'workflow',
      'signal',
      '--workflow-id',
      wf,
      '--name',
      'approve',
      '--input',
      JSON.stringify({ principal: 'bob@example.com', roles: ['approver'], gate: 'revoke' }),
    ]);
    expect(forged.code).toBe(0);
    const refusedForgery = await stack.untilStatus(
      id,
      (s) =>
        s.timeline.some(
          (t) => t.event === 'approve-refused' && /unsigned approve refused/.test(t.detail ?? ''),
        ),
      'the forged approval refused',
    );
    expect(refusedForgery.phase).toBe('AWAITING_REVOKE_APPROVAL');
    expect(refusedForgery.approvals).toEqual([]);

    // On-call approves through Temporal: the CLI prints a signed signal, sent with the Temporal CLI.
    const printed = await cli(
      ['approve', id, '--gate', 'revoke', '--comment', 'drain is clean', '--print-signal', '--json'],
      'bob',
    );
    expect(printed).toMatchObject({ code: 0, stderr: '' });
    const signal = JSON.parse(printed.stdout) as { command: string; workflowId: string; input: object };
    expect(signal).toMatchObject({
      workflowId: wf,
      signal: 'approve',
      command: expect.stringContaining('--name approve'),
    });
    // The same proof sent to the other rotation is refused there: it is bound to this one.
    const otherWf = (await call('GET', rotationUrl(idOf(manual)), 'dave')).json<{ workflowId: string }>()
      .workflowId;
    const replayed = await temporalCli([
      'workflow',
      'signal',
      '--workflow-id',
      otherWf,
      '--name',
      'approve',
      '--input',
      JSON.stringify(signal.input),
    ]);
    expect(replayed.code).toBe(0);
    await stack.untilStatus(
      idOf(manual),
      (s) =>
        s.timeline.some(
          (t) =>
            t.event === 'approve-refused' &&
            /no signature by a key this rotation trusts/.test(t.detail ?? ''),
        ),
      "another rotation's proof refused",
    );
    // The printed command line, run as printed (plus the address of this test's server).
    const sent = await shell(`${signal.command} --address ${process.env.TEMPORAL_ADDRESS}`);
    expect(sent).toMatchObject({ code: 0 });

    const done = await untilPhase(id, ['COMPLETED']);
    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    // Revocation: the pre-revoke probe, the old key disabled, the negative test, then deleted.
    expect(done.revocation).toMatchObject({
      method: 'disable-then-delete',
      disabledAt: expect.any(String),
      deletedAt: expect.any(String),
    });
    expect(done.riskAcceptances).toEqual([]);
    stack.secrets.add((await stack.readSecret(automated))!);
    // The app kept working on the new key throughout.
    expect(app.stats(newFp)!.answers).toEqual({ '200': expect.any(Number) });

    const late = await call('POST', rotationUrl(id, '/rollback'), 'carol', { reason: 'second thoughts' });
    expect(late.statusCode).toBe(409);
    const lateCli = await cli(['rollback', id, '--reason', 'second thoughts'], 'carol');
    expect(lateCli.code).toBe(1);
    expect(lateCli.stderr).toMatch(/409|finished/);

    const evidence = await call('GET', rotationUrl(id, '/evidence'), 'dave');
    expect(evidence.statusCode).toBe(200);
    expect(evidence.json()).toMatchObject({
      rotationId: id,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      bundle: {
        schemaVersion: 2,
        rotationId: id,
        changeTicket: {
          approvals: [
            expect.objectContaining({
              gate: 'revoke',
              principal: 'bob@example.com',
              proof: expect.objectContaining({ method: 'signature', via: 'signal', authn: 'static-token' }),
            }),
          ],
        },
        secretVersions: { source: 'secret-store-history' },
        negativeTest: { ran: true, oldKeyRejected: true, newKeyAccepted: true },
        outcome: { outcome: 'completed', oldKeyRevoked: true },
      },
    });
    // The reference Key Vault's history: the old version retired, the promoted one current.
    const versions = evidence.json<{
      bundle: { secretVersions: { versions: { roles: string[]; enabled: boolean }[] } };
    }>().bundle.secretVersions.versions;
    expect(versions.find((v) => v.roles.includes('retired'))).toMatchObject({ enabled: false });
    expect(versions.find((v) => v.roles.includes('current'))).toMatchObject({ enabled: true });
    const markdown = await call('GET', rotationUrl(id, '/evidence'), 'dave', undefined, {
      accept: 'text/markdown',
    });
    expect(markdown.headers['content-type']).toMatch(/text\/markdown/);
    for (const row of [
      'Change ticket',
      'Secret version history',
      'Gateway logs',
      'Negative test',
      'Exception list',
      'Post-change review',
    ]) {
      expect(markdown.body).toContain(`## ${row}\n`);
    }
    expect(markdown.body).toMatch(/bob@example.com/);
    const fromCli = await cli(['evidence', id, '--markdown'], 'dave');
    expect(fromCli.code).toBe(0);
    expect(fromCli.stdout).toContain(`# Key rotation evidence — ${id}`);
  });

  it("tells the ticket's webhook about every phase with a valid signature, retrying a refused delivery", async () => {
    // The workflow closes only after its last notification settled.
    const handle = stack.client.workflow.getHandle(`rekey:${automated.environment}:${automated.name}`);
    expect(await finalStatusOf(stack.client, handle, 60_000)).toMatchObject({ phase: 'COMPLETED' });
    const phases = hooks.deliveries.filter((d) => d.event === 'phase-changed').map((d) => d.phase);
    expect(phases).toEqual(
      expect.arrayContaining(['CANARY', 'FLIPPING', 'HOLDING', 'REVOKING', 'COMPLETED']),
    );
    expect(hooks.deliveries.some((d) => d.event === 'gate-opened')).toBe(true);
    expect(hooks.deliveries.every((d) => d.signed)).toBe(true);
    // Every delivery was refused once and answered on its retry, under the same delivery id.
    const byId = new Map<string, number[]>();
    for (const d of hooks.deliveries) byId.set(d.id, [...(byId.get(d.id) ?? []), d.answered]);
    expect(byId.size).toBeGreaterThanOrEqual(5);
    for (const [id, answers] of byId) expect([id, answers.slice(0, 2)]).toEqual([id, [503, 204]]);
  });

  it('hands a manual replacement key over through the API, flips, and rolls back to the old key on request', async () => {
    const id = idOf(manual);
    const oldValue = await stack.readSecret(manual);
    await untilPhase(id, ['AWAITING_REPLACEMENT_KEY']);
    const replacement = await newGatewayKey();

    expect(
      (await call('PUT', rotationUrl(id, '/replacement-key'), 'dave', { key: replacement })).statusCode,
    ).toBe(403);
    const same = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: oldValue });
    expect(same.statusCode).toBe(422);
    expect(same.json<{ detail: string }>().detail).toMatch(/the key being replaced/);
    const handed = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: replacement });
    expect(handed.statusCode).toBe(202);
    expect(handed.json()).toEqual({
      id,
      version: expect.stringMatching(/\S/),
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{12}$/),
      phase: 'AWAITING_REPLACEMENT_KEY',
    });
    const again = await call('PUT', rotationUrl(id, '/replacement-key'), 'alice', { key: replacement });
    expect(again.statusCode).toBe(409);

    await untilPhase(id, ['HOLDING']);
    // An app reading the stable path now gets the new key …
    expect(await stack.readSecret(manual)).toBe(replacement);
    const rollback = await cli(['rollback', id, '--reason', 'consumer errors'], 'carol');
    expect(rollback).toMatchObject({ code: 0, stderr: '' });
    const after = await untilPhase(id, ['ROLLED_BACK']);
    expect(after.rollbackCause).toMatch(/carol@example.com/);
    // Not completed: the run ends Failed, its typed failure carrying the final status.
    const handle = stack.client.workflow.getHandle(`rekey:${manual.environment}:${manual.name}`);
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect(await finalStatusOf(stack.client, handle, 10_000)).toMatchObject({ phase: 'ROLLED_BACK' });
    // … and the old key again after the rollback.
    expect(await stack.readSecret(manual)).toBe(oldValue);
  });

  it('never lets a key reach a workflow history, a log line or an API response', async () => {
    // The master key, both old keys, the handed-over key and the issued one.
    expect(stack.secrets.size).toBeGreaterThanOrEqual(5);
    expect(stack.logLines.length).toBeGreaterThan(0);
    await stack.assertNoKeyLeaks([automated, manual]);
  });
});
