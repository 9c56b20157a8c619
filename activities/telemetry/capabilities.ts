// Which per-key signals a telemetry source can see. Each adapter states what its data can show; the
// registry's `unobservable` list switches off what one deployment cannot see (never switches one on).
import {
  SIGNALS,
  type Signal,
  type SignalCapabilities,
  type TelemetrySource,
} from '../../domain/activity-io';

/** Capabilities with exactly these signals observable. */
export function observing(signals: readonly Signal[]): SignalCapabilities {
  return Object.fromEntries(SIGNALS.map((s) => [s, signals.includes(s)])) as SignalCapabilities;
}

/** The source with the registry's unobservable signals switched off. */
export function withUnobservable(
  source: TelemetrySource,
  unobservable: readonly Signal[] = [],
): TelemetrySource {
  const capabilities = Object.fromEntries(
    SIGNALS.map((s) => [s, source.capabilities[s] && !unobservable.includes(s)]),
  ) as SignalCapabilities;
  return { ...source, capabilities };
}
