/** Environment variable through which global setup tells global teardown what it started. */
export const HARNESS_STATE_ENV = 'REKEY_TEST_HARNESS_STATE';

/** What one jest run started: its folder, its own pid, and the server process groups. */
export interface HarnessState {
  dir: string;
  ownerPid: number;
  servers: { name: string; pid: number }[];
}
