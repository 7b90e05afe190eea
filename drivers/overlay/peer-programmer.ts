/**
 * Executes a peer plan (peer-plan.ts) on this host's kernel: it reads the overlay's entries the
 * kernel holds (FDB and neighbours on the VXLAN device, routes berth made to the cluster
 * subnet) and changes only what differs, adds before removals, in the order the plan gives.
 * Reading the kernel every time, instead of remembering what was applied, is what makes a
 * restarted agent remove the entries of nodes that left while it was down.
 *
 * One failing entry does not stop the others: every entry is tried, the failures are
 * reported together, and the next sync tries them again.
 */
import { CheckFailedError, asBerthError } from '../../core/errors.js';
import { IpAddress, IpPrefix } from '../../core/ip.js';
import type { LinkInfo, Netlink } from '../../dataplane/linux/ports.js';
import { diffEntries, type PeerEntry, type PeerPlan, type PeerPlanDiff } from './peer-plan.js';

/**
 * The rtm_protocol of berth's overlay routes (`ip route ... proto 78`): how its routes are told
 * from everyone else's when the kernel's are read back. Not a number iproute2 gives a name.
 */
export const OVERLAY_ROUTE_PROTOCOL = 78;
const NUD_PERMANENT = 0x80;

export interface PeerTarget {
  /** The network's VXLAN device. */
  readonly device: LinkInfo;
  /** The underlay link, for routes via a peer's underlay address. */
  readonly underlay: LinkInfo;
  /** The cluster subnet: every route berth programs for peers lies inside it. */
  readonly cluster: IpPrefix;
}

export interface ApplyReport extends PeerPlanDiff {
  readonly failed: readonly string[];
}

export class PeerProgrammer {
  constructor(private readonly nl: Netlink) {}

  /** The overlay entries the kernel holds now. */
  observe(t: PeerTarget): PeerEntry[] {
    const found: PeerEntry[] = [];
    const peer = '';
    for (const f of this.nl.listFdb({ index: t.device.index })) {
      // The device's own entries have no remote; an all-zero MAC would be flooding, never ours.
      if (f.dst && f.mac !== '00:00:00:00:00:00' && f.master === undefined) found.push({ kind: 'fdb', peer, mac: f.mac, dst: f.dst.toString() });
    }
    for (const n of this.nl.listNeighbours({ index: t.device.index, family: 4 })) {
      if (n.mac && n.state & NUD_PERMANENT) found.push({ kind: 'neighbour', peer, address: n.ip.toString(), mac: n.mac });
    }
    for (const r of this.nl.listRoutes({ family: 4 })) {
      if (r.protocol !== OVERLAY_ROUTE_PROTOCOL || !r.gw || !t.cluster.contains(r.dst.network)) continue;
      const via = r.oif === t.device.index ? 'vxlan' : r.oif === t.underlay.index ? 'underlay' : undefined;
      if (via) found.push({ kind: 'route', peer, destination: r.dst.toString(), gateway: r.gw.toString(), via });
    }
    return found;
  }

  /** Brings the kernel to `plan`; throws CheckFailedError naming every entry that failed, after trying all. */
  apply(t: PeerTarget, plan: PeerPlan): ApplyReport {
    const found = this.observe(t);
    const diff = diffEntries(found, plan);
    const failed: string[] = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        failed.push(`${what}: ${asBerthError(err).message}`);
      }
    };
    const staleDst = new Map(found.filter((e) => e.kind === 'fdb').map((e) => [e.mac, e.dst]));
    for (const e of diff.add) {
      switch (e.kind) {
        case 'fdb': {
          // A VXLAN FDB holds several destinations per MAC: the old one must go, not stay beside.
          const old = staleDst.get(e.mac);
          attempt(`fdb ${e.mac} dst ${e.dst}`, () => {
            if (old !== undefined && old !== e.dst) this.nl.deleteFdb({ index: t.device.index, mac: e.mac, dst: IpAddress.parse(old), self: true });
            this.nl.appendFdb({ index: t.device.index, mac: e.mac, dst: IpAddress.parse(e.dst), self: true });
          });
          break;
        }
        case 'neighbour':
          attempt(`neighbour ${e.address}`, () => this.nl.setNeighbour({ index: t.device.index, ip: IpAddress.parse(e.address), mac: e.mac }));
          break;
        case 'route':
          attempt(`route ${e.destination}`, () => this.nl.replaceRoute(routeSpec(t, e)));
          break;
      }
    }
    for (const e of diff.remove) {
      switch (e.kind) {
        case 'fdb':
          attempt(`remove fdb ${e.mac}`, () => ignoreAbsent(() => this.nl.deleteFdb({ index: t.device.index, mac: e.mac, dst: IpAddress.parse(e.dst), self: true })));
          break;
        case 'neighbour':
          attempt(`remove neighbour ${e.address}`, () => ignoreAbsent(() => this.nl.deleteNeighbour({ index: t.device.index, ip: IpAddress.parse(e.address) })));
          break;
        case 'route':
          attempt(`remove route ${e.destination}`, () => ignoreAbsent(() => this.nl.deleteRoute({ ...routeSpec(t, e), onlink: false })));
          break;
      }
    }
    if (failed.length) throw new CheckFailedError(`overlay ${t.device.name}: ${failed.length} peer entries could not be programmed: ${failed.join('; ')}`);
    return { ...diff, failed };
  }
}

function routeSpec(t: PeerTarget, e: PeerEntry & { kind: 'route' }) {
  const vxlan = e.via === 'vxlan';
  return {
    dst: IpPrefix.parse(e.destination),
    gw: IpAddress.parse(e.gateway),
    oif: vxlan ? t.device.index : t.underlay.index,
    protocol: OVERLAY_ROUTE_PROTOCOL,
    ...(vxlan ? { onlink: true } : {}),
  };
}

function ignoreAbsent(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (asBerthError(err).code !== 'not-found') throw err;
  }
}
