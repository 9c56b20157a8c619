// Brings up the real cluster (scripts/cluster-stack.ts) the cluster suite runs against: PostgreSQL and
// Temporal Server with SQL visibility, the namespace and rekey's search attributes. A cluster that
// already runs (`make cluster-up`) is used as it is and left running; what this setup starts, global
// teardown stops again, also when tests fail. Processes of a killed earlier run are reaped first.
import { clusterUp } from '../../scripts/cluster-stack';
import { reapClusterTestRuns } from './rotation-cluster';

/** What global setup started, for global teardown (both run in jest's parent process). */
export const CLUSTER_STARTED_ENV = 'REKEY_CLUSTER_STARTED_BY_TESTS';

export default async function globalSetup(): Promise<void> {
  await reapClusterTestRuns();
  const from = Date.now();
  const { state, started } = await clusterUp({ log: (line) => console.log(`[rekey cluster] ${line}`) });
  process.env[CLUSTER_STARTED_ENV] = started.join(',');
  process.env.TEMPORAL_ADDRESS = state.address;
  process.env.TEMPORAL_NAMESPACE = state.namespace;
  console.log(
    `[rekey cluster] ${started.length ? `started ${started.join(' and ')}` : 'already up'} in ${((Date.now() - from) / 1000).toFixed(1)} s: ${state.address}, namespace ${state.namespace}`,
  );
}
