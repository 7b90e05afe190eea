/**
 * `berth lab run windows-drivers`: every check passes (transparent with its own MAC and a DHCP
 * lease from the LAN's server, l2bridge behind the host's MAC, l2tunnel through the switch's
 * hairpin only, nat behind the host, the HCN document of each of the five types); the SVG holds
 * the LAN's switch, the host's uplink and every container; nothing is left; with the switch's
 * hairpin turned off on purpose the l2tunnel containers do not reach each other and the lab
 * exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-windrivers-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('windows-drivers passes every check, draws the LAN and every container, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'windrivers.svg');
  const r = await berth(['lab', 'run', 'windows-drivers', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.log(`windows-drivers: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const checks = report.steps.flatMap((s) => s.checks.map((c) => c.what));
  for (const what of [
    "t1 leased its address from the LAN's server",
    "the LAN sees t1 with t1's own MAC",
    "the LAN sees b1 behind the host's MAC",
    'u1 does not reach u2 while the switch has no hairpin',
    'u1 reaches u2 through the switch',
    'n1 reaches the LAN through the NAT',
  ])
    t.true(checks.includes(what), what);
  for (const type of ['NAT', 'Transparent', 'L2Bridge', 'L2Tunnel', 'Overlay'])
    t.true(
      checks.some((c) => c.endsWith(`an HCN network of Type ${type} with an endpoint`)),
      type,
    );
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<g class="node external" data-name="lan">/);
  t.regex(svg, /<g class="bridge" data-node="lan" data-name="switch">/);
  t.regex(svg, /192\.168\.77\.1\/24/);
  t.regex(svg, /<g class="veth" data-a="(lan\/port-host" data-b="host\/eth0|host\/eth0" data-b="lan\/port-host)">/, "the host's uplink on the switch");
  for (const c of ['t1', 'b1', 'u1', 'u2', 'n1']) t.regex(svg, new RegExp(`<g class="node container" data-name="${c}">`));
  t.regex(svg, /192\.168\.77\.2(0\d|1\d|20)\/24/, "t1's leased address");
  t.deepEqual(snapshot(), before);
});

test.serial("with the switch's hairpin off on purpose, the l2tunnel containers do not reach each other and the lab exits 1", async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'windows-drivers'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /✘ u1 reaches u2 through the switch: no answer from 192\.168\.78\.\d+/);
  t.regex(r.stdout, /✘ windows-drivers: 1 of \d+ checks failed/);
  t.deepEqual(snapshot(), before);
});
