// rekey's Prometheus metrics, defined once for the API and the worker. There is no module-level
// registry: each process (or test) passes its own, and the factory registers the metrics on it.
// Label values are never key material, raw URLs or other unbounded strings: credentials, environments
// and phases come from the registry and the workflow, routes are route templates.
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** Buckets for phases that last from seconds (canary) to days (an approval wait). */
const PHASE_DURATION_BUCKETS = [
  1,
  5,
  15,
  60,
  300,
  900,
  1800,
  3600,
  4 * 3600,
  12 * 3600,
  86400,
  3 * 86400,
  7 * 86400,
];

/** Buckets for API requests: fast reads up to a status query bounded at 5 s and a Temporal start. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// Reusing a metric the registry already holds lets the API and the worker share one registry in a
// single process (the demo, tests) without prom-client's "already registered" error.
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
) {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
}

/** Registers every rekey metric (and prom-client's process metrics) on a registry; safe to call twice. */
export function createRekeyMetrics(registry: Registry) {
  // process_cpu_user_seconds_total is the first default metric: present means already collected.
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) {
    collectDefaultMetrics({ register: registry });
  }
  return {
    registry,
    rotationsStarted: counter(
      registry,
      'rekey_rotations_started_total',
      'Rotations started (POST /v1/rotations answered 201).',
      ['environment', 'mode'],
    ),
    rotationsFinished: counter(
      registry,
      'rekey_rotations_finished_total',
      'Rotations that reached a terminal outcome.',
      ['environment', 'outcome'],
    ),
    rotationPhase: gauge(
      registry,
      'rekey_rotation_phase',
      'Current phase of each active rotation: 1 for the phase it is in.',
      ['credential', 'environment', 'phase'],
    ),
    phaseDuration: histogram(
      registry,
      'rekey_phase_duration_seconds',
      'Time rotations spent in each phase.',
      ['phase'],
      PHASE_DURATION_BUCKETS,
    ),
    approvalsPending: gauge(
      registry,
      'rekey_approvals_pending',
      'Rotations waiting for a human at each approval gate.',
      ['gate'],
    ),
    canaryRequests: counter(
      registry,
      'rekey_canary_requests_total',
      'Canary requests sent with a replacement key, by route and result.',
      ['route', 'result'],
    ),
    negativeTests: counter(
      registry,
      'rekey_negative_tests_total',
      'Negative tests of revoked keys, by result.',
      ['result'],
    ),
    httpRequests: counter(
      registry,
      'rekey_http_requests_total',
      'API requests answered, by route template and status.',
      ['method', 'route', 'status'],
    ),
    httpRequestDuration: histogram(
      registry,
      'rekey_http_request_duration_seconds',
      'API request duration, by route template and status.',
      ['method', 'route', 'status'],
      HTTP_DURATION_BUCKETS,
    ),
  };
}

/** The metrics createRekeyMetrics registers. */
export type RekeyMetrics = ReturnType<typeof createRekeyMetrics>;
