import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { HISTORY_DIR, workflowBundle } from './rotation-harness';

// Histories recorded from the scenario tests (`npm run test:record-histories`) and committed. Replaying
// them against the current workflow code catches a change that would break running rotations.
const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));

describe('recorded rotation histories', () => {
  it('are committed for every kind of ending', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    const text = files.map((f) => readFileSync(path.join(HISTORY_DIR, f), 'utf8')).join('\n');
    for (const end of ['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED']) {
      expect(text).toContain(Buffer.from(`"${end}"`).toString('base64').slice(0, 8));
    }
  });

  it.each(files)('%s replays deterministically against the current workflow code', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORY_DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });
});
