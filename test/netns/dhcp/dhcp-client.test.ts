/**
 * berthd's DHCP client against a real DHCP server (dnsmasq, Debian's dnsmasq-base).
 *
 * Topology, all inside this run's private namespace: a "fabric" namespace with a bridge
 * (10.78.0.1/24) on which dnsmasq serves 10.78.0.100-150 (2 min leases, T1 10 s, T2 20 s); a
 * "host" namespace whose uplink is a veth port of that bridge; each container a namespace
 * holding a macvlan of the uplink (bridge mode), as the transparent driver makes it. A second
 * bridge with no server behind it is the LAN where nobody answers.
 *
 * Shown: acquire (address in the range, router, lease times, the client id dnsmasq saw);
 * acquire twice; renewal at T1, unicast from the leased address, moving dnsmasq's expiry;
 * release (dnsmasq forgets the MAC, the record is gone); a new client on the same data dir
 * resumes and renews, and drops a lease whose namespace is gone; no server: a TryAgainError
 * within the timeout, nothing recorded, and the event loop kept running meanwhile.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KernelError, NetnsNotFoundError, NotFoundError, TryAgainError } from '../../../core/errors.js';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { DhcpSocket } from '../../../dataplane/linux/index.js';
import { BerthdDhcpClient, linuxDhcpPorts, type DhcpClientPorts } from '../../../daemon/dhcp/dhcp-client.js';
import type { Log } from '../../../daemon/log.js';
import type { DhcpRequest } from '../../../drivers/dhcp.js';
import { makeNetns, scratch, sh } from '../../support/netns.js';

const RANGE = IpPrefix.parse('10.78.0.0/24');
const ROUTER = '10.78.0.1';

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A Log that keeps what it is given, and echoes warnings and errors to the test's output. */
function collectingLog(): Log & { lines: Line[]; has(message: string, key?: string): boolean } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, message, fields });
      if (level === 'warn' || level === 'error') process.stderr.write(`${level}: ${message} ${JSON.stringify(fields)}\n`);
    };
  return {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    has: (message, key) => lines.some((l) => l.message === message && (key === undefined || l.fields.key === key)),
  };
}

interface Send {
  /** The address the socket is bound to. */
  readonly from: string;
  readonly to: string;
  /** Whether the kernel took it. */
  readonly ok: boolean;
}

/** The real ports, with every send recorded. */
function recordingPorts(sends: Send[]): DhcpClientPorts {
  return {
    ...linuxDhcpPorts,
    openSocket(where, from): DhcpSocket | undefined {
      const s = linuxDhcpPorts.openSocket(where, from);
      if (!s) return undefined;
      return {
        get closed() {
          return s.closed;
        },
        receive: (ms) => s.receive(ms),
        close: () => s.close(),
        send(bytes: Uint8Array, to: IpAddress) {
          try {
            s.send(bytes, to);
            sends.push({ from: String(from ?? '0.0.0.0'), to: String(to), ok: true });
          } catch (err) {
            sends.push({ from: String(from ?? '0.0.0.0'), to: String(to), ok: false });
            throw err;
          }
        },
      };
    },
  };
}

let fabric: string;
let host: string;
let dir: string;
let dnsmasq: ChildProcess;
let dnsmasqLog = '';
const cleanups: (() => void)[] = [];
let podCounter = 0;

test.before(async () => {
  const s = scratch('dhcp');
  dir = s.dir;
  const ns = makeNetns('dhcp', 2);
  cleanups.push(ns.cleanup, s.cleanup);
  [fabric, host] = ns.names as [string, string];
  const ip = (...args: string[]) => sh('ip', args);
  // The LAN: a bridge with the router's address, and the host's uplink as its port.
  ip('-n', fabric, 'link', 'add', 'lan0', 'type', 'bridge');
  ip('-n', fabric, 'addr', 'add', `${ROUTER}/24`, 'dev', 'lan0');
  ip('-n', fabric, 'link', 'set', 'lan0', 'up');
  ip('-n', host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'port0');
  ip('-n', host, 'link', 'set', 'port0', 'netns', fabric);
  ip('-n', fabric, 'link', 'set', 'port0', 'master', 'lan0', 'up');
  ip('-n', host, 'link', 'set', 'up0', 'up');
  // The LAN without a server: a bridge with no address and nothing listening.
  ip('-n', fabric, 'link', 'add', 'quiet0', 'type', 'bridge');
  ip('-n', fabric, 'link', 'set', 'quiet0', 'up');
  ip('-n', host, 'link', 'add', 'up1', 'type', 'veth', 'peer', 'name', 'port1');
  ip('-n', host, 'link', 'set', 'port1', 'netns', fabric);
  ip('-n', fabric, 'link', 'set', 'port1', 'master', 'quiet0', 'up');
  ip('-n', host, 'link', 'set', 'up1', 'up');

  dnsmasq = spawn(
    'ip',
    [
      'netns',
      'exec',
      fabric,
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      '--interface=lan0',
      '--bind-interfaces',
      '--except-interface=lo',
      '--dhcp-range=10.78.0.100,10.78.0.150,255.255.255.0,2m',
      `--dhcp-option=option:router,${ROUTER}`,
      '--dhcp-option=option:T1,10',
      '--dhcp-option=option:T2,20',
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--dhcp-authoritative',
      '--log-dhcp',
      '--log-facility=-',
      // The scratch directory is root's (mode 0700): dnsmasq keeps writing its lease file there.
      '--user=root',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  dnsmasq.stdout!.on('data', (d: Buffer) => (dnsmasqLog += d.toString()));
  dnsmasq.stderr!.on('data', (d: Buffer) => (dnsmasqLog += d.toString()));
  cleanups.unshift(() => dnsmasq.kill());
  const until = Date.now() + 5000;
  while (!dnsmasqLog.includes('DHCP, sockets bound')) {
    if (Date.now() > until || dnsmasq.exitCode !== null) throw new Error(`dnsmasq did not start: ${dnsmasqLog}`);
    await sleep(50);
  }
});

test.after.always(() => {
  for (const c of cleanups) c();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A container: a namespace with `eth0`, a macvlan of the host's uplink, up and unaddressed. */
function pod(uplink = 'up0'): { netns: string; path: string; mac: string; remove: () => void } {
  const ns = makeNetns('dhcp-pod');
  cleanups.push(ns.cleanup);
  const name = ns.names[0]!;
  const tmp = `mv${podCounter++}`;
  sh('ip', ['-n', host, 'link', 'add', tmp, 'link', uplink, 'type', 'macvlan', 'mode', 'bridge']);
  sh('ip', ['-n', host, 'link', 'set', tmp, 'netns', name]);
  sh('ip', ['-n', name, 'link', 'set', tmp, 'name', 'eth0']);
  sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  const mac = (JSON.parse(sh('ip', ['-n', name, '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]!.address;
  return { netns: name, path: ns.paths[0]!, mac, remove: ns.cleanup };
}

/** What the transparent driver does with a lease: the address on the interface. */
function addressIt(netns: string, address: string): void {
  sh('ip', ['-n', netns, 'addr', 'add', address, 'dev', 'eth0']);
}

/** dnsmasq's lease file: MAC → expiry (epoch seconds), address, client id. */
function serverLeases(): Map<string, { expiry: number; address: string; clientId: string }> {
  const file = join(dir, 'dnsmasq.leases');
  const out = new Map<string, { expiry: number; address: string; clientId: string }>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [expiry, mac, address, , clientId] = line.split(' ');
    if (mac) out.set(mac, { expiry: Number(expiry), address: address!, clientId: clientId ?? '' });
  }
  return out;
}

function request(key: string, p: { path: string; mac: string }): DhcpRequest {
  return { key, netnsPath: p.path, ifname: 'eth0', mac: p.mac, hostname: key };
}

function client(dataDir: string, log: Log, ports?: DhcpClientPorts, timeoutMs?: number): BerthdDhcpClient {
  const c = new BerthdDhcpClient({ dataDir, log, minRetryMs: 1000, ...(timeoutMs ? { timeoutMs } : {}) }, ports);
  cleanups.unshift(() => void c.stop());
  return c;
}

async function waitFor(what: string, ms: number, ok: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('acquire: an address of the range with the router and the lease times; twice gives the same lease', async (t) => {
  const log = collectingLog();
  const data = join(dir, 'acquire');
  const c = client(data, log);
  const p = pod();
  const started = Date.now();
  const lease = await c.acquire(request('acq-1', p));
  const took = Date.now() - started;
  // dnsmasq pings an address before it offers it, for up to 3 s, and answers nothing meanwhile.
  t.log(`leased ${lease.address.address}/${lease.address.length} in ${took} ms`);
  t.true(RANGE.contains(lease.address.address));
  t.true(lease.address.address.value >= IpAddress.parse('10.78.0.100').value && lease.address.address.value <= IpAddress.parse('10.78.0.150').value);
  t.is(lease.address.length, 24);
  t.is(String(lease.gateway), ROUTER);
  t.is(String(lease.server), ROUTER);
  t.deepEqual(lease.routes, []);
  const obtained = Date.parse(lease.obtainedAt);
  t.is(Date.parse(lease.renewAt) - obtained, 10_000);
  t.is(Date.parse(lease.rebindAt) - obtained, 20_000);
  t.is(Date.parse(lease.expiresAt) - obtained, 120_000);
  t.true(existsSync(join(data, 'dhcp', 'acq-1.json')), 'the lease is recorded');

  const server = serverLeases().get(p.mac);
  t.is(server?.address, String(lease.address.address));
  // Option 61: type 0 and the key's bytes.
  t.is(server?.clientId, ['00', ...Buffer.from('acq-1').toString('hex').match(/../g)!].join(':'));

  const discovers = (dnsmasqLog.match(new RegExp(`DHCPDISCOVER\\(lan0\\) ${p.mac}`, 'g')) ?? []).length;
  const again = await c.acquire(request('acq-1', p));
  t.deepEqual(again, lease, 'the same lease');
  t.deepEqual(c.lease('acq-1'), lease);
  await sleep(200);
  t.is((dnsmasqLog.match(new RegExp(`DHCPDISCOVER\\(lan0\\) ${p.mac}`, 'g')) ?? []).length, discovers, 'no new exchange');
  await c.release('acq-1');
});

test('renewal at T1: unicast to the server from the leased address; the server moves the expiry', async (t) => {
  const log = collectingLog();
  const sends: Send[] = [];
  const c = client(join(dir, 'renew'), log, recordingPorts(sends));
  const p = pod();
  const first = await c.acquire(request('renew-1', p));
  addressIt(p.netns, `${first.address.address}/${first.address.length}`);
  const serverExpiry = serverLeases().get(p.mac)!.expiry;
  sends.length = 0;
  await waitFor('the renewal', 20_000, () => log.has('DHCP lease renewed', 'renew-1'));
  const renewedAt = Date.now();
  const renewed = c.lease('renew-1')!;
  t.log(`renewed ${Date.parse(renewed.obtainedAt) - Date.parse(first.renewAt)} ms after T1`);
  t.true(Math.abs(Date.parse(renewed.obtainedAt) - Date.parse(first.renewAt)) < 1000, 'at T1');
  t.true(Date.parse(renewed.expiresAt) > Date.parse(first.expiresAt));
  t.deepEqual(renewed.address, first.address);
  t.deepEqual(sends, [{ from: String(first.address.address), to: ROUTER, ok: true }], 'one unicast REQUEST to the server, from the leased address');
  t.true(renewedAt - Date.parse(renewed.obtainedAt) < 2000);
  await waitFor("dnsmasq's new expiry", 3000, () => (serverLeases().get(p.mac)?.expiry ?? 0) > serverExpiry);
  t.pass();
  const record = JSON.parse(readFileSync(join(dir, 'renew', 'dhcp', 'renew-1.json'), 'utf8')) as { expiresAt: string };
  t.is(record.expiresAt, renewed.expiresAt, 'the record holds the renewed lease');
  await c.release('renew-1');
});

test('release: DHCPRELEASE from the interface, the server forgets the MAC, the record is gone; unknown key succeeds', async (t) => {
  const log = collectingLog();
  const data = join(dir, 'release');
  const sends: Send[] = [];
  const c = client(data, log, recordingPorts(sends));
  const p = pod();
  const lease = await c.acquire(request('rel-1', p));
  addressIt(p.netns, `${lease.address.address}/${lease.address.length}`);
  t.truthy(serverLeases().get(p.mac));
  sends.length = 0;
  await c.release('rel-1');
  t.deepEqual(sends, [{ from: String(lease.address.address), to: ROUTER, ok: true }], 'unicast to the server from the leased address');
  t.is(c.lease('rel-1'), undefined);
  t.false(existsSync(join(data, 'dhcp', 'rel-1.json')));
  await waitFor('dnsmasq to forget the MAC', 3000, () => !serverLeases().has(p.mac));
  await waitFor("dnsmasq's log of the release", 3000, () => dnsmasqLog.includes(`DHCPRELEASE(lan0) ${lease.address.address} ${p.mac}`));
  await t.notThrowsAsync(c.release('rel-1'));
  await t.notThrowsAsync(c.release('never-held'));
});

test('release before the address is on the interface: broadcast instead, the server still forgets the MAC', async (t) => {
  const sends: Send[] = [];
  const c = client(join(dir, 'release-early'), collectingLog(), recordingPorts(sends));
  const p = pod();
  await c.acquire(request('rel-2', p));
  sends.length = 0;
  await c.release('rel-2');
  t.deepEqual(sends, [{ from: '0.0.0.0', to: '255.255.255.255', ok: true }]);
  await waitFor('dnsmasq to forget the MAC', 3000, () => !serverLeases().has(p.mac));
});

test('a new client on the same data dir resumes and renews; a lease whose namespace is gone is dropped', async (t) => {
  const data = join(dir, 'resume');
  const before = client(data, collectingLog());
  const kept = pod();
  const gone = pod();
  const lease = await before.acquire(request('res-1', kept));
  addressIt(kept.netns, `${lease.address.address}/${lease.address.length}`);
  await before.acquire(request('res-2', gone));
  await before.stop(); // as berthd stopping: the records stay
  t.true(existsSync(join(data, 'dhcp', 'res-1.json')));
  gone.remove();

  const log = collectingLog();
  const after = client(data, log);
  t.deepEqual(after.resume(), { resumed: 1, dropped: 1 });
  t.deepEqual(after.lease('res-1'), lease);
  t.is(after.lease('res-2'), undefined);
  t.deepEqual(readdirSync(join(data, 'dhcp')), ['res-1.json']);
  const serverExpiry = serverLeases().get(kept.mac)!.expiry;
  await waitFor('the resumed lease to be renewed', 20_000, () => log.has('DHCP lease renewed', 'res-1'));
  t.true(Date.parse(after.lease('res-1')!.expiresAt) > Date.parse(lease.expiresAt));
  await waitFor("dnsmasq's new expiry", 3000, () => (serverLeases().get(kept.mac)?.expiry ?? 0) > serverExpiry);
  await after.release('res-1');
  t.false(existsSync(join(data, 'dhcp', 'res-1.json')));
  await waitFor('dnsmasq to forget the MAC', 3000, () => !serverLeases().has(kept.mac));
});

test('no server answers: a TryAgainError naming the interface within the timeout, nothing recorded, the event loop free', async (t) => {
  const data = join(dir, 'quiet');
  const c = client(data, collectingLog(), undefined, 4000);
  const p = pod('up1');
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 50);
  const started = Date.now();
  const err = await t.throwsAsync(c.acquire(request('quiet-1', p)), { instanceOf: TryAgainError });
  const took = Date.now() - started;
  clearInterval(ticker);
  t.log(`gave up after ${took} ms; the event loop ticked ${ticks} times meanwhile`);
  t.regex(err!.message, /eth0/);
  t.regex(err!.message, /no DHCP server answered/);
  t.true(took >= 3900 && took < 5000, `${took} ms`);
  t.true(ticks >= 60, 'a 50 ms interval kept running while the client waited');
  t.is(c.lease('quiet-1'), undefined);
  t.false(existsSync(join(data, 'dhcp', 'quiet-1.json')));
  t.false(serverLeases().has(p.mac));
});

test('an interface that is down, a missing interface, a namespace that is gone: errors that say so, at once', async (t) => {
  const c = client(join(dir, 'down'), collectingLog());
  const p = pod();
  sh('ip', ['-n', p.netns, 'link', 'set', 'eth0', 'down']);
  const started = Date.now();
  const down = await t.throwsAsync(c.acquire(request('down-1', p)), { instanceOf: KernelError });
  t.regex(down!.message, /eth0 must be up/);
  await t.throwsAsync(c.acquire({ ...request('down-2', p), ifname: 'eth9', mac: '02:00:00:00:00:99' }), { instanceOf: NotFoundError, message: /eth9/ });
  p.remove();
  await t.throwsAsync(c.acquire(request('down-3', p)), { instanceOf: NetnsNotFoundError });
  t.true(Date.now() - started < 1000);
  t.false(existsSync(join(dir, 'down', 'dhcp')) && readdirSync(join(dir, 'down', 'dhcp')).length > 0, 'nothing recorded');
});
