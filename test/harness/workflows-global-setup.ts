// The workflows project's global setup: the run's workflow bundle (./workflow-bundle.ts).
import { ensureWorkflowBundle } from './workflow-bundle';

export const BUNDLE_FOLDER_ENV = 'REKEY_TEST_WORKFLOW_BUNDLE_FOLDER';

export default async function workflowsGlobalSetup(): Promise<void> {
  const folder = await ensureWorkflowBundle();
  if (folder) process.env[BUNDLE_FOLDER_ENV] = folder;
}
