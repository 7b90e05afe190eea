/**
 * `berth lab run policy`: every check passes (the matrix before any policy, after a default
 * deny and after allowing by label and by namespace, each measured by probes that agree with
 * the model); its picture is the last matrix as a heatmap, well-formed, every cell measured and
 * none in disagreement; nothing is left; with the probe lab's nftables left out on purpose the
 * denials come back as disagreements and the lab exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelLacks, unlessKernelLacks } from '../../support/skip.js';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-policy-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const run = unlessKernelLacks(test.serial, kernelLacks.brNetfilter());

run('policy passes every check, draws the measured matrix, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'policy.svg');
  const r = await berth(['lab', 'run', 'policy', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.log(`policy: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const matrices = report.steps.filter((s) => s.command.startsWith('berth policy matrix --probe'));
  t.is(matrices.length, 3, 'before, after the default deny, after the allows');
  t.true(report.steps.some((s) => s.command.startsWith('berth policy apply -f') && s.command.includes('default-deny.yaml')));
  for (const m of matrices) t.regex(m.output, /^the dataplane agrees with the model$/m);
  t.regex(matrices[0]!.output, /^partners\/client\s+ok\s+ok\s+ok\s+ok$/m, 'before: everyone reaches everyone');
  t.regex(matrices[2]!.output, /^partners\/client\s+ok\s+X\s+X\s+ok$/m, 'after: client reaches web only');
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.is(svg.match(/class="cell"/g)?.length, 16);
  t.false(svg.includes('data-mismatch'));
  t.regex(svg, /data-from="partners\/client" data-to="shop\/web" data-model="allowed" data-probe="allowed"/);
  t.regex(svg, /data-from="shop\/db" data-to="shop\/api" data-model="denied" data-probe="denied"/);
  t.deepEqual(snapshot(), before);
});

run('with the policies left out of the probe lab on purpose, the denials come back as disagreements and the lab exits 1', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'policy'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /✘ the probes agree with the model in every cell: disagreements: partners\/client -> shop\/api X!/);
  t.regex(r.stdout, /✘ partners\/client does not reach shop\/web: reached, though shop admits nothing/);
  t.regex(r.stdout, /✔ partners\/client reaches shop\/web: reached: web-from-partners admits namespace team=partners/);
  t.deepEqual(snapshot(), before);
});
