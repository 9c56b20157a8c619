import { existsSync, readFileSync, rmSync } from 'node:fs';
import { stopProcessGroup } from '../../scripts/local-stack';
import { HARNESS_STATE_ENV, type HarnessState } from './harness-state';

export default async function globalTeardown(): Promise<void> {
  const stateFile = process.env[HARNESS_STATE_ENV];
  if (!stateFile || !existsSync(stateFile)) return;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as HarnessState;
  for (const s of [...state.servers].reverse()) await stopProcessGroup(s.pid, 5000, s.started);
  // REKEY_KEEP_TEST_RUN=1 keeps the servers' logs of a run for inspection.
  if (process.env.REKEY_KEEP_TEST_RUN !== '1') rmSync(state.dir, { recursive: true, force: true });
}
