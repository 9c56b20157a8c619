// One workflow bundle per jest run, built by global setup from the sources as they are, and loaded by every
// worker the tests start (rotation stacks, the time-skipping rotation harness) instead of each bundling
// workflows/ again with webpack, which costs seconds of CPU each on a 2-core machine.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../scripts/local-stack';
import { writeWorkflowBundle } from '../../worker';
import { WORKFLOW_BUNDLE_ENV } from './harness-state';

/**
 * Builds the bundle into `dir` unless this run has one already (a jest run with tests of both projects
 * runs both global setups), and tells the tests where it is. Returns the folder it made, if any.
 */
export async function ensureWorkflowBundle(dir?: string): Promise<string | undefined> {
  const existing = process.env[WORKFLOW_BUNDLE_ENV];
  if (existing && existsSync(existing)) return undefined;
  const base = path.join(ROOT, '.run', 'test');
  mkdirSync(base, { recursive: true });
  const folder = dir ?? mkdtempSync(path.join(base, 'bundle-'));
  const file = path.join(folder, 'workflow-bundle.js');
  await writeWorkflowBundle(file, quietBundlerLogger);
  process.env[WORKFLOW_BUNDLE_ENV] = file;
  return dir ? undefined : folder;
}

/** Webpack's statistics and the bundler's info lines stay out of the test output; errors do not. */
export const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/** Removes a folder ensureWorkflowBundle made. */
export function removeWorkflowBundle(folder: string | undefined): void {
  if (folder) rmSync(folder, { recursive: true, force: true });
}
