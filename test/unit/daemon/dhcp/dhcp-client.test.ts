/**
 * The client's decisions with a fake clock, fake timers and a scripted server (fake-dhcp.ts):
 * what it sends, when, and what it keeps. The real sockets and dnsmasq are in
 * test/netns/dhcp/dhcp-client.test.ts.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError, TryAgainError } from '../../../../core/errors.js';
import { BerthdDhcpClient, type DhcpClientOptions } from '../../../../daemon/dhcp/dhcp-client.js';
import type { DhcpRequest } from '../../../../drivers/dhcp.js';
import { FakeHost, T0, memoryLog, simpleServer, type Pool } from './fake-dhcp.js';

const NS = '/run/netns/pod1';
const REQ: DhcpRequest = { key: 'lan-aaaa', netnsPath: NS, ifname: 'eth0', mac: '02:00:00:00:00:01', hostname: 'pod1' };
const S = 1000;

function setup(t: { teardown(fn: () => void): void }, opts: Partial<DhcpClientOptions> = {}, host = new FakeHost()) {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-dhcp-unit-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  host.namespaces.add(NS);
  const log = memoryLog();
  const make = () => new BerthdDhcpClient({ dataDir, log, ...opts }, host.ports);
  return { host, log, dataDir, client: make(), make, record: join(dataDir, 'dhcp', `${REQ.key}.json`) };
}

/** What the driver does with a lease: the address goes on the interface. */
function addressed(host: FakeHost, address: string): void {
  host.addresses.set(`${NS}|eth0`, new Set([address]));
}

const types = (host: FakeHost) => host.sent.map((s) => s.message.type);

test('acquire: DISCOVER, OFFER, REQUEST, ACK, all broadcast from the interface; the lease is recorded, then renewed at T1', async (t) => {
  const { host, client, record, log } = setup(t);
  host.server = simpleServer();
  const lease = await client.acquire(REQ);
  t.is(`${lease.address.address}/${lease.address.length}`, '192.0.2.10/24');
  t.is(String(lease.gateway), '192.0.2.1');
  t.is(lease.renewAt, new Date(T0 + 1800 * S).toISOString());
  t.is(lease.expiresAt, new Date(T0 + 3600 * S).toISOString());
  t.deepEqual(types(host), [1, 3]);
  t.true(host.sent.every((s) => s.to === '255.255.255.255' && s.from === '0.0.0.0' && s.netnsPath === NS && s.ifname === 'eth0'));
  t.is(host.sent[0]!.message.xid, host.sent[1]!.message.xid, 'one transaction');
  t.true(existsSync(record));
  t.deepEqual(client.lease(REQ.key), lease);
  t.is(host.nextTimer, T0 + 1800 * S);
  t.true(log.lines.some((l) => l.message === 'DHCP lease acquired'));
});

test('acquire twice with the same key: the same lease, no new exchange; concurrent acquires share one', async (t) => {
  const { host, client } = setup(t);
  host.server = simpleServer();
  const [a, b] = await Promise.all([client.acquire(REQ), client.acquire(REQ)]);
  t.deepEqual(a, b);
  const c = await client.acquire(REQ);
  t.deepEqual(c, a);
  t.deepEqual(types(host), [1, 3]);
});

test('a NAK starts over with a new DISCOVER', async (t) => {
  const { host, client } = setup(t);
  const ok = simpleServer();
  let naks = 1;
  host.server = (m, s) => (m.type === 3 && naks-- > 0 ? { type: 6, xid: m.xid, chaddr: m.chaddr } : ok(m, s));
  const lease = await client.acquire(REQ);
  t.is(String(lease.address.address), '192.0.2.10');
  t.deepEqual(types(host), [1, 3, 1, 3]);
});

test('no server: DISCOVER every ~2 s, then a TryAgainError naming the interface at the timeout; nothing recorded', async (t) => {
  const { host, client, record } = setup(t);
  const err = await t.throwsAsync(client.acquire(REQ), { instanceOf: TryAgainError });
  t.regex(err!.message, /eth0/);
  t.regex(err!.message, /no DHCP server answered within 10 s/);
  t.is(host.now, T0 + 10 * S);
  const gaps = host.sent.slice(1).map((s, i) => s.at - host.sent[i]!.at);
  t.true(host.sent.length >= 4 && host.sent.length <= 7, `${host.sent.length} sends`);
  t.true(
    gaps.every((g) => g >= 1.5 * S && g <= 2.5 * S),
    `gaps ${gaps}`,
  );
  t.deepEqual(
    host.sent.map((s) => s.message.secs),
    host.sent.map((s) => Math.floor((s.at - T0) / S)),
  );
  t.false(existsSync(record));
  t.is(client.lease(REQ.key), undefined);
  t.is(host.nextTimer, undefined);
});

test('a server that NAKs every request: TryAgainError after 3 NAKs', async (t) => {
  const { host, client } = setup(t);
  const ok = simpleServer();
  host.server = (m, s) => (m.type === 3 ? { type: 6, xid: m.xid, chaddr: m.chaddr } : ok(m, s));
  await t.throwsAsync(client.acquire(REQ), { instanceOf: TryAgainError, message: /refused every request/ });
});

test('replies for another xid or MAC, and garbage, are ignored', async (t) => {
  const { host, client } = setup(t);
  const ok = simpleServer();
  host.server = (m, s) => {
    const r = ok(m, s);
    return r && s.message.type === 1 && host.sent.length === 1 ? { ...r, xid: r.xid + 1 } : r;
  };
  const lease = await client.acquire(REQ);
  t.is(String(lease.address.address), '192.0.2.10');
  t.deepEqual(types(host), [1, 1, 3], 'the DISCOVER was sent again');
});

test('a MAC that is not one: InvalidConfigError before any packet', async (t) => {
  const { host, client } = setup(t);
  await t.throwsAsync(client.acquire({ ...REQ, mac: '' }), { instanceOf: InvalidConfigError });
  t.is(host.sent.length, 0);
});

test('renewal at T1: REQUEST with ciaddr, unicast to the server from the leased address; the ACK moves every time', async (t) => {
  const { host, client, log } = setup(t);
  host.server = simpleServer();
  const first = await client.acquire(REQ);
  addressed(host, '192.0.2.10');
  host.sent.length = 0;
  await host.advanceTo(T0 + 1800 * S);
  t.is(host.sent.length, 1);
  const renew = host.sent[0]!;
  t.like(renew, { at: T0 + 1800 * S, from: '192.0.2.10', to: '192.0.2.1' });
  t.is(renew.message.type, 3);
  t.is(String(renew.message.ciaddr), '192.0.2.10');
  const renewed = client.lease(REQ.key)!;
  t.is(renewed.obtainedAt, new Date(T0 + 1800 * S).toISOString());
  t.is(renewed.renewAt, new Date(T0 + 3600 * S).toISOString());
  t.true(renewed.expiresAt > first.expiresAt);
  t.is(host.nextTimer, T0 + 3600 * S);
  t.true(log.lines.some((l) => l.message === 'DHCP lease renewed'));
});

test('renewal unanswered: retries at half the time left (at least the minimum), rebinds at T2 by broadcast, and at expiry lets go and logs', async (t) => {
  const { host, client, log, record } = setup(t, { minRetryMs: 60 * S });
  host.server = simpleServer();
  await client.acquire(REQ);
  addressed(host, '192.0.2.10');
  host.server = () => undefined;
  host.sent.length = 0;
  await host.advanceTo(T0 + 3600 * S);
  const at = host.sent.map((s) => `${(s.at - T0) / S}s ${s.to}`);
  // Each attempt sends twice (at +0 and ~+2 s) before waiting for the next.
  const attempts = host.sent.filter((s, i) => i === 0 || s.at - host.sent[i - 1]!.at > 10 * S);
  t.deepEqual(
    attempts.map((s) => Math.round((s.at - T0) / S)),
    // T1 1800 s, T2 3150 s, expiry 3600 s; an attempt gives up 4 s after it began.
    [1800, 2477, 2816, 2985, 3069, 3133, 3150, 3377, 3491, 3555],
    at.join(', '),
  );
  t.true(attempts.every((s) => s.to === (s.at - T0 < 3150 * S ? '192.0.2.1' : '255.255.255.255')));
  t.is(client.lease(REQ.key), undefined);
  t.false(existsSync(record));
  t.true(log.lines.some((l) => l.level === 'warn' && /expired/.test(l.message)));
  t.is(host.nextTimer, undefined);
});

test('a NAK at renewal: the lease is lost, logged, its record removed', async (t) => {
  const { host, client, log, record } = setup(t);
  host.server = simpleServer();
  await client.acquire(REQ);
  addressed(host, '192.0.2.10');
  host.server = (m) => ({ type: 6, xid: m.xid, chaddr: m.chaddr });
  await host.advanceTo(T0 + 1800 * S);
  t.is(client.lease(REQ.key), undefined);
  t.false(existsSync(record));
  t.true(log.lines.some((l) => l.level === 'error' && /NAK/.test(l.message)));
});

test('the namespace gone at T1: no renewal, the lease is dropped', async (t) => {
  const { host, client, record } = setup(t);
  host.server = simpleServer();
  await client.acquire(REQ);
  host.namespaces.delete(NS);
  host.sent.length = 0;
  await host.advanceTo(T0 + 1800 * S);
  t.is(host.sent.length, 0);
  t.is(client.lease(REQ.key), undefined);
  t.false(existsSync(record));
});

test('renewal while the address is not on the interface: broadcast from 0.0.0.0', async (t) => {
  const { host, client } = setup(t);
  host.server = simpleServer();
  await client.acquire(REQ);
  host.sent.length = 0;
  await host.advanceTo(T0 + 1800 * S);
  t.like(host.sent[0], { from: '0.0.0.0', to: '255.255.255.255' });
});

test('release: DHCPRELEASE unicast from the leased address, record removed, timers stopped; unknown key and twice succeed', async (t) => {
  const { host, client, record } = setup(t);
  const pool: Pool = { leases: new Map() };
  host.server = simpleServer(pool);
  await client.acquire(REQ);
  addressed(host, '192.0.2.10');
  host.sent.length = 0;
  await client.release(REQ.key);
  t.is(host.sent.length, 1);
  t.like(host.sent[0], { from: '192.0.2.10', to: '192.0.2.1' });
  t.is(host.sent[0]!.message.type, 7);
  t.is(pool.leases.size, 0);
  t.false(existsSync(record));
  t.is(client.lease(REQ.key), undefined);
  t.is(host.nextTimer, undefined);
  await t.notThrowsAsync(client.release(REQ.key));
  await t.notThrowsAsync(client.release('never'));
  t.is(host.sent.length, 1);
});

test('release without the address on the interface: broadcast; with the namespace gone: nothing sent, record removed', async (t) => {
  const { host, client, record } = setup(t);
  host.server = simpleServer();
  await client.acquire(REQ);
  host.sent.length = 0;
  await client.release(REQ.key);
  t.like(host.sent[0], { from: '0.0.0.0', to: '255.255.255.255' });

  await client.acquire(REQ);
  host.namespaces.delete(NS);
  host.sent.length = 0;
  await client.release(REQ.key);
  t.is(host.sent.length, 0);
  t.false(existsSync(record));
});

test('release during an acquire waits for it, then releases what it got', async (t) => {
  const { host, client, record } = setup(t);
  host.server = simpleServer();
  addressed(host, '192.0.2.10');
  const acquiring = client.acquire(REQ);
  const releasing = client.release(REQ.key);
  await acquiring;
  await releasing;
  t.deepEqual(types(host), [1, 3, 7]);
  t.false(existsSync(record));
});

test('resume: a new client renews recorded leases on schedule (at once when T1 passed), drops those whose namespace or time is gone', async (t) => {
  const host = new FakeHost();
  const { client, make, dataDir, log } = setup(t, {}, host);
  host.server = simpleServer();
  const other: DhcpRequest = { ...REQ, key: 'lan-bbbb', netnsPath: '/run/netns/pod2', mac: '02:00:00:00:00:02' };
  const third: DhcpRequest = { ...REQ, key: 'lan-cccc', netnsPath: '/run/netns/pod3', mac: '02:00:00:00:00:03' };
  host.namespaces.add(other.netnsPath).add(third.netnsPath);
  const a = await client.acquire(REQ);
  await client.acquire(other);
  await client.acquire(third);
  await client.stop();
  writeFileSync(join(dataDir, 'dhcp', 'junk.json'), '{"not": "a lease"');
  writeFileSync(join(dataDir, 'dhcp', 'lan-dddd.json.123.tmp'), '{');

  // berthd was down past T1 of every lease; pod2 went away meanwhile, pod3's lease expired... not yet.
  host.namespaces.delete(other.netnsPath);
  host.now = T0 + 2000 * S;
  addressed(host, '192.0.2.10');
  host.sent.length = 0;
  const again = make();
  t.deepEqual(again.resume(), { resumed: 2, dropped: 1 });
  t.deepEqual(again.lease(REQ.key), a);
  t.is(again.lease(other.key), undefined);
  t.true(log.lines.some((l) => l.level === 'warn' && /unreadable/.test(l.message)));
  t.deepEqual(readdirSync(join(dataDir, 'dhcp')).sort(), ['junk.json', 'lan-aaaa.json', 'lan-cccc.json']);
  await host.advanceTo(host.now);
  t.deepEqual(
    host.sent.map((s) => `${s.message.type} ${s.from} ${s.to}`).sort(),
    ['3 0.0.0.0 255.255.255.255', '3 192.0.2.10 192.0.2.1'],
    'both renewed at once: pod1 unicast from its address, pod3 (no address on its interface) broadcast',
  );
  t.is(again.lease(REQ.key)!.obtainedAt, new Date(T0 + 2000 * S).toISOString());

  // A lease that expired while berthd was down is dropped at the next start.
  await again.stop();
  host.now = T0 + 2000 * S + 3601 * S;
  const late = make();
  t.deepEqual(late.resume(), { resumed: 0, dropped: 2 });
  t.deepEqual(readdirSync(join(dataDir, 'dhcp')), ['junk.json']);
});

test('stop: pending renewals do not fire, an acquire in progress ends with a TryAgainError', async (t) => {
  const { host, client } = setup(t, { timeoutMs: 60 * S });
  host.server = simpleServer();
  await client.acquire({ ...REQ, key: 'k2', mac: '02:00:00:00:00:09' });
  host.server = () => undefined;
  const pending = client.acquire(REQ);
  const stopping = client.stop();
  await t.throwsAsync(pending, { instanceOf: TryAgainError, message: /stopping/ });
  await stopping;
  t.is(host.nextTimer, undefined);
  await t.throwsAsync(client.acquire({ ...REQ, key: 'k3' }), { instanceOf: TryAgainError });
});
