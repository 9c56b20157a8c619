/** Environment variable through which global setup tells global teardown what it started. */
export const HARNESS_STATE_ENV = 'REKEY_TEST_HARNESS_STATE';

/** Where global setup leaves the OpenBao dev server's address and root token (or why it did not start). */
export const OPENBAO_ENV = {
  address: 'REKEY_TEST_OPENBAO_ADDR',
  token: 'REKEY_TEST_OPENBAO_TOKEN',
  unavailable: 'REKEY_TEST_OPENBAO_UNAVAILABLE',
} as const;

/** What one jest run started: its folder, its own pid, and the server process groups. */
export interface HarnessState {
  dir: string;
  ownerPid: number;
  servers: { name: string; pid: number; started?: string }[];
}

/**
 * The workflow bundle global setup built once for the run (worker.ts writeWorkflowBundle), which every
 * rotation stack's worker loads instead of bundling workflows/ again (webpack: seconds of CPU each).
 */
export const WORKFLOW_BUNDLE_ENV = 'REKEY_TEST_WORKFLOW_BUNDLE';
