/**
 * berth-transparent and berth-l2tunnel on hosts of a cluster lab (test/support/cluster-lab.ts):
 * each host a network and mount namespace whose `eth0` is a port of one fabric bridge (the
 * LAN), which lives in this run's namespace with the LAN's router address (.1). Pods through
 * the libcni client inside the hosts (their berthds serve the plugins), containers through a
 * real Docker engine on a host.
 *
 * Shown here: transparent pods on two hosts and the fabric's own address reach each other, and
 * the fabric sees each pod's own MAC; with `hostShim` a host reaches its own pods; l2tunnel:
 * two pods of one host talk through the fabric (a hairpin on the fabric port that faces the
 * host) and not without it; DHCP through berthd against dnsmasq on the LAN (lease, renewal,
 * a berthd restart that keeps renewing, RELEASE on DEL); bad input gets a CNI error and leaves
 * nothing; DEL twice; Docker:
 * `docker network create -d berth-transparent --subnet ... -o parent=eth0` and a container that
 * reaches the LAN.
 *
 * Addresses: 192.168.77.0/24 (the lab's LAN: hosts .11-.13, router .1, static pods from .100,
 * DHCP from .200), only inside this run's namespaces.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE } from '../docker/harness.js';
import { sh } from '../../support/netns.js';
import { startClusterLab, type ClusterLab, type LabHost } from '../../support/cluster-lab.js';

let lab: ClusterLab;
const host = (name: string): LabHost => lab.host(name);

const transparent = (range: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'lan',
  plugins: [{ type: 'berth-transparent', master: 'eth0', ipam: { type: 'berth-ipam', ranges: [[{ subnet: '192.168.77.0/24', ...rangeOf(range), gateway: '192.168.77.1' }]] }, ...extra }],
});
const l2tunnel = (range: string) => ({
  cniVersion: '1.0.0',
  name: 'tun',
  plugins: [{ type: 'berth-l2tunnel', master: 'eth0', ipam: { type: 'berth-ipam', ranges: [[{ subnet: '192.168.77.0/24', ...rangeOf(range), gateway: '192.168.77.1' }]] } }],
});

function rangeOf(range: string): { rangeStart: string; rangeEnd: string } {
  const [start, end] = range.split('-');
  return { rangeStart: `192.168.77.${start}`, rangeEnd: `192.168.77.${end}` };
}

interface Pod {
  readonly host: LabHost;
  readonly netns: string;
  readonly id: string;
  readonly ip: string;
  readonly mac: string;
}

async function addPod(h: LabHost, name: string, conf: object): Promise<Pod> {
  const netns = h.addPod(name);
  const id = `${h.name}-${name}`;
  const r = await h.cni('add', { conflist: conf, containerId: id, netns });
  if (r.code !== 0) throw new Error(`ADD ${id}: ${r.stdout}${r.stderr}`);
  const result = JSON.parse(r.stdout) as { ips: { address: string }[]; interfaces: { mac: string }[] };
  return { host: h, netns, id, ip: result.ips[0]!.address.split('/')[0]!, mac: result.interfaces[0]!.mac };
}

async function delPod(p: Pod, conf: object): Promise<void> {
  const r = await p.host.cni('del', { conflist: conf, containerId: p.id, netns: p.netns });
  if (r.code !== 0) throw new Error(`DEL ${p.id}: ${r.stdout}${r.stderr}`);
}

function reaches(netns: string, address: string): boolean {
  try {
    sh('ip', ['netns', 'exec', netns.split('/').pop()!, 'ping', '-c', '1', '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}

async function hostReaches(h: LabHost, address: string): Promise<boolean> {
  return (await h.exec('ping', ['-c', '1', '-W', '1', address])).code === 0;
}

/** MACs the fabric bridge learnt. */
function fabricMacs(): string[] {
  return (JSON.parse(sh('bridge', ['-j', 'fdb', 'show', 'br', lab.fabric])) as { mac: string }[]).map((f) => f.mac);
}

async function hostLinks(h: LabHost): Promise<string[]> {
  return (JSON.parse((await h.exec('ip', ['-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
}

test.before(async () => {
  lab = await startClusterLab({ hosts: 2, prefix: 'mvl', etcd: false, docker: true });
  await host('h1').startDockerd();
  await host('h1').startBerthd([], { docker: true });
  await host('h2').startBerthd();
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('transparent: pods on two hosts and the LAN reach each other; the fabric sees each pod with its own MAC', async (t) => {
  const conf = transparent('100-109');
  const a = await addPod(host('h1'), 'a', conf);
  const b = await addPod(host('h2'), 'b', conf);
  t.true(reaches(a.netns, b.ip), 'h1 pod -> h2 pod');
  t.true(reaches(b.netns, a.ip), 'h2 pod -> h1 pod');
  t.true(reaches(a.netns, '192.168.77.1'), 'pod -> the LAN router');
  t.true(reaches(b.netns, '192.168.77.11'), "pod -> another host's address");
  const macs = fabricMacs();
  t.true(macs.includes(a.mac) && macs.includes(b.mac), `the fabric learnt ${a.mac} and ${b.mac}: ${macs.join(' ')}`);
  await delPod(a, conf);
  await delPod(a, conf);
  await delPod(b, conf);
  t.false(reaches(host('h2').addPod('probe'), a.ip));
});

test.serial('transparent with hostShim: the host reaches its own pods; the shim goes with the last pod', async (t) => {
  const conf = transparent('110-119', { hostShim: true });
  const before = await hostLinks(host('h1'));
  const a = await addPod(host('h1'), 'shim-a', conf);
  t.true(await hostReaches(host('h1'), a.ip));
  t.true(reaches(a.netns, '192.168.77.11'), 'and the pod its host');
  await delPod(a, conf);
  t.deepEqual(await hostLinks(host('h1')), before);
});

test.serial("l2tunnel: two pods of one host talk through the fabric's hairpin, and not without it", async (t) => {
  const conf = l2tunnel('120-129');
  const a = await addPod(host('h1'), 'ta', conf);
  const b = await addPod(host('h1'), 'tb', conf);
  const port = host('h1').port;
  sh('bridge', ['link', 'set', 'dev', port, 'hairpin', 'on']);
  // Count the pods' frames the fabric bridge forwards back out of the port they came in on.
  sh('nft', ['add', 'table', 'bridge', 'mvlcount']);
  sh('nft', ['add', 'chain', 'bridge', 'mvlcount', 'frames', '{ type filter hook forward priority 0; }']);
  sh('nft', ['add', 'rule', 'bridge', 'mvlcount', 'frames', 'ether', 'saddr', a.mac, 'ether', 'daddr', b.mac, 'counter']);
  try {
    t.true(reaches(a.netns, b.ip), 'with hairpin');
    const counted = /packets (\d+)/.exec(sh('nft', ['list', 'chain', 'bridge', 'mvlcount', 'frames']));
    t.true(Number(counted?.[1]) > 0, `the fabric carried the pods' frames: ${counted?.[1]}`);
    sh('bridge', ['link', 'set', 'dev', port, 'hairpin', 'off']);
    sh('ip', ['netns', 'exec', a.netns.split('/').pop()!, 'ip', 'neigh', 'flush', 'all']);
    t.false(reaches(a.netns, b.ip), 'without hairpin the VEPA pods cannot talk');
  } finally {
    sh('nft', ['delete', 'table', 'bridge', 'mvlcount']);
    sh('bridge', ['link', 'set', 'dev', port, 'hairpin', 'off']);
  }
  t.true(reaches(a.netns, '192.168.77.1'), 'the LAN is reached either way');
  await delPod(a, conf);
  await delPod(b, conf);
});

/** dnsmasq on the fabric (the LAN's DHCP server): .200-.220, 2 min leases, T1 5 s, T2 8 s. */
function startDnsmasq(dir: string): ChildProcess {
  return spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      `--interface=${lab.fabric}`,
      '--bind-interfaces',
      '--except-interface=lo',
      '--dhcp-range=192.168.77.200,192.168.77.220,255.255.255.0,2m',
      '--dhcp-option=option:router,192.168.77.1',
      '--dhcp-option=option:T1,5',
      '--dhcp-option=option:T2,8',
      `--dhcp-leasefile=${join(dir, 'leases')}`,
      `--pid-file=${join(dir, 'pid')}`,
      '--dhcp-authoritative',
      '--log-dhcp',
      '--log-facility=-',
      '--user=root',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

test.serial('transparent with DHCP through berthd: a lease from the LAN server, renewed at T1, kept across a berthd restart, released on DEL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dhcp-'));
  const dnsmasq = startDnsmasq(dir);
  let log = '';
  dnsmasq.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const leases = () => (existsSync(join(dir, 'leases')) ? readFileSync(join(dir, 'leases'), 'utf8') : '');
  try {
    const conf = { cniVersion: '1.0.0', name: 'dhcplan', plugins: [{ type: 'berth-transparent', master: 'eth0', ipam: { type: 'berth-dhcp' } }] };
    const p = await addPod(host('h2'), 'dhcp', conf);
    t.regex(p.ip, /^192\.168\.77\.2(0\d|1\d|20)$/, "an address of the server's range");
    t.true(leases().includes(p.mac), `dnsmasq holds a lease for ${p.mac}`);
    t.true(reaches(p.netns, '192.168.77.1'), 'the router the lease names');
    // A berthd restart: the lease is recorded, the new berthd keeps renewing it.
    await host('h2').stopBerthds();
    await host('h2').startBerthd();
    const renewals = () => (log.match(new RegExp(`DHCPACK\\(${lab.fabric}\\) ${p.ip.replace(/\./g, '\\.')} ${p.mac}`, 'g')) ?? []).length;
    const before = renewals();
    const deadline = Date.now() + 15_000;
    while (renewals() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    t.true(renewals() > before, `renewed after the restart: ${renewals()} ACKs\n${log.slice(-1500)}`);
    await delPod(p, conf);
    await delPod(p, conf);
    t.false(leases().includes(p.mac), 'RELEASE on DEL: dnsmasq forgot the lease');
    t.regex(log, /DHCPRELEASE/);
  } finally {
    dnsmasq.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('bad input: a CNI error naming the problem, and nothing left', async (t) => {
  const h1 = host('h1');
  const netns = h1.addPod('bad');
  const before = await hostLinks(h1);
  const add = async (conf: object) => {
    const r = await h1.cni('add', { conflist: conf, containerId: 'bad', netns });
    t.not(r.code, 0);
    return JSON.parse(r.stdout) as { code: number; msg: string };
  };
  const missing = await add({ ...transparent('130-131'), plugins: [{ type: 'berth-transparent', ipam: { type: 'berth-ipam', subnet: '192.168.77.0/24' } }] });
  t.is(missing.code, 7);
  t.regex(missing.msg, /master is required/);
  const unknown = await add({ ...transparent('130-131'), plugins: [{ ...transparent('130-131').plugins[0], master: 'nosuch0' }] });
  t.regex(unknown.msg, /the uplink "nosuch0" does not exist/);
  const outside = await add({ ...l2tunnel('130-131'), plugins: [{ type: 'berth-l2tunnel', master: 'eth0', ipam: { type: 'berth-ipam', subnet: '10.99.0.0/24' } }] });
  t.is(outside.code, 7);
  t.regex(outside.msg, /10\.99\.0\.\d+ is outside the prefixes of uplink eth0 \(192\.168\.77\.0\/24\)/);
  // No DHCP server on this LAN: after the client's timeout (10 s), "try again", naming the interface.
  const started = Date.now();
  const dhcp = await add({ ...transparent('130-131'), plugins: [{ type: 'berth-transparent', master: 'eth0', ipam: { type: 'berth-dhcp' } }] });
  t.is(dhcp.code, 11, dhcp.msg);
  t.regex(dhcp.msg, /eth0/);
  t.true(Date.now() - started < 15_000, 'within the timeout');
  t.deepEqual(await hostLinks(h1), before);
  t.deepEqual(JSON.parse(sh('ip', ['netns', 'exec', netns.split('/').pop()!, 'ip', '-j', 'link', 'show'])).length, 1, 'only lo in the pod');
});

test.serial('Docker: a berth-transparent network on the LAN; a container reaches the router and another host', async (t) => {
  const h1 = host('h1');
  const d = h1.dockerd;
  await d.dockerOk(['network', 'create', '-d', 'berth-transparent', '--subnet', '192.168.77.0/24', '--gateway', '192.168.77.1', '--ip-range', '192.168.77.160/28', '-o', 'parent=eth0', 'lan']);
  await d.dockerOk(['run', '-d', '--name', 'c1', '--network', 'lan', IMAGE, 'sleep', '3600']);
  const ip = await d.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "lan").IPAddress}}', 'c1']);
  t.regex(ip, /^192\.168\.77\.1(6\d|7[0-5])$/);
  t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', '192.168.77.1'])).code, 0, 'the router');
  t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', '192.168.77.12'])).code, 0, 'another host');
  const refused = await d.docker(['network', 'create', '-d', 'berth-transparent', '--subnet', '192.168.78.0/24', 'nop']);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /needs -o parent=<uplink>/);
  await d.dockerOk(['rm', '-f', 'c1']);
  await d.dockerOk(['network', 'rm', 'lan']);
  t.false((await hostLinks(h1)).some((l) => l.startsWith('bm')));
});

test.serial("Docker: a berth-l2tunnel network in the host's subnet; a subnet outside it is refused", async (t) => {
  const d = host('h1').dockerd;
  await d.dockerOk(['network', 'create', '-d', 'berth-l2tunnel', '--subnet', '192.168.77.0/24', '--gateway', '192.168.77.1', '--ip-range', '192.168.77.176/28', '-o', 'parent=eth0', 'tun']);
  await d.dockerOk(['run', '-d', '--name', 't1', '--network', 'tun', IMAGE, 'sleep', '3600']);
  t.is((await d.docker(['exec', 't1', 'ping', '-c', '1', '-W', '2', '192.168.77.1'])).code, 0, 'the router, through the fabric');
  const outside = await d.docker(['network', 'create', '-d', 'berth-l2tunnel', '--subnet', '10.99.0.0/24', '-o', 'parent=eth0', 'far']);
  t.not(outside.code, 0);
  t.regex(outside.stderr, /outside the prefixes of uplink eth0/);
  await d.dockerOk(['rm', '-f', 't1']);
  await d.dockerOk(['network', 'rm', 'tun']);
});

test.serial('Docker: a berth-transparent network without a subnet (--ipam-driver null) leases by DHCP; the lease follows the container, is renewed there and released on rm', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dhcp-'));
  const dnsmasq = startDnsmasq(dir);
  let log = '';
  dnsmasq.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const leases = () => (existsSync(join(dir, 'leases')) ? readFileSync(join(dir, 'leases'), 'utf8') : '');
  const h1 = host('h1');
  const d = h1.dockerd;
  try {
    await d.dockerOk(['network', 'create', '-d', 'berth-transparent', '--ipam-driver', 'null', '-o', 'parent=eth0', 'dlan']);
    await d.dockerOk(['run', '-d', '--name', 'dc1', '--network', 'dlan', IMAGE, 'sleep', '3600']);
    const ip = await d.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "dlan").IPAddress}}', 'dc1']);
    const mac = await d.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "dlan").MacAddress}}', 'dc1']);
    t.regex(ip, /^192\.168\.77\.2(0\d|1\d|20)$/, `an address of the server's range: ${ip}`);
    t.true(leases().includes(mac), `dnsmasq holds a lease for the container's MAC ${mac}`);
    t.is((await d.docker(['exec', 'dc1', 'ping', '-c', '1', '-W', '2', '192.168.77.1'])).code, 0, 'the router the lease names is the default gateway');
    // T1 is 5 s: a renewal now goes out of the container's interface, unicast from its address.
    const acks = () => (log.match(new RegExp(`DHCPACK\\(${lab.fabric}\\) ${ip.replace(/\./g, '\\.')} ${mac}`, 'g')) ?? []).length;
    const before = acks();
    const deadline = Date.now() + 15_000;
    while (acks() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    t.true(acks() > before, `renewed from inside the container\n${log.slice(-1500)}`);
    await d.dockerOk(['rm', '-f', 'dc1']);
    t.false(leases().includes(mac), `RELEASE on rm: dnsmasq forgot the lease\n${log.slice(-1500)}`);
    await d.dockerOk(['network', 'rm', 'dlan']);
    t.false(
      (await hostLinks(h1)).some((l) => l.startsWith('bm')),
      'no interface left on the host',
    );
    const l2tunnel = await d.docker(['network', 'create', '-d', 'berth-l2tunnel', '--ipam-driver', 'null', '-o', 'parent=eth0', 'nosub']);
    t.not(l2tunnel.code, 0);
    t.regex(l2tunnel.stderr, /needs --subnet/);
  } finally {
    await d.docker(['rm', '-f', 'dc1']);
    await d.docker(['network', 'rm', 'dlan']);
    dnsmasq.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
