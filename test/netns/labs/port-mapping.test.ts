/**
 * `berth lab run port-mapping`: every check passes (8080:80 and an ephemeral port in `berth
 * nat ls`, both reached from the external host through the host's address); the SVG holds
 * both published ports, the external host and its veth; nothing is left; with the NAT's rules
 * flushed on purpose the external host is not answered and the lab exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-ports-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('port-mapping passes every check, draws its published ports, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'ports.svg');
  const r = await berth(['lab', 'run', 'port-mapping', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.log(`port-mapping: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<text class="port" data-port="8080"[^>]*>published tcp 0\.0\.0\.0:8080 -&gt; 10\.32\.0\.\d+:80</);
  t.regex(svg, /<text class="port" data-port="(49\d{3}|[5-6]\d{4})"/);
  t.regex(svg, /<g class="node external" data-name="outside">/);
  t.regex(svg, /<g class="veth" data-a="outside\/eth0" data-b="host\/to-outside">|<g class="veth" data-a="host\/to-outside" data-b="outside\/eth0">/);
  t.deepEqual(snapshot(), before);
});

test.serial('with the NAT rules flushed on purpose, the external host gets no answer and the lab exits 1', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'port-mapping'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /✘ the external host reaches web through host:8080: curl exit status \d+/);
  t.deepEqual(snapshot(), before);
});
