// The negative test after revocation: the old key must be refused (401/403), retried with backoff while
// the gateway propagates the revocation, and the new key must still be accepted. Both are evidence.
import type { GatewayProbe } from '../../domain/ports';
import type { NegativeTestResult } from '../../domain/activity-io';

export interface NegativeTestOptions {
  /** Old-key probes at most; the delay between them doubles from `intervalMs`. */
  attempts: number;
  intervalMs: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const refused = (status: number) => status === 401 || status === 403;

/** Probes old then new key through the gateway; never throws for a key that still works. */
export async function runNegativeTest(
  probe: GatewayProbe,
  baseUrl: string,
  oldKey: string,
  newKey: string,
  opts: NegativeTestOptions,
): Promise<NegativeTestResult> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  let oldKeyStatus = 0;
  let attempts = 0;
  for (let delay = opts.intervalMs; attempts < opts.attempts; delay *= 2) {
    attempts += 1;
    oldKeyStatus = await probe.status(baseUrl, oldKey);
    if (refused(oldKeyStatus) || attempts === opts.attempts) break;
    await sleep(delay);
  }
  const newKeyStatus = await probe.status(baseUrl, newKey);
  return {
    oldKeyStatus,
    oldKeyRejected: refused(oldKeyStatus),
    newKeyStatus,
    newKeyAccepted: newKeyStatus >= 200 && newKeyStatus < 300,
    attempts,
    at: new Date(now()).toISOString(),
  };
}
