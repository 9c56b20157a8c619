import { removeWorkflowBundle } from './workflow-bundle';
import { BUNDLE_FOLDER_ENV } from './workflows-global-setup';

export default function workflowsGlobalTeardown(): void {
  removeWorkflowBundle(process.env[BUNDLE_FOLDER_ENV]);
}
