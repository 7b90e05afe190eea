/**
 * `berth lab run windows-nat`: every check passes (the host reaches a container by its own
 * address and not through the published port on its address, the outside through the host's
 * address and the port, loopback on a second NAT network beside the first, the NetNat and HNS
 * listings, the refused Windows rendering of loopback); the SVG holds both NAT bridges, both
 * published ports, the external host and every container; nothing is left; with the NAT's
 * rules flushed on purpose the outside is not answered and the lab exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-winnat-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('windows-nat passes every check, draws both NAT networks and their ports, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'winnat.svg');
  const r = await berth(['lab', 'run', 'windows-nat', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.true(report.checks.passed >= 25, `${report.checks.passed} checks`);
  t.log(`windows-nat: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const commands = report.steps.map((s) => s.command);
  for (const c of ['berth nat ls --format netnat', 'berth nat ls --format hns', 'docker network create -d berth-nat --subnet 10.34.0.0/24 -o loopback=true loopnat'])
    t.true(commands.includes(c), `the step ${c}`);
  t.true(
    commands.some((c) => c.startsWith('berth render --os windows -d nat')),
    'the HNS documents through berth render',
  );
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /10\.33\.0\.1\/24/);
  t.regex(svg, /10\.34\.0\.1\/24/);
  t.is((svg.match(/<g class="bridge" data-node="host" data-name="bn-[0-9a-f]{12}">/g) ?? []).length, 2, 'a bridge per NAT network');
  t.regex(svg, /<text class="port" data-port="8080"[^>]*>published tcp 0\.0\.0\.0:8080 -&gt; 10\.33\.0\.\d+:80</);
  t.regex(svg, /<text class="port" data-port="8081"[^>]*>published tcp 0\.0\.0\.0:8081 -&gt; 10\.34\.0\.\d+:80</);
  t.regex(svg, /<g class="node external" data-name="outside">/);
  for (const c of ['web', 'client', 'web2', 'client2']) t.regex(svg, new RegExp(`<g class="node container" data-name="${c}">`));
  t.deepEqual(snapshot(), before);
});

test.serial('with the NAT rules flushed on purpose, the outside is not answered and the lab exits 1', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'windows-nat'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /✘ the external host reaches web through host:8080: curl exit status \d+/);
  t.regex(r.stdout, /✘ windows-nat: \d+ of \d+ checks failed/);
  t.deepEqual(snapshot(), before);
});
