/**
 * The topology of a lab as it is, read from the kernel: every place's links (`ip -j -d addr`
 * in its namespace), veth pairs matched across namespaces, VXLAN devices with the remote
 * VTEPs of their FDB, and the published ports berthd holds. What the SVG is drawn from.
 */
import type { LabContext } from './context.js';
import { runCommand } from './process.js';

export interface TopoIface {
  readonly name: string;
  readonly ifindex: number;
  /** veth, bridge, vxlan, macvlan, ipvlan, dummy, or device (a plain or unknown link). */
  readonly kind: string;
  readonly mac: string;
  readonly up: boolean;
  readonly addresses: readonly string[];
  /** The bridge it is a port of. */
  readonly master?: string;
  /** veth: the peer's ifindex (in its own namespace). */
  readonly peerIndex?: number;
  /** veth whose peer is in another namespace: that namespace's id here (link-netnsid)... */
  readonly peerNetnsid?: number;
  /** ...and its `ip netns` name, when it has one. */
  readonly peerNetnsName?: string;
  /** vxlan: VNI, local VTEP and UDP port. */
  readonly vni?: number;
  readonly local?: string;
  readonly port?: number;
  /** vxlan: the remote VTEPs in its FDB. */
  readonly remotes?: readonly string[];
}

export interface TopoNode {
  readonly name: string;
  readonly kind: 'host' | 'external' | 'fabric' | 'container';
  /** A container's host. */
  readonly host?: string;
  /** Its namespace's `ip netns` name, when it has one. */
  readonly netnsName?: string;
  readonly ifaces: readonly TopoIface[];
}

/** A veth pair: node/iface at each end. */
export interface TopoLink {
  readonly a: { readonly node: string; readonly iface: string };
  readonly b: { readonly node: string; readonly iface: string };
}

export interface TopoPort {
  readonly host: string;
  readonly protocol: string;
  readonly externalAddress: string;
  readonly externalPort: number;
  readonly internalAddress: string;
  readonly internalPort: number;
}

export interface Topology {
  readonly lab: string;
  readonly nodes: readonly TopoNode[];
  readonly links: readonly TopoLink[];
  readonly ports: readonly TopoPort[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  address?: string;
  link_index?: number;
  link_netnsid?: number;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number } };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** The links of the namespace at `netnsPath`, loopback left out. */
export async function readIfaces(netnsPath: string): Promise<TopoIface[]> {
  const r = await runCommand(['nsenter', `--net=${netnsPath}`, '--', 'ip', '-j', '-d', 'addr', 'show']);
  if (r.code !== 0) throw new Error(`ip addr in ${netnsPath}: ${r.stderr.trim()}`);
  const links = JSON.parse(r.stdout || '[]') as IpLink[];
  const names = await netnsNames(netnsPath);
  const out: TopoIface[] = [];
  for (const l of links) {
    if (l.ifname === 'lo') continue;
    const kind = l.linkinfo?.info_kind ?? 'device';
    const data = l.linkinfo?.info_data;
    const remotes = kind === 'vxlan' ? await vxlanRemotes(netnsPath, l.ifname) : undefined;
    out.push({
      name: l.ifname,
      ifindex: l.ifindex,
      kind,
      mac: l.address ?? '',
      up: (l.flags ?? []).includes('UP'),
      addresses: (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`),
      ...(l.master ? { master: l.master } : {}),
      ...(kind === 'veth' && l.link_index !== undefined ? { peerIndex: l.link_index } : {}),
      ...(kind === 'veth' && l.link_netnsid !== undefined ? { peerNetnsid: l.link_netnsid, ...(names.has(l.link_netnsid) ? { peerNetnsName: names.get(l.link_netnsid)! } : {}) } : {}),
      ...(kind === 'vxlan' && data ? { vni: data.id, local: data.local, port: data.port } : {}),
      ...(remotes ? { remotes } : {}),
    });
  }
  return out;
}

/** The `ip netns` names of the namespaces the one at `netnsPath` has ids for, by id. */
async function netnsNames(netnsPath: string): Promise<Map<number, string>> {
  const r = await runCommand(['nsenter', `--net=${netnsPath}`, '--', 'ip', '-j', 'netns', 'list-id']);
  if (r.code !== 0) return new Map();
  const ids = JSON.parse(r.stdout || '[]') as { nsid: number; name?: string }[];
  return new Map(ids.filter((i) => i.name).map((i) => [i.nsid, i.name!]));
}

async function vxlanRemotes(netnsPath: string, dev: string): Promise<string[]> {
  const r = await runCommand(['nsenter', `--net=${netnsPath}`, '--', 'bridge', '-j', 'fdb', 'show', 'dev', dev]);
  if (r.code !== 0) return [];
  const entries = JSON.parse(r.stdout || '[]') as { dst?: string }[];
  return [...new Set(entries.map((e) => e.dst).filter((d): d is string => !!d))].sort();
}

/**
 * veth pairs across nodes: a veth whose peer index is another node's veth whose peer index is
 * this one. Index pairs are matched in both directions, and where an end names the namespace
 * of its peer (its `ip netns` name, or that it has none) the other end's node must be that
 * one: namespaces of one kind (hosts, pods) hold the same indexes.
 */
export function pairVeths(nodes: readonly TopoNode[]): TopoLink[] {
  const links: TopoLink[] = [];
  const seen = new Set<string>();
  for (const n of nodes) {
    for (const i of n.ifaces) {
      if (i.kind !== 'veth' || i.peerIndex === undefined) continue;
      for (const m of nodes) {
        if (m === n) continue;
        const peer = m.ifaces.find((j) => j.kind === 'veth' && j.ifindex === i.peerIndex && j.peerIndex === i.ifindex && peerIn(i, m) && peerIn(j, n));
        if (!peer) continue;
        const key = [`${n.name}/${i.name}`, `${m.name}/${peer.name}`].sort().join('|');
        if (seen.has(key)) continue;
        seen.add(key);
        links.push({ a: { node: n.name, iface: i.name }, b: { node: m.name, iface: peer.name } });
      }
    }
  }
  return links;
}

/** Whether the peer of `i` may be in `node`: nothing says otherwise. */
function peerIn(i: TopoIface, node: TopoNode): boolean {
  return i.peerNetnsid === undefined || (i.peerNetnsName ?? '') === (node.netnsName ?? '');
}

/** Reads the lab's topology now: every place it registered, and the ports `ports` answers. */
export async function captureTopology(ctx: LabContext, ports: () => Promise<TopoPort[]> = async () => []): Promise<Topology> {
  const nodes: TopoNode[] = [];
  for (const place of ctx.places) {
    const netns = place.kind === 'host' ? place.netns : await place.netns();
    if (!netns) continue;
    const ifaces = await readIfaces(netns);
    const named = /^\/run\/netns\/([^/]+)$/.exec(netns)?.[1];
    const netnsName = named ? { netnsName: named } : {};
    nodes.push(place.kind === 'host' ? { name: place.name, kind: place.role, ...netnsName, ifaces } : { name: place.name, kind: 'container', host: place.host, ...netnsName, ifaces });
  }
  return { lab: ctx.name, nodes, links: pairVeths(nodes), ports: await ports() };
}
