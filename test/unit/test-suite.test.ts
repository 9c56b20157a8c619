import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assignShards, durationsFromReports, parseArgs, testFiles } from '../../scripts/test-suite';

describe("make test's runner (scripts/test-suite.ts)", () => {
  it('puts the longest files first, each on the shard with the least so far', () => {
    const shards = assignShards(['a', 'b', 'c', 'd', 'e'], { a: 100, b: 60, c: 50, d: 40, e: 10 }, 2);
    // a (100) | b (60); c onto b's (110); d onto a's (140); e onto b's (120).
    expect(shards).toEqual([
      ['a', 'd'],
      ['b', 'c', 'e'],
    ]);
  });

  it('counts a file without a recorded duration as the median of the recorded ones', () => {
    const shards = assignShards(['new', 'x', 'y', 'z'], { x: 10, y: 20, z: 300 }, 2);
    // median 20: z | new(20) + y(20) + x(10)
    expect(shards).toEqual([['z'], ['new', 'x', 'y']]);
  });

  it('leaves out shards that would be empty, and keeps every file exactly once', () => {
    const files = ['a', 'b'];
    const shards = assignShards(files, {}, 5);
    expect(shards).toHaveLength(2);
    expect(shards.flat().sort()).toEqual(files);
  });

  it('finds every integration test file, as paths relative to the repository', () => {
    const files = testFiles(path.resolve(__dirname, '..', 'integration'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) expect(f).toMatch(/^test\/integration\/.+\.test\.ts$/);
    expect(files).toContain('test/integration/fleets.test.ts');
  });

  it('reads each file’s seconds from jest --json reports', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'suite-'));
    const report = path.join(dir, 'r.json');
    const root = path.resolve(__dirname, '..', '..');
    writeFileSync(
      report,
      JSON.stringify({
        testResults: [
          { name: path.join(root, 'test/integration/x.test.ts'), startTime: 1000, endTime: 13_460 },
        ],
      }),
    );
    expect(durationsFromReports([report, path.join(dir, 'missing.json')])).toEqual({
      'test/integration/x.test.ts': 12.5,
    });
  });

  it('refuses arguments it does not know, and a shard count that is not a whole number', () => {
    expect(() => parseArgs(['--shard', '2'])).toThrow('unknown argument --shard');
    expect(() => parseArgs(['--shards', '0'])).toThrow('--shards must be a whole number');
    expect(() => parseArgs(['--shards'])).toThrow('--shards needs a value');
    const opts = parseArgs(['--shards', '3', '--', '--testNamePattern', 'x']);
    expect(opts.shards).toBe(3);
    expect(opts.jestArgs).toEqual(['--testNamePattern', 'x']);
  });
});
