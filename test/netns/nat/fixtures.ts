/**
 * Fixtures for the berth-nat tests: a "host" (the test run's private namespace) with an
 * uplink to an "external" namespace, servers inside pods, and probes from anywhere.
 * Tools are called by absolute path: npx would put another `nft` first on PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describeNat } from '../../../drivers/nat/index.js';
import { hostLinks, nftTables } from '../../support/netns.js';
import { heldAddresses, world, type World } from '../cni/fixtures.js';

export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';

export function ip(...args: string[]): string {
  const r = spawnSync(IP, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A CNI world whose cleanup also removes WinNAT's table. */
export function natWorld(name: string): World & { runDir: string } {
  const w = world(name);
  return {
    ...w,
    runDir: w.env.BERTH_RUN_DIR!,
    cleanup: () => {
      spawnSync(NFT, ['delete', 'table', 'ip', 'berth-nat'], { stdio: 'ignore' });
      w.cleanup();
    },
  };
}

/** A berth-nat conflist entry with the portMappings capability. */
export function berthNat(w: World, subnet: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'berth-nat',
    capabilities: { portMappings: true },
    ...extra,
    ipam: { type: 'berth-ipam', ranges: [[{ subnet }]], dataDir: w.dataDir },
  };
}

let uplinks = 0;

/**
 * The host's uplink: a veth pair from the host (`<net>.1`) to a new "external" namespace
 * (`<net>.2`), where a client outside the host runs. `net` is three octets, `10.x.y`.
 */
export function uplink(net: string): { ext: string; hostIf: string; hostIp: string; extIp: string; cleanup: () => void } {
  const ext = `bext-${process.pid}-${uplinks}`;
  const hostSide = `nu${process.pid % 10000}x${uplinks++}`;
  ip('netns', 'add', ext);
  const cleanup = () => {
    spawnSync(IP, ['netns', 'del', ext], { stdio: 'ignore' });
    spawnSync(IP, ['link', 'del', hostSide], { stdio: 'ignore' });
  };
  try {
    ip('-n', ext, 'link', 'set', 'lo', 'up');
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'ext0', 'netns', ext);
    ip('addr', 'add', `${net}.1/24`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    ip('-n', ext, 'addr', 'add', `${net}.2/24`, 'dev', 'ext0');
    ip('-n', ext, 'link', 'set', 'ext0', 'up');
  } catch (err) {
    cleanup();
    throw err;
  }
  return { ext, hostIf: hostSide, hostIp: `${net}.1`, extIp: `${net}.2`, cleanup };
}

const SERVER = `
const [tcp, udp, banner] = process.argv.slice(1);
let pending = (+tcp ? 1 : 0) + (+udp ? 1 : 0);
const up = () => { if (--pending === 0) console.log('ready'); };
if (+tcp) require('net').createServer((s) => s.end(banner + ' ' + s.remoteAddress + '\\n')).listen(+tcp, '0.0.0.0', up);
if (+udp) { const u = require('dgram').createSocket('udp4'); u.on('message', (m, r) => u.send(banner + ' ' + m, r.port, r.address)); u.bind(+udp, '0.0.0.0', up); }
`;

/**
 * Starts a TCP server (answers `<banner> <peer address>`) and/or a UDP echo (`<banner> <msg>`)
 * inside `netns`; resolves when both listen. Stop it in a teardown.
 */
export function serve(netns: string, opts: { tcp?: number; udp?: number; banner: string }): Promise<{ stop: () => void }> {
  const child = spawn(IP, ['netns', 'exec', netns, process.execPath, '-e', SERVER, String(opts.tcp ?? 0), String(opts.udp ?? 0), opts.banner], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    child.kill('SIGKILL');
  };
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve({ stop });
    });
    child.on('exit', (code) => reject(new Error(`server in ${netns} exited (${code}): ${err}`)));
  });
}

const TCP_CLIENT = `
const [h, p, t] = process.argv.slice(1);
const s = require('net').connect(+p, h);
let out = '';
s.setTimeout(+t, () => { console.log('timeout'); process.exit(0); });
s.on('data', (d) => (out += d));
s.on('end', () => { console.log(out.trim()); process.exit(0); });
s.on('error', (e) => { console.log(e.code === 'ECONNREFUSED' ? 'refused' : 'error ' + e.code); process.exit(0); });
`;

const UDP_CLIENT = `
const [h, p, t] = process.argv.slice(1);
const u = require('dgram').createSocket('udp4');
u.on('message', (m) => { console.log(String(m)); process.exit(0); });
u.send('ping', +p, h);
setTimeout(() => { console.log('timeout'); process.exit(0); }, +t);
`;

/**
 * Connects to host:port over TCP from `netns` (undefined: the test's own namespace, the
 * "host") and returns what the server said, or 'refused' / 'timeout' / 'error CODE'.
 */
export async function tcpProbe(netns: string | undefined, host: string, port: number, timeoutMs = 1500): Promise<string> {
  if (netns) return runIn(netns, TCP_CLIENT, [host, String(port), String(timeoutMs)]);
  return new Promise((resolve) => {
    const s = connect(port, host);
    let out = '';
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      resolve('timeout');
    });
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out.trim()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'refused' : `error ${e.code}`));
  });
}

/** Sends "ping" over UDP from `netns` (undefined: the host) and returns the reply or 'timeout'. */
export async function udpProbe(netns: string | undefined, host: string, port: number, timeoutMs = 1500): Promise<string> {
  if (netns) return runIn(netns, UDP_CLIENT, [host, String(port), String(timeoutMs)]);
  return new Promise((resolve) => {
    const u = createSocket('udp4');
    const timer = setTimeout(() => {
      u.close();
      resolve('timeout');
    }, timeoutMs);
    u.on('message', (m) => {
      clearTimeout(timer);
      u.close();
      resolve(String(m));
    });
    u.send('ping', port, host);
  });
}

function runIn(netns: string, script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(IP, ['netns', 'exec', netns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`probe in ${netns} failed (${code}): ${err}`))));
  });
}

/** WinNAT's view of the world's host: instances and mappings. */
export function natState(w: { runDir: string }) {
  return describeNat({ runDir: w.runDir });
}

/** Everything berth may leave on the host for `network`, for "nothing is left" assertions. */
export function traces(w: World & { runDir: string }, network: string): { links: string[]; tables: string[]; addresses: string[]; nats: string[]; mappings: string[] } {
  const d = natState(w);
  return {
    links: hostLinks().filter((l) => l.startsWith('bt-') || l.startsWith('bv')),
    tables: nftTables().filter((t) => t === 'ip berth-nat' || t === 'inet berth'),
    addresses: heldAddresses(w.dataDir, network).map((h) => `${h.address} ${h.containerId}`),
    nats: d.nats.map((n) => n.name),
    mappings: d.staticMappings.map((m) => `${m.natName} ${m.protocol} ${m.externalPort} ${m.containerId}`),
  };
}

export const NOTHING = { links: [], tables: [], addresses: [], nats: [], mappings: [] };

/** The nat state directory of a world, for tests that look at the store's files. */
export function natStoreDir(w: { runDir: string }): string {
  return join(w.runDir, 'nat');
}
