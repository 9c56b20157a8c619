import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTimeSkippingEnv } from '../helpers/time-skipping';
import { longSleep } from './fixtures/long-sleep';

describe('the time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a workflow that sleeps 30 days in well under a second of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'time-skipping-proof',
      workflowsPath: require.resolve('./fixtures/long-sleep'),
    });
    const before = await env.currentTimeMs();
    const started = Date.now();
    const result = await worker.runUntil(
      env.client.workflow.execute(longSleep, {
        args: [30],
        taskQueue: 'time-skipping-proof',
        workflowId: 'sleep-30-days',
      }),
    );
    const wallMs = Date.now() - started;
    const skippedMs = (await env.currentTimeMs()) - before;
    expect(result).toBe(30);
    expect(skippedMs).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
    expect(wallMs).toBeLessThan(1000);
  });
});
