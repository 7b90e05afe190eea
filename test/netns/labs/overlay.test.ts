/**
 * `berth lab run overlay`: every check passes (two hosts in one cluster through etcd on the
 * fabric, a pod on each through the berth-overlay CNI plugin, the VXLAN device with FDB entry,
 * permanent neighbour and route for the peer, pods reaching each other with their own source
 * address, the fabric counting UDP 4789 with the network's VNI, a third host joining and
 * reachable within a second, berth status listing three nodes); the SVG holds the fabric, the
 * hosts with their VXLAN devices and bridges, the pods and a tunnel between every two hosts;
 * nothing is left; with the fabric dropping VXLAN on purpose the cross-host checks fail and the
 * lab exits 1.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-overlay-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('overlay passes every check, draws hosts, bridges and VXLAN tunnels, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'overlay.svg');
  const r = await berth(['lab', 'run', 'overlay', '--svg', svgFile, '--format', 'json'], dir);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.deepEqual(failures(report), []);
  t.true(report.passed);
  t.log(`overlay: ${report.checks.passed} checks in ${report.durationMs} ms`);
  const checks = report.steps.flatMap((s) => s.checks.map((c) => `${c.what}: ${c.reason}`));
  for (const claim of [
    /^bvx-4242 is VXLAN 4242 from 192\.168\.80\.11, port 4789, without learning/,
    /^h1's FDB sends to h2 \(192\.168\.80\.12\)/,
    /^h1 holds a permanent neighbour for 10\.244\.\d+\.0/,
    /^a \(h1\) reaches b \(h2\)/,
    /^b sees a's own address \(10\.244\.\d+\.\d+\), not h1's: b saw 10\.244\.\d+\.\d+$/,
    /^the fabric carried VXLAN packets of VNI 4242: \d+ packets/,
    /^c on h3 is reachable from a within a second of its ADD: answered \d+ ms after the ADD/,
    /^berth status lists the three nodes and a healthy etcd/,
  ])
    t.true(
      checks.some((c) => claim.test(c)),
      String(claim),
    );
  t.true(
    report.steps.some((s) => s.command.startsWith('[h1] CNI_COMMAND=ADD ')),
    'the pods are added through the CNI plugin, shown as typed',
  );
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<g class="node fabric" data-name="fabric">/);
  t.regex(svg, /<g class="bridge" data-node="fabric" data-name="fabric">/);
  for (const h of ['h1', 'h2', 'h3']) {
    t.regex(svg, new RegExp(`<g class="node host" data-name="${h}">`));
    t.regex(svg, new RegExp(`<g class="vxlan-dev" data-node="${h}" data-name="bvx-4242">`));
    t.regex(svg, new RegExp(`<g class="bridge" data-node="${h}" data-name="bov-4242">`));
    t.regex(svg, new RegExp(`<g class="veth" data-a="${h}/eth0" data-b="fabric/${h}">`), `${h}'s eth0 on the fabric`);
  }
  for (const [h, p] of [
    ['h1', 'h1-a'],
    ['h2', 'h2-b'],
    ['h3', 'h3-c'],
  ] as const) {
    t.regex(svg, new RegExp(`<g class="node container" data-name="${p}">`));
    t.regex(svg, new RegExp(`<g class="veth" data-a="${p}/eth0" data-b="${h}/bv[0-9a-f]{12}">`), `${p} on ${h}'s bridge`);
  }
  t.is((svg.match(/<g class="veth" /g) ?? []).length, 6, 'one line per veth pair, none across unrelated namespaces');
  t.is((svg.match(/<g class="vxlan" [^>]*data-vni="4242"/g) ?? []).length, 3, 'a tunnel between every two hosts');
  t.deepEqual(snapshot(), before);
});

test.serial('with the fabric dropping VXLAN on purpose, the pods do not reach each other across hosts and the lab exits 1', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'overlay'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /\$ nft add rule bridge fabric forward udp dport 4789 drop/);
  t.regex(r.stdout, /✘ a \(h1\) reaches b \(h2\): no answer from 10\.244\.\d+\.\d+/);
  t.regex(r.stdout, /✘ c on h3 is reachable from a within a second of its ADD: no answer in \d+ ms/);
  t.regex(r.stdout, /✔ the fabric carried VXLAN packets of VNI 4242/, 'the packets were sent: the fabric dropped them');
  t.regex(r.stdout, /✘ overlay: \d+ of \d+ checks failed/);
  t.deepEqual(snapshot(), before);
});
