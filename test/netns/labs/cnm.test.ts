/**
 * `berth lab run cnm`: every step passes, the SVG is well-formed and holds the live topology
 * (the bridge, both containers with their addresses, a veth line for each), and the test
 * run's namespace holds nothing new afterwards; a sabotaged run fails its checks and exits 1;
 * `--keep` leaves it for `berth lab shell` and `berth lab down`, which removes it all.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { berth, failures, snapshot, wellFormedXml, type ReportView } from './lab-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-labs-cnm-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test.serial('cnm passes every check, draws the live topology, and leaves nothing', async (t) => {
  const before = snapshot();
  const svgFile = join(dir, 'cnm.svg');
  const t0 = Date.now();
  const r = await berth(['lab', 'run', 'cnm', '--svg', svgFile, '--format', 'json'], dir);
  t.log(`cnm ran in ${Date.now() - t0} ms`);
  t.is(r.code, 0, r.stderr + r.stdout.slice(-2000));
  const report = JSON.parse(r.stdout) as ReportView;
  t.true(report.passed);
  t.deepEqual(failures(report), []);
  t.true(report.checks.passed >= 8, `${report.checks.passed} checks`);
  t.true(
    report.steps.some((s) => s.command.startsWith('docker network create -d berth-bridge')),
    'steps are shown as a user types them',
  );
  const svg = readFileSync(svgFile, 'utf8');
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<g class="bridge" data-node="host" data-name="bn-[0-9a-f]{12}">/);
  t.regex(svg, /10\.30\.0\.1\/24/);
  for (const c of ['c1', 'c2']) t.regex(svg, new RegExp(`<g class="node container" data-name="${c}">`));
  t.is((svg.match(/<g class="veth" data-a="c\d\/eth0" data-b="host\/bv/g) ?? []).length, 2, 'one veth line per container');
  t.deepEqual(snapshot(), before, 'nothing new in the namespace it ran from');
});

test.serial('a sabotaged cnm (its bridge down) fails its checks and exits 1, and still leaves nothing', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'cnm'], dir, { BERTH_LAB_SABOTAGE: '1' });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /✘ c1 reaches c2 by its address: no answer from 10\.30\.0\.\d+/);
  t.regex(r.stdout, /\$ docker exec c1 ping -c 1 -W 2 10\.30\.0\.\d+/);
  t.regex(r.stdout, /✘ cnm: \d+ of \d+ checks failed/);
  t.deepEqual(snapshot(), before);
});

test.serial('--keep leaves the lab for shell and down; down removes it all', async (t) => {
  const before = snapshot();
  const r = await berth(['lab', 'run', 'cnm', '--keep'], dir);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /berth lab shell cnm c1\n/);
  t.regex(r.stdout, /berth lab down cnm\n/);
  const again = await berth(['lab', 'run', 'cnm', '--keep'], dir);
  t.is(again.code, 2);
  t.regex(again.stderr, /already kept running/);
  const links = await berth(['lab', 'shell', 'cnm', 'host', 'ip', '-br', 'addr', 'show', 'type', 'bridge'], dir);
  t.is(links.code, 0, links.stderr);
  t.regex(links.stdout, /bn-[0-9a-f]{12}\s+\S+\s+10\.30\.0\.1\/24/, "the shell is in the lab's host");
  const inC1 = await berth(['lab', 'shell', 'cnm', 'c1', 'hostname'], dir);
  t.is(inC1.code, 0, inC1.stderr);
  const bad = await berth(['lab', 'shell', 'cnm', 'c9'], dir);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /no place "c9": its places are host, c1, c2/);
  const down = await berth(['lab', 'down', 'cnm'], dir);
  t.is(down.code, 0, down.stderr);
  t.is((await berth(['lab', 'down', 'cnm'], dir)).code, 1, 'a second down finds no lab');
  t.deepEqual(snapshot(), before);
});

test.serial('ls lists the labs; an unknown lab is refused with the list', async (t) => {
  const ls = await berth(['lab', 'ls'], dir);
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /^cnm\s+sandbox, endpoint, network/m);
  const r = await berth(['lab', 'run', 'nope'], dir);
  t.is(r.code, 2);
  t.regex(r.stderr, /no lab named "nope": the labs are cnm/);
});
