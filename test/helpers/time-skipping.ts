import { TestWorkflowEnvironment } from '@temporalio/testing';
import { toolPath } from '../../scripts/local-stack';

/** A time-skipping test environment on the test server scripts/bootstrap.sh installed (no download). */
export function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
}
