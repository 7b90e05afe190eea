/**
 * `berth lab run single-host`: every check passes (the default bridge, one network reaching
 * itself, two networks isolated, a container on both reaching both), the SVG holds docker0,
 * both user bridges and every container; nothing is left; with its firewall flushed on
 * purpose the isolation checks fail and the lab exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-single-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('single-host passes every check, draws its three bridges, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'single.svg');
  const r = await berth(['lab', 'run', 'single-host', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.log(`single-host: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<g class="bridge" data-node="host" data-name="docker0">/);
  t.is((svg.match(/<g class="bridge" data-node="host" data-name="bn-[0-9a-f]{12}">/g) ?? []).length, 2, "both user networks' bridges");
  for (const c of ['d1', 'f1', 'f2', 'b1', 'both']) t.regex(svg, new RegExp(`<g class="node container" data-name="${c}">`));
  t.is((svg.match(/<g class="veth" data-a="both\/eth\d"/g) ?? []).length, 2, '"both" has a veth line to each network');
  t.deepEqual(snapshot(), before);
});

test.serial('with the firewall flushed on purpose, the isolation checks fail and the lab exits 1', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'single-host', '--format', 'json'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as ReportView;
  t.false(report.passed);
  t.deepEqual(
    failures(report).map((f) => f.replace(/^.*?: /, '')),
    ['f1 does not reach b1 on back: it answered', 'b1 does not reach f1 on front: it answered'],
  );
  t.deepEqual(snapshot(), before);
});
