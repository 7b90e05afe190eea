/**
 * The cluster lab itself (test/support/cluster-lab.ts): three hosts on one fabric reach each
 * other and etcd; a partitioned host is cut off until healed; etcd stops and starts with its
 * data; two berthds run at once, each in its own host's /run/berth; a pod added on h1 through
 * h1's berthd gets an address and goes; stop() leaves nothing behind.
 *
 * Addresses: 192.168.77.0/24 (underlay) and 10.181.1.0/24 (pods), only inside this run's namespaces.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { hostLinks, sh } from '../../support/netns.js';
import { startClusterLab, type ClusterLab, type LabBerthd, type LabHost } from '../../support/cluster-lab.js';

interface Snapshot {
  readonly links: string[];
  readonly netns: string[];
  readonly routes: string;
}

/** What a lab must leave as it found: the test run's links, namespaces and routes. */
function snapshot(): Snapshot {
  return {
    links: hostLinks().sort(),
    netns: sh('ip', ['netns', 'list'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!)
      .sort(),
    routes: sh('ip', ['-j', 'route', 'show', 'table', 'all']),
  };
}

let lab: ClusterLab | undefined;
let before: Snapshot;
let startMs = 0;
const berthds: LabBerthd[] = [];

function theLab(): ClusterLab {
  if (!lab) throw new Error('the lab is not running');
  return lab;
}

/** Metrics over a unix socket in the host's /run/berth: they tell which berthd served a request. */
const METRICS = ['--metrics-address', 'unix:/run/berth/metrics.sock'];

async function metrics(host: LabHost): Promise<string> {
  const r = await host.exec('curl', ['-sS', '--unix-socket', '/run/berth/metrics.sock', 'http://berthd/metrics']);
  if (r.code !== 0) throw new Error(`metrics of ${host.name}: ${r.stderr}`);
  return r.stdout;
}

function served(text: string, call: string): number {
  const m = new RegExp(`^berth_requests_total\\{api="cni",call="${call}",outcome="ok"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** etcdctl inside a host; one second to answer (a cut-off host or a stopped etcd is expected to fail fast). */
function etcdctl(host: LabHost, ...args: string[]) {
  return host.exec('etcdctl', ['--endpoints', theLab().etcdUrl, '--dial-timeout=1s', '--command-timeout=1s', ...args]);
}

/** Pings until answered or `ms` passed (a port just brought up may take a moment). */
async function pingsWithin(host: LabHost, address: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  do {
    if ((await host.exec('ping', ['-c', '1', '-W', '1', address])).code === 0) return true;
  } while (Date.now() < deadline);
  return false;
}

test.before(async () => {
  before = snapshot();
  const t0 = Date.now();
  lab = await startClusterLab({ hosts: 3 });
  startMs = Date.now() - t0;
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('every host reaches the others over the fabric, sees only its own links, and reaches etcd', async (t) => {
  const { hosts } = theLab();
  t.log(`lab of ${hosts.length} hosts up in ${startMs} ms`);
  for (const a of hosts) {
    for (const b of hosts) {
      if (a === b) continue;
      const r = await a.exec('ping', ['-c', '1', '-W', '2', b.address]);
      t.is(r.code, 0, `${a.name} pings ${b.name} (${b.address}): ${r.stdout}${r.stderr}`);
    }
    const sys = await a.exec('ls', ['/sys/class/net']);
    t.deepEqual(sys.stdout.split(/\s+/).filter(Boolean).sort(), ['eth0', 'lo'], `${a.name}'s sysfs is its own`);
    t.is((await a.exec('cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1', `${a.name} forwards`);
  }
  const [h1, , h3] = hosts as [LabHost, LabHost, LabHost];
  const put = await etcdctl(h1, 'put', 'lab-key', 'v1');
  t.is(put.code, 0, put.stderr);
  t.is((await etcdctl(h3, 'get', '--print-value-only', 'lab-key')).stdout.trim(), 'v1', 'what h1 wrote, h3 reads');
});

test.serial('a partitioned host is cut off until it is healed', async (t) => {
  const l = theLab();
  const [h1, , h3] = l.hosts as [LabHost, LabHost, LabHost];
  l.partition(h3);
  t.not((await h1.exec('ping', ['-c', '1', '-W', '1', h3.address])).code, 0, 'h1 does not reach h3');
  t.not((await etcdctl(h3, 'get', 'lab-key')).code, 0, 'h3 does not reach etcd');
  l.heal(h3);
  t.true(await pingsWithin(h1, h3.address, 5000), 'h1 reaches h3 again');
  t.is((await etcdctl(h3, 'get', '--print-value-only', 'lab-key')).stdout.trim(), 'v1');
});

test.serial('etcd stops and starts again on the same address with its data', async (t) => {
  const l = theLab();
  const h2 = l.host('h2');
  await l.etcd.stop();
  t.false(l.etcd.running);
  t.not((await etcdctl(h2, 'get', 'lab-key')).code, 0, 'no etcd, no answer');
  await l.etcd.start();
  t.is((await etcdctl(h2, 'get', '--print-value-only', 'lab-key')).stdout.trim(), 'v1', 'the data survived');
});

test.serial("two berthds at once, each in its own host's /run/berth; a second one on a host is refused", async (t) => {
  const l = theLab();
  const [h1, h2, h3] = l.hosts as [LabHost, LabHost, LabHost];
  berthds.push(...(await Promise.all([h1.startBerthd(METRICS), h2.startBerthd(METRICS)])));
  for (const h of [h1, h2]) {
    t.is((await h.exec('test', ['-e', '/run/berth/berthd.lock'])).code, 0, `${h.name} has its berthd's lock`);
    t.is((await h.exec('test', ['-S', '/run/berth/cni.sock'])).code, 0, `${h.name} has its berthd's CNI socket`);
  }
  t.not((await h3.exec('test', ['-e', '/run/berth/berthd.lock'])).code, 0, 'h3 runs no berthd and sees none');
  t.false(existsSync('/run/berth/cni.sock') || existsSync('/run/berth/berthd.lock'), "the test run's own /run/berth holds none of them");
  await t.throwsAsync(h1.startBerthd(), { message: /Another berthd is running/ }, 'the lock is per host');
  t.true(
    berthds.every((b) => b.proc.exitCode === null),
    'both still run',
  );
});

test.serial("a berth-bridge pod on h1 gets an address from h1's berthd, and goes", async (t) => {
  const l = theLab();
  const [h1, h2] = l.hosts as [LabHost, LabHost];
  const pod = h1.addPod('p1');
  const conflist = { cniVersion: '1.0.0', name: 'labnet', plugins: [{ type: 'berth-bridge', bridge: 'bl0', isGateway: true, ipam: { type: 'berth-ipam', subnet: '10.181.1.0/24' } }] };
  const req = { conflist, containerId: 'lab-p1', netns: pod };
  const add = await h1.cni('add', req);
  t.is(add.code, 0, add.stdout + add.stderr);
  const address = (JSON.parse(add.stdout) as { ips: { address: string }[] }).ips[0]?.address.split('/')[0] ?? '';
  t.regex(address, /^10\.181\.1\.\d+$/);
  t.is(served(await metrics(h1), 'berth-bridge ADD'), 1, "h1's berthd served the ADD");
  t.is(served(await metrics(h2), 'berth-bridge ADD'), 0, "h2's berthd did not");
  t.is((await h1.exec('ip', ['link', 'show', 'bl0'])).code, 0, 'the bridge is in h1');
  t.not((await h2.exec('ip', ['link', 'show', 'bl0'])).code, 0, 'and not in h2');
  t.false(hostLinks().includes('bl0'), "nor in the test run's namespace");
  t.is((await h1.exec('ping', ['-c', '1', '-W', '2', address])).code, 0, 'h1 reaches its pod');
  t.true(await h1.ping(pod, '10.181.1.1'), 'the pod reaches its gateway');
  t.is((await h1.cni('check', req)).code, 0);
  const del = await h1.cni('del', req);
  t.is(del.code, 0, del.stdout + del.stderr);
  t.is(served(await metrics(h1), 'berth-bridge DEL'), 1, "h1's berthd served the DEL");
  h1.removePod(pod);
});

test.serial('stop() leaves nothing behind, and a second stop() is harmless', async (t) => {
  const l = theLab();
  const pids = [...l.hosts.map((h) => h.keeperPid), ...berthds.map((b) => b.pid)];
  const t0 = Date.now();
  await l.stop();
  t.log(`lab stopped in ${Date.now() - t0} ms`);
  await l.stop();
  lab = undefined;
  t.deepEqual(snapshot(), before, 'the same links, namespaces and routes as before the lab');
  t.deepEqual(
    pids.filter((pid) => existsSync(`/proc/${pid}`)),
    [],
    'no keeper or berthd left',
  );
  t.false(existsSync(l.dir), 'the scratch directory is gone');
});
