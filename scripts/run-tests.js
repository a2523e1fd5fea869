// Runs every test with vitest and ends with the plain summary line CI reads:
// "N passed, N failed" (and ", N skipped" when some were skipped).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const out = '.vitest-results.json';
rmSync(out, { force: true });
const run = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
let summary = 'tests: 0 passed, 1 failed';
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`;
  if (r.numTotalTests === 0) summary = 'tests: 0 passed, 1 failed';
} catch {
  // no results file: vitest crashed before reporting
}
console.log(summary);
process.exit(run.status === 0 && !summary.endsWith(' 1 failed') ? 0 : 1);
