import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import {
  packageVersion,
  workflowSources,
  workflowSourcesHash,
  type HistoryManifest,
} from '../../scripts/workflow-version';
import { HISTORIES_ROOT, workflowBundle } from './rotation-harness';

// Histories recorded from the scenario tests and committed, one folder per released version of the
// workflow code (`npm run test:record-histories` writes the current version's). Every folder replays
// against the current code: a change that would break a rotation started on any released version
// fails here, and must go behind `patched()` (see "Upgrading rekey while rotations run" in the README).
const versions = readdirSync(HISTORIES_ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
const manifestOf = (version: string) =>
  JSON.parse(readFileSync(path.join(HISTORIES_ROOT, version, 'MANIFEST.json'), 'utf8')) as HistoryManifest;
const cases = versions.flatMap((version) =>
  manifestOf(version).histories.map((file) => [version, file] as const),
);

describe('recorded rotation histories', () => {
  it('are kept for more than one released version, each with its manifest', () => {
    expect(versions.length).toBeGreaterThanOrEqual(2);
    for (const version of versions) {
      const manifest = manifestOf(version);
      expect(manifest.version).toBe(version);
      const onDisk = readdirSync(path.join(HISTORIES_ROOT, version))
        .filter((f) => f.endsWith('.json') && f !== 'MANIFEST.json')
        .sort();
      expect(manifest.histories).toEqual(onDisk);
    }
  });

  it('of the current version were recorded from the current workflow code', () => {
    // The discipline CI enforces: workflow code never changes without its histories being recorded
    // again under package.json's version; released versions' folders are never rewritten.
    const current = packageVersion();
    expect(versions).toContain(current);
    expect(versions.at(-1)).toBe(current);
    const manifest = manifestOf(current);
    expect({ sources: manifest.sources, sha256: manifest.workflowSourcesSha256 }).toEqual({
      sources: workflowSources(),
      sha256: workflowSourcesHash(),
    });
  });

  it('cover every kind of ending, and rotations that continued as new', () => {
    const current = packageVersion();
    const files = manifestOf(current).histories;
    const text = files.map((f) => readFileSync(path.join(HISTORIES_ROOT, current, f), 'utf8')).join('\n');
    for (const end of ['COMPLETED', 'ROLLED_BACK', 'ABORTED', 'FAILED']) {
      expect(text).toContain(Buffer.from(`"${end}"`).toString('base64').slice(0, 8));
    }
    expect(text).toContain('workflowExecutionContinuedAsNewEventAttributes');
  });

  it.each(cases)(
    '%s/%s replays deterministically against the current workflow code',
    async (version, file) => {
      const json = readFileSync(path.join(HISTORIES_ROOT, version, file), 'utf8');
      const history = historyFromJSON(JSON.parse(json));
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle() },
        history,
        `${version}/${file}`,
      );
    },
  );
});
