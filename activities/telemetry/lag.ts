// A telemetry source that has not caught up with a window yet (spend-log rows land in batches,
// Prometheus scrapes on an interval). Such a reading is neither a count nor a failure of the source:
// the hold observation looks again for a while, and the workflow judges a window still behind as
// inconclusive, never as "0 requests".

/** Thrown by an adapter for a figure it cannot give yet because its source lags behind the window. */
export class TelemetryLagging extends Error {
  override readonly name = 'TelemetryLagging';
}

export function isLagging(err: unknown): err is TelemetryLagging {
  return err instanceof TelemetryLagging;
}

/** Default time an activity waits for a lagging source, and how often it looks again. */
export const CATCH_UP_MS = 30_000;
export const CATCH_UP_POLL_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads until the source has caught up with the window or `budgetMs` is spent, and returns the last
 * reading either way (the caller judges one still behind as inconclusive).
 */
export async function untilCaughtUp<T>(
  read: () => Promise<T>,
  behind: (reading: T) => boolean,
  budgetMs: number = CATCH_UP_MS,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  let reading = await read();
  while (behind(reading) && Date.now() + CATCH_UP_POLL_MS <= deadline) {
    await sleep(CATCH_UP_POLL_MS);
    reading = await read();
  }
  return reading;
}
