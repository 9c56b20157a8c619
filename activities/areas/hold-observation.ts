// HOLDING and the canary soak: what the telemetry saw of the new key (and, in the hold, the old key)
// in one window. The workflow judges the window; this only measures it.
import { KEY_LIKE } from '../../domain/key-shape';
import type { TelemetryKey } from '../../domain/ports';
import type { CredentialRef, HoldObservation } from '../../domain/activity-io';
import { isLagging, untilCaughtUp } from '../telemetry/lag';
import type { AreaDeps } from './area-deps';

/** An error's message, bounded and with anything key-shaped removed: it is written to history. */
function safeMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(new RegExp(KEY_LIKE.source, 'g'), '[redacted]').slice(0, 300);
}

interface ObserveInput {
  credential: CredentialRef;
  newKey: TelemetryKey;
  oldKey?: TelemetryKey;
  fromMs: number;
  toMs: number;
}

/** The activity that observes one hold or soak window. */
export function holdObservationActivities(deps: Pick<AreaDeps, 'telemetry' | 'telemetryCatchUpMs'>) {
  /** One reading of the window; `lagging` when the source said it has not caught up with it yet. */
  async function observeOnce(
    input: ObserveInput,
  ): Promise<{ observation: HoldObservation; lagging: boolean }> {
    const { credential, fromMs, toMs } = input;
    const errors: string[] = [];
    let lagging = false;
    const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read();
      } catch (err) {
        lagging ||= isLagging(err);
        errors.push(`${what}: ${safeMessage(err)}`);
        return undefined;
      }
    };
    const [newKey, newKeyByConsumer, oldKeyByConsumer] = await Promise.all([
      attempt('new-key window', () => deps.telemetry.window(credential, input.newKey, fromMs, toMs)),
      attempt('new-key consumers', () =>
        deps.telemetry.usageByConsumer(credential, input.newKey, fromMs, toMs),
      ),
      input.oldKey
        ? attempt('old-key consumers', () =>
            deps.telemetry.usageByConsumer(credential, input.oldKey!, fromMs, toMs),
          )
        : Promise.resolve(undefined),
    ]);
    const observation: HoldObservation = {
      fromMs,
      toMs,
      source: deps.telemetry.source(credential),
      ...(newKey ? { newKey } : {}),
      ...(newKeyByConsumer ? { newKeyByConsumer } : {}),
      ...(oldKeyByConsumer ? { oldKeyByConsumer } : {}),
      errors,
    };
    return { observation, lagging: lagging || newKey?.complete === false };
  }

  return {
    /**
     * HOLDING and the canary soak: one window of new-key traffic (totals and per consumer) and, in the
     * hold, old-key traffic per consumer. A source that fails is reported, not thrown: the workflow
     * counts it as a measurement error (consecutive_error_limit), never as a pass.
     */
    async observeHoldWindow(input: ObserveInput): Promise<HoldObservation> {
      // A source behind the window (spend-log batches) may catch up within seconds: look again for a
      // while rather than hand the workflow an inconclusive window it would have to wait a whole
      // window for. Well inside the activity's 1-minute start-to-close.
      const seen = await untilCaughtUp(
        () => observeOnce(input),
        (s) => s.lagging,
        deps.telemetryCatchUpMs,
      );
      return seen.observation;
    },
  };
}
