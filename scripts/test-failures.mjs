// The suite's failure summary (scripts/test.sh): every failed test, uncaught exception, unhandled
// rejection and timeout that ava reported, with the first lines of its detail, printed at the
// very end so that a CI log cut to its tail still says what failed.
//   node scripts/test-failures.mjs AVA_OUTPUT...
import { existsSync, readFileSync } from 'node:fs';

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
// ava's verdict lines: a failed test, a file that crashed or hung, and its closing counts.
const verdict =
  /^\s*(✘|Uncaught exception|Unhandled rejection|Timed out|.*exited with a non-zero exit code|\d+ (tests? failed|known failures?|uncaught exceptions?|unhandled rejections?|tests? timed out))/;
const detailLines = 12;

for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) continue;
  const lines = readFileSync(file, 'utf8').replace(ansi, '').split('\n');
  const hits = lines.flatMap((line, i) => (verdict.test(line) ? [i] : []));
  if (!hits.length) continue;
  console.log(`== failures in ${file.replace(/.*\//, '')}`);
  for (const i of hits) console.log(lines[i]);
  // ava prints each failure's detail after the `─` rule, headed by the test's title.
  const rule = lines.findIndex((l) => /^\s*─\s*$/.test(l));
  if (rule >= 0) {
    const detail = lines.slice(rule + 1).filter((l) => l.trim());
    console.log(detail.slice(0, detailLines * Math.max(1, hits.length)).join('\n'));
  }
}
