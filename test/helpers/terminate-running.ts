// Test helpers over a test's Temporal client. Teardown: terminates the runs a visibility query lists as running. A run that ends between the
// list and the terminate (it completed, or another file's teardown ended it) is what teardown wants
// anyway, so its WorkflowNotFoundError ("workflow execution already completed") is not a failure.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

export async function terminateRunning(
  client: Pick<Client, 'workflow'>,
  query: string,
  reason: string,
  which: (workflowId: string) => boolean = () => true,
): Promise<void> {
  for await (const wf of client.workflow.list({ query })) {
    if (!which(wf.workflowId)) continue;
    try {
      await client.workflow.getHandle(wf.workflowId, wf.runId).terminate(reason);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
}

/** Whether any run of this workflow id was ever started. */
export function workflowExists(client: Pick<Client, 'workflow'>, workflowId: string): Promise<boolean> {
  return client.workflow
    .getHandle(workflowId)
    .describe()
    .then(
      () => true,
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
}
