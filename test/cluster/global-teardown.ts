import { stopPostgres } from '../../scripts/cluster-postgres';
import { clusterDown } from '../../scripts/cluster-stack';
import { stopTemporalServer } from '../../scripts/cluster-temporal';
import { CLUSTER_STARTED_ENV } from './global-setup';
import { reapClusterTestRuns } from './rotation-cluster';

export default async function globalTeardown(): Promise<void> {
  // The suite's own processes first (workers, APIs, gateway, Key Vault, Prometheus), whatever the outcome.
  await reapClusterTestRuns({ all: true });
  // REKEY_KEEP_CLUSTER=1 leaves the cluster up for a look (make cluster-down stops it).
  if (process.env.REKEY_KEEP_CLUSTER === '1') return;
  const started = (process.env[CLUSTER_STARTED_ENV] ?? '').split(',');
  if (started.includes('temporal-server') && started.includes('postgres')) await clusterDown();
  else if (started.includes('temporal-server')) await stopTemporalServer();
  else if (started.includes('postgres')) await stopPostgres();
}
