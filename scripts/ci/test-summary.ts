// The closing line of a CI run: the tests every jest run of .ci/run executed, summed from the JSON
// reports those runs wrote (jest --json --outputFile). Jest's own summary ("Tests: 4 passed, 4 total")
// is per run and names no failures; this line is the run's total, in the plain form
// "tests: N passed, N failed, N skipped". A report that is missing (its run died before writing it)
// or holds no test is named, and makes this script exit 1: a CI run that executed nothing is not green.
// Everything goes to stdout, so that the total is the last line of the run.
import { existsSync, readFileSync } from 'node:fs';

/** The fields of jest's --json report that this line sums. */
interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTestSuites: number;
  numRuntimeErrorTestSuites: number;
}

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let bad = 0;
for (const file of files) {
  if (!existsSync(file)) {
    console.log(`[rekey ci] ${file}: no jest report (the run ended before writing it)`);
    bad++;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8')) as JestReport;
  const executed = r.numPassedTests + r.numFailedTests;
  console.log(
    `[rekey ci] ${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ` +
      `${r.numPendingTests + r.numTodoTests} skipped in ${r.numTotalTestSuites} suites` +
      (r.numRuntimeErrorTestSuites ? `, ${r.numRuntimeErrorTestSuites} suites failed to run` : ''),
  );
  if (executed === 0) {
    console.log(`[rekey ci] ${file}: no test was executed`);
    bad++;
  }
  passed += r.numPassedTests;
  failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(bad > 0 || failed > 0 ? 1 : 0);
