// The suite's skip summary (scripts/test.sh): how many tests were skipped and why, from the
// records of test/support/skip.ts (one JSON line each: file, title, part?, reason) and from
// ava's own `- [skip] title` lines (tests declared with test.skip, which carry no reason).
//   node scripts/test-skips.mjs SKIP_LOG AVA_OUTPUT...
import { existsSync, readFileSync } from 'node:fs';

const [log, ...outputs] = process.argv.slice(2);
const read = (file) => (file && existsSync(file) ? readFileSync(file, 'utf8') : '');

const records = read(log)
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
for (const output of outputs) {
  for (const line of read(output).replace(ansi, '').split('\n')) {
    const m = /^\s*- \[skip\] (.+)$/.exec(line);
    if (m) records.push({ file: '', title: m[1], reason: 'no reason given: declared with ava test.skip, not through test/support/skip.ts' });
  }
}

const whole = records.filter((r) => !r.part);
const parts = records.filter((r) => r.part);
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
console.log(`== skipped: ${plural(whole.length, 'test', 'tests')}${parts.length ? `, and ${plural(parts.length, 'part', 'parts')} of tests that ran` : ''}`);
const byReason = new Map();
for (const r of records) byReason.set(r.reason, [...(byReason.get(r.reason) ?? []), r]);
for (const [reason, rs] of byReason) {
  const w = rs.filter((r) => !r.part).length;
  const p = rs.length - w;
  const counts = [w ? plural(w, 'test', 'tests') : '', p ? plural(p, 'part', 'parts') : ''].filter(Boolean).join(', ');
  console.log(`- ${counts}: ${reason}`);
  for (const r of rs) console.log(`    ${r.file ? `${r.file} › ` : ''}${r.title}${r.part ? ` (${r.part})` : ''}`);
}
