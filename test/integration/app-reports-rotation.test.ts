import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RotationStatus } from '../../workflows/messages';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// A manual gateway whose only telemetry is what its apps report (no admin API, no Prometheus: the
// registry names no admin key). Each credential's app calls the gateway and POSTs a usage report per
// key every 2 s as itself (the reporter role), with an hour of reports before it started for the
// baseline. On the real stack (Key Vault, Temporal, worker, API, reference gateway):
// - reporting: the hold passes on the reports alone and the rotation completes (a person revokes the
//   old key at the gateway and confirms it);
// - silent: the app stops reporting once the hold starts (it keeps calling): every later window is
//   inconclusive, never "0 requests", and the revoke gate opens with insufficient evidence.
// App reports carry neither tokens nor spend, so the cost check is optional here (required, every
// window would be inconclusive: the source cannot see spend). Usage attribution stays required: rekey's
// canary on the pending key is in no app's report, so the canary's looks stay inconclusive (about 5
// minutes) and the attribution passes in the hold, on the reporting consumer's registered owner.
jest.setTimeout(12 * 60_000);

const run = randomBytes(3).toString('hex');
const reporting: StackCredential = {
  name: `reported-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-R${run}`,
  adapter: 'manual',
};
const silent: StackCredential = {
  name: `silent-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-S${run}`,
  adapter: 'manual',
};
const MIN_REQUESTS = 15;
/** 30 app requests per 15 s hold window. */
const APP_REQUESTS_PER_MINUTE = 120;

let stack: RotationStack;
let silentStopped: Promise<{ holding: RotationStatus; at: number }>;
const apps = new Map<StackCredential, StackApp>();
const oldValues = new Map<StackCredential, string>();
const UNTIL = { timeoutMs: 9 * 60_000, intervalMs: 1000, expectOk: true };
const until = (c: StackCredential, done: (s: RotationStatus) => boolean, what: string) =>
  stack.untilStatus(stack.idOf(c), done, what, UNTIL);
const untilPhase = (c: StackCredential, phases: string[]) =>
  until(c, (s) => phases.includes(s.phase), phases.join('|'));
const rotationUrl = (c: StackCredential, suffix: string) =>
  `/v1/rotations/${encodeURIComponent(stack.idOf(c))}${suffix}`;
const handOver = async (c: StackCredential) => {
  await untilPhase(c, ['AWAITING_REPLACEMENT_KEY']);
  const replacement = await stack.newGatewayKey();
  const handed = await stack.call('PUT', rotationUrl(c, '/replacement-key'), 'alice', { key: replacement });
  expect(handed.statusCode).toBe(202);
};
const trafficWindows = (s: RotationStatus) => s.checks.filter((c) => c.name === 'new-key traffic');

const describeVault = rotationStackUnavailableReason() === undefined ? describe : describe.skip;

describeVault('a manual rotation on app-reported telemetry', () => {
  beforeAll(async () => {
    stack = await startRotationStack([reporting, silent], { telemetry: 'app-reports' });
    for (const c of [reporting, silent]) {
      oldValues.set(c, (await stack.readSecret(c))!);
      apps.set(c, await stack.startApp(c, { requestsPerMinute: APP_REQUESTS_PER_MINUTE }));
    }
    await new Promise((r) => setTimeout(r, 3000));
    for (const c of [reporting, silent]) {
      await stack.start(c, {
        // The app times its calls inside this one busy jest process (worker, API and apps together),
        // so its p95 swings by hundreds of ms with load: a latency rise under 2 s is not judged here.
        thresholds: { min_requests: MIN_REQUESTS, min_latency_increase_ms: 2000 },
        evidence: { cost_anomaly_check: 'optional' },
      });
    }
    for (const c of [reporting, silent]) await handOver(c);
    // The silent app stops reporting as soon as its hold starts (it keeps calling the gateway).
    silentStopped = untilPhase(silent, ['HOLDING']).then((holding) => {
      apps.get(silent)!.stopReporting();
      return { holding, at: Date.now() };
    });
    silentStopped.catch(() => undefined);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('passes the hold on the apps’ reports and completes, the old key revoked by hand', async () => {
    const c = reporting;
    const app = apps.get(c)!;
    const oldValue = oldValues.get(c)!;
    const gate = await untilPhase(c, ['AWAITING_REVOKE_APPROVAL']);
    expect(gate.telemetry).toMatchObject({ name: 'app-reports' });
    const windows = trafficWindows(gate);
    // Blockers and window verdicts side by side: a failure shows why the gate was not positive.
    expect({
      blockers: gate.pendingGate!.blockers ?? [],
      windows: windows.map((w) => `${w.verdict}: ${(w.reasons ?? []).join('; ')}`),
    }).toEqual({ blockers: [], windows: expect.any(Array) });
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
    expect(gate.analysis).toMatchObject({ stage: 'hold', failed: 0 });
    const passed = windows.filter((w) => w.verdict === 'pass');
    expect(passed.length).toBeGreaterThanOrEqual(3);
    // Every request counted is one the app reported: rekey's probes are not subtracted from them.
    const reportedOnNew = app.stats(gate.fingerprints.new!)!;
    for (const w of passed) expect(w.figures!.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const judged = passed.reduce((n, w) => n + w.figures!.requests, 0);
    expect(judged).toBeLessThanOrEqual(Object.values(reportedOnNew.answers).reduce((a, b) => a + b, 0));
    expect(app.reports.refused).toEqual([]);
    expect(app.reports.stored).toBeGreaterThan(20);

    const approved = await stack.call('POST', rotationUrl(c, '/approvals'), 'bob', {
      gate: 'revoke',
      decision: 'approve',
      comment: 'the apps report a clean drain',
    });
    expect(approved.statusCode).toBe(200);
    await stack.revokeByHand(c, oldValue, UNTIL);
    const done = await untilPhase(c, ['COMPLETED']);
    expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
    expect(done.revocation).toMatchObject({ method: 'manual' });
    expect(await stack.gatewayStatus(oldValue)).toBe(401);
  });

  it('leaves the hold inconclusive when the app stops reporting, and never revokes the old key', async () => {
    const c = silent;
    const app = apps.get(c)!;
    const { holding, at: stoppedAt } = await silentStopped;
    const gate = await untilPhase(c, ['AWAITING_REVOKE_APPROVAL']);
    expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'insufficient' });
    expect(gate.pendingGate!.blockers).toEqual(
      expect.arrayContaining([expect.stringMatching(/hold analysis inconclusive|max hold reached/)]),
    );
    // The app kept calling the new key; without its reports no later window passed or counted as drained.
    expect(app.stats(holding.fingerprints.new!)!.lastAt).toBeGreaterThan(stoppedAt);
    const after = trafficWindows(gate).filter((w) => Date.parse(w.at) > stoppedAt + 3000);
    expect(after.length).toBeGreaterThan(0);
    for (const w of after) {
      expect(w.verdict).toBe('inconclusive');
      expect(w.reasons).toEqual(
        expect.arrayContaining([expect.stringMatching(/app-reports has not caught up with the window yet/)]),
      );
    }
    const phases = new Set(gate.timeline.map((e) => e.phase));
    expect(phases.has('REVOKING')).toBe(false);
    expect(await stack.gatewayStatus(oldValues.get(c)!)).toBe(200);
  });

  it('never lets a key reach a workflow history, a log line, an API response or a report file', async () => {
    const files = readdirSync(stack.appReportsDir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => readFileSync(path.join(f.parentPath, f.name), 'utf8'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.join('')).toMatch(/"key_fingerprint":"sha256:[0-9a-f]{12}"/);
    await stack.assertNoKeyLeaks([reporting, silent], { 'report file': files });
  });
});
