import { randomBytes } from 'node:crypto';
import type { CheckRecord } from '../../domain/status';
import type { RotationStatus } from '../../workflows/messages';
import {
  rotationStackUnavailableReason,
  startRotationStack,
  type RotationStack,
  type StackApp,
  type StackCredential,
} from '../helpers/rotation-stack';

// A whole rotation whose telemetry is the gateway's spend log, on the real stack (Temporal dev server,
// the real worker and activities, the reference gateway, Key Vault). The log's batch writer stalls once
// the hold has begun, as a LiteLLM proxy's does when its database is slow: the hold windows cannot be
// judged, so they are inconclusive (never "0 requests", never "drained") and the revoke gate stays
// shut. Once the writer runs again the log catches up, the next windows pass, and the rotation
// completes. The spend log cannot see per-key 401/403, so the policy makes the auth-error check
// optional (with it required no spend-log window could pass).
jest.setTimeout(8 * 60_000);

const run = randomBytes(3).toString('hex');
const MIN_REQUESTS = 20;
/** 40 app requests per 15 s window, twice min_requests. */
const APP_REQUESTS_PER_MINUTE = 160;
/** Rows land within 2 s while the writer runs; a window needs a row 2 s past its end. */
const BATCH_MS = 2000;
const LAG_SECONDS = 2;
/** A writer this slow writes nothing while the test watches. */
const STALLED_MS = 30 * 60_000;

const lagging: StackCredential = {
  name: `lagging-key-${run}`,
  environment: 'e2e',
  ticket: `CHG-L${run}`,
  adapter: 'litellm',
};

let stack: RotationStack;
let app: StackApp;
/** Every hold window the status showed, by when it was judged (the status keeps only the latest). */
const windows = new Map<string, CheckRecord>();

const id = () => stack.idOf(lagging);
function remember(s: RotationStatus) {
  for (const c of s.checks.filter((c) => c.name === 'new-key traffic')) windows.set(c.at, c);
}
const until = (what: string, done: (s: RotationStatus) => boolean, timeoutMs = 4 * 60_000) =>
  stack.untilStatus(
    id(),
    (s) => {
      remember(s);
      return done(s);
    },
    what,
    { timeoutMs, intervalMs: 500, expectOk: true },
  );
/** What the hold showed, for a failure message. */
const shown = () => [...windows.values()].map((w) => `${w.at} ${w.verdict}: ${w.detail}`).join('\n');
const lagReason = /litellm-spend-logs has not caught up|spend log has not caught up/;

beforeAll(async () => {
  const missing = rotationStackUnavailableReason();
  if (missing) throw new Error(`no rotation stack: ${missing}`);
  stack = await startRotationStack([lagging], {
    telemetry: 'litellm-spend-logs',
    spendLog: { batchMs: BATCH_MS },
    spendLogLagSeconds: LAG_SECONDS,
    // A stalled window is answered inconclusive after 6 s of looking again, not 30.
    workerSettings: { REKEY_TELEMETRY_CATCH_UP_SECONDS: 6 },
  });
  app = await stack.startApp(lagging, { requestsPerMinute: APP_REQUESTS_PER_MINUTE });
  await new Promise((r) => setTimeout(r, 3000));
});

afterAll(async () => {
  await stack?.close();
});

it('keeps the hold inconclusive while the spend log lags, then passes once it caught up, and completes', async () => {
  await stack.start(lagging, {
    thresholds: { min_requests: MIN_REQUESTS },
    evidence: { auth_error_check: 'optional' },
    analysis: { inconclusive_limit: 20 },
    cutover: { max_hold_minutes: 6 },
  });
  const holding = await until('HOLDING', (s) => s.phase === 'HOLDING');
  const newFp = holding.fingerprints.new!;
  await app.untilKey(newFp);

  // The batch writer stalls: rows of the hold stay queued.
  stack.setSpendLog({ batchMs: STALLED_MS });
  const stalledAt = new Date().toISOString();
  const stalledWindows = (s: RotationStatus) =>
    s.checks.filter((c) => c.name === 'new-key traffic' && c.at > stalledAt);
  const behind = await until(
    'two hold windows judged while the log is stalled',
    (s) => stalledWindows(s).length >= 2,
  );
  const judged = stalledWindows(behind);
  // Judged while stalled: inconclusive because the source is behind, never a pass on "0 requests".
  for (const w of judged) {
    expect(w.verdict).toBe('inconclusive');
    expect(w.reasons!.join('; ')).toMatch(lagReason);
    if (w.figures) expect(w.figures.complete).toBe(false);
  }
  expect(behind.phase).toBe('HOLDING');
  expect(behind.pendingGate).toBeUndefined();
  // The old key's traffic could not be read, so it does not count as drained.
  const drain = behind.checks.filter((c) => c.name === 'old-key drain' && c.at > stalledAt);
  expect(drain.length).toBeGreaterThan(0);
  for (const d of drain) expect(d.verdict).toBe('error');
  expect(behind.hold!.oldKeyZeroSince).toBeUndefined();
  expect(behind.analysis).toMatchObject({ stage: 'hold', failed: 0 });

  // The writer runs again; the queued rows land, the log catches up, and the hold passes.
  stack.setSpendLog({ batchMs: BATCH_MS });
  const caughtUpAt = new Date().toISOString();
  let last: RotationStatus | undefined;
  const gate = await until('the revoke gate', (s) => {
    last = s;
    return s.phase === 'AWAITING_REVOKE_APPROVAL';
  }).catch((err: Error) => {
    throw new Error(
      `${err.message}\nwindows:\n${shown()}\nthe hold goes on for: ${JSON.stringify(last?.hold?.waitingFor)}\nchecks: ${JSON.stringify(last?.checks.filter((c) => c.name !== 'new-key traffic'))}`,
    );
  });
  expect(gate.pendingGate).toMatchObject({ gate: 'revoke', evidence: 'positive' });
  const after = [...windows.values()].filter((w) => w.at > caughtUpAt);
  const passed = after.filter((w) => w.verdict === 'pass');
  expect(passed.length).toBeGreaterThan(0);
  for (const w of passed) {
    expect(w.figures!.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(w.figures!.complete).toBeUndefined();
  }
  expect(gate.hold!.oldKeyZeroSince).toEqual(expect.any(String));
  // The whole hold in one list: inconclusive while behind, then passing.
  const verdicts = [...windows.values()].sort((a, b) => a.at.localeCompare(b.at)).map((w) => w.verdict);
  expect(verdicts).toEqual(expect.arrayContaining(['inconclusive', 'pass']));
  expect(verdicts.lastIndexOf('inconclusive')).toBeLessThan(verdicts.lastIndexOf('pass'));

  const approved = await stack.call('POST', `/v1/rotations/${encodeURIComponent(id())}/approvals`, 'bob', {
    gate: 'revoke',
    decision: 'approve',
    comment: 'the spend log caught up and the hold passed',
  });
  expect(approved.statusCode).toBe(200);
  const done = await until('COMPLETED', (s) => s.phase === 'COMPLETED');
  expect(done.negativeTest).toMatchObject({ oldKeyRejected: true, newKeyAccepted: true });
  expect(app.stats(newFp)!.answers).toEqual({ '200': expect.any(Number) });
  stack.secrets.add((await stack.readSecret(lagging))!);
  await stack.assertNoKeyLeaks([lagging]);
});
