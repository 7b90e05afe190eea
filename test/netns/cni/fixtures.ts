/** Conflists and per-test environments for the CNI integration tests. */
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openFileIpam } from '../../../ipam/file-ipam.js';
import { REFERENCE_PLUGINS, cniclient, installedPlugins, makeNetns, scratch, type Run } from '../../support/netns.js';

export interface World {
  readonly dir: string;
  readonly cniPath: string;
  readonly env: Record<string, string>;
  readonly dataDir: string;
  readonly cleanup: () => void;
}

/** A scratch dir with berth's plugins installed and the reference plugins on CNI_PATH. */
export function world(name: string): World {
  const s = scratch(name);
  const bin = installedPlugins(s.dir);
  return {
    dir: s.dir,
    cniPath: `${bin}:${REFERENCE_PLUGINS}`,
    env: { BERTH_RUN_DIR: join(s.dir, 'run'), BERTH_CACHE_DIR: join(s.dir, 'v8cache') },
    dataDir: join(s.dir, 'data'),
    cleanup: () => {
      // A failed test must not leave its bridges or berth's tables to the next test.
      for (const l of leftoverLinks()) spawnSync('/usr/sbin/ip', ['link', 'del', l], { stdio: 'ignore' });
      for (const t of ['inet berth', 'bridge berth', 'inet berth-passage']) spawnSync('/usr/sbin/nft', ['delete', 'table', ...t.split(' ')], { stdio: 'ignore' });
      s.cleanup();
    },
  };
}

export function berthBridge(w: World, name: string, subnet: string | string[], extra: Record<string, unknown> = {}, ipamExtra: Record<string, unknown> = {}): Record<string, unknown> {
  const subnets = Array.isArray(subnet) ? subnet : [subnet];
  return {
    type: 'berth-bridge',
    isGateway: true,
    ipMasq: true,
    ...extra,
    ipam: { type: 'berth-ipam', ranges: subnets.map((s) => [{ subnet: s }]), dataDir: w.dataDir, ...ipamExtra },
  };
}

export function conflist(name: string, plugins: Record<string, unknown>[], cniVersion = '1.0.0'): object {
  return { cniVersion, name, plugins };
}

export interface Pod {
  readonly netns: string;
  readonly path: string;
  readonly id: string;
}

export function pods(prefix: string, n: number): { pods: Pod[]; cleanup: () => void } {
  const ns = makeNetns(prefix, n);
  return { pods: ns.names.map((name, i) => ({ netns: name, path: ns.paths[i]!, id: `c-${name}` })), cleanup: ns.cleanup };
}

export function client(w: World) {
  const base = (p: Pod, conf: object, extra: { caps?: object; args?: string; ifname?: string } = {}) => ({
    conflist: conf,
    netns: p.path,
    containerId: p.id,
    cniPath: w.cniPath,
    cache: w.dir,
    env: w.env,
    ...extra,
  });
  return {
    add: (p: Pod, conf: object, extra = {}): Promise<Run> => cniclient('add', base(p, conf, extra)),
    check: (p: Pod, conf: object, extra = {}): Promise<Run> => cniclient('check', base(p, conf, extra)),
    del: (p: Pod, conf: object, extra = {}): Promise<Run> => cniclient('del', base(p, conf, extra)),
  };
}

/** The first IPv4 (or IPv6) address of a cniclient ADD result, without prefix. */
export function addressOf(r: Run, family: 4 | 6 = 4): string {
  const res = JSON.parse(r.stdout) as { ips: { address: string }[] };
  const ip = res.ips.find((i) => i.address.includes(':') === (family === 6));
  if (!ip) throw new Error(`no IPv${family} address in ${r.stdout}`);
  return ip.address.split('/')[0]!;
}

function leftoverLinks(): string[] {
  const r = spawnSync('/usr/sbin/ip', ['-j', 'link', 'show'], { encoding: 'utf8' });
  const links = JSON.parse(r.stdout || '[]') as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => n.startsWith('bt-') || n.startsWith('bv'));
}

/** What berth-ipam holds for `network` under `dataDir`, read through the IPAM API. */
export function heldAddresses(dataDir: string, network: string): { address: string; containerId: string }[] {
  return openFileIpam(dataDir)
    .list(network)
    .map((a) => ({ address: a.address.address.address.toString(), containerId: a.containerId }));
}
