// Multi-replica mode of the reference gateway (issue 15 item 1b): N replicas behind one admin API. They
// share the keys (LiteLLM's database) but each keeps its own key cache, so a block or delete reaches
// each replica only after that replica's propagation delay: LiteLLM #9820 (a blocked key still worked on
// other pods) and #2149 (a deleted key still worked on a second instance). Each replica serves the
// OpenAI routes on its own port; admin calls and fault injection go to the primary.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Simulator } from './app';
import { registerOpenAiRoutes } from './openai-routes';
import { hashKey, type Faults, type GatewayState } from './state';

export interface ReplicaOptions {
  /** How long a block, disable or delete takes to reach this replica's cache (the primary's own delay aside). */
  revocationDelayMs?: number;
}

export interface Replica {
  app: FastifyInstance;
  /** This replica's cache keeps a revoked key for `ms` (by value or hash), whatever its default delay. */
  delayKey(valueOrHash: string, ms: number): void;
}

export interface RunningReplica extends Replica {
  /** The replica's root URL (its OpenAI API is under /v1). */
  base: string;
}

/** The shared faults, with this replica's per-key overrides on top (its cache delays). */
class ReplicaFaults extends Map<string, Faults> {
  constructor(private readonly shared: Map<string, Faults>) {
    super();
  }

  override get(token: string): Faults | undefined {
    const own = super.get(token);
    const shared = this.shared.get(token);
    return own || shared ? { ...shared, ...own } : undefined;
  }
}

/**
 * The shared state as one replica sees it: the same keys, spend log and request counter, but its own
 * propagation delay and per-key delays. A Proxy rather than a copy, so every write (request counts,
 * spend, last use) lands in the one shared state.
 */
function replicaView(state: GatewayState, delayMs: number, faults: ReplicaFaults): GatewayState {
  return new Proxy(state, {
    get(target, prop, receiver) {
      if (prop === 'defaultRevocationDelayMs') return delayMs;
      if (prop === 'faults') return faults;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/** One replica of `primary`; `app.listen` serves it. */
export function buildReplica(primary: Simulator, opts: ReplicaOptions = {}): Replica {
  const faults = new ReplicaFaults(primary.state.faults);
  const view = replicaView(primary.state, opts.revocationDelayMs ?? 0, faults);
  const app = Fastify({ logger: false });
  // Counts land in the primary's /metrics: one series over all replicas, as a Prometheus sum over pods.
  registerOpenAiRoutes(app, view, primary.metrics);
  app.get('/health', () => ({ status: 'ok' }));
  return {
    app,
    delayKey(valueOrHash, ms) {
      const token = primary.state.keys.has(valueOrHash) ? valueOrHash : hashKey(valueOrHash);
      faults.set(token, { revocationDelayMs: ms });
    },
  };
}

/** A replica per option on its own free port of `host`. */
export async function startReplicas(
  primary: Simulator,
  replicas: ReplicaOptions[],
  host = '127.0.0.1',
): Promise<RunningReplica[]> {
  const running: RunningReplica[] = [];
  for (const opts of replicas) {
    const replica = buildReplica(primary, opts);
    running.push({ ...replica, base: await replica.app.listen({ port: 0, host }) });
  }
  return running;
}
