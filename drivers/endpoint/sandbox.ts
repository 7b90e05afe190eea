/**
 * The sandbox half of an endpoint, the same for every driver whose interface lands in a
 * container's network namespace: its addresses, routes and sysctls, the routes it gets, the
 * sandbox half of CHECK, and the removal of its interface.
 */
import { AlreadyExistsError, CheckFailedError, asBerthError } from '../../core/errors.js';
import { IpPrefix } from '../../core/ip.js';
import type { AssignedAddress, Route } from '../../core/model.js';
import { deleteLinkIgnoringAbsent, mustGetLink } from './links.js';
import type { SandboxHost } from './sandbox-host.js';

/** The sandbox interface as configured: what the CNI result and EndpointInfo report. */
export interface SandboxInterface {
  readonly mac?: string;
  readonly mtu: number;
  readonly routes: Route[];
}

export interface SandboxSettings {
  readonly addresses: readonly AssignedAddress[];
  readonly routes: readonly Route[];
  /** Wait for IPv6 duplicate address detection (off by default: IPAM guarantees uniqueness). */
  readonly enableDad?: boolean;
  /** Leave the interface unaddressed (the reference bridge's disableContainerInterface). */
  readonly unaddressed?: boolean;
  /** No route to the addresses' subnets through the interface: everything goes by `routes` (a routed endpoint). */
  readonly noPrefixRoute?: boolean;
}

/**
 * The routes an endpoint gets: the requested ones, their gateway defaulted per family, and a
 * default route per family through the addresses' gateway when `defaultGateway`.
 */
export function sandboxRoutes(addresses: readonly AssignedAddress[], requested: readonly Route[], defaultGateway: boolean): Route[] {
  const gwOf = (family: 4 | 6) => addresses.find((a) => a.address.address.family === family && a.gateway)?.gateway;
  const routes: Route[] = [];
  for (const r of requested) {
    const gw = r.gw ?? gwOf(r.dst.family);
    routes.push({ ...r, ...(gw ? { gw } : {}) });
  }
  if (defaultGateway) {
    for (const fam of [4, 6] as const) {
      const gw = gwOf(fam);
      if (!gw || routes.some((r) => r.dst.family === fam && r.dst.length === 0)) continue;
      routes.push({ dst: IpPrefix.parse(fam === 4 ? '0.0.0.0/0' : '::/0'), gw });
    }
  }
  return routes;
}

/** Configures the interface `ifname` that exists in the sandbox at `path`. Idempotent. */
export function configureSandbox(host: SandboxHost, path: string, ifname: string, s: SandboxSettings): SandboxInterface {
  const snl = host.sandboxNetlink(path);
  try {
    const link = mustGetLink(snl, ifname);
    const mac = link.mac ? { mac: link.mac } : {};
    if (s.unaddressed) return { ...mac, mtu: link.mtu, routes: [] };
    const hasV6 = s.addresses.some((a) => a.address.address.family === 6);
    // Sysctls under /proc/sys/net resolve in the namespace of the thread that opens them.
    host.inNetns(path, () => {
      if (hasV6) {
        host.sysctl.write(`net/ipv6/conf/${ifname}/disable_ipv6`, '0');
        // IPAM guarantees uniqueness; waiting for DAD would cost seconds per pod.
        if (!s.enableDad) host.sysctl.write(`net/ipv6/conf/${ifname}/accept_dad`, '0');
      }
      host.sysctl.write(`net/ipv4/conf/${ifname}/arp_notify`, '1');
    });
    for (const a of s.addresses) {
      try {
        snl.addAddress(link.index, a.address, { noDad: !s.enableDad, ...(s.noPrefixRoute ? { noPrefixRoute: true } : {}) });
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    snl.setLink(link.index, { up: true });
    for (const r of s.routes) {
      const { dst, gw, priority, table, scope, mtu, advmss } = r;
      const spec = {
        dst,
        oif: link.index,
        ...(gw ? { gw } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(table !== undefined ? { table } : {}),
        ...(scope !== undefined ? { scope } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        ...(advmss !== undefined ? { advmss } : {}),
      };
      try {
        snl.addRoute(spec);
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    return { ...mac, mtu: link.mtu, routes: [...s.routes] };
  } finally {
    snl.close();
  }
}

/** The sandbox half of CHECK: the interface, its MAC, addresses and routes. */
export function checkSandbox(host: SandboxHost, path: string, ifname: string, want: SandboxSettings & { readonly mac?: string }): void {
  const snl = host.sandboxNetlink(path);
  try {
    const l = snl.getLink(ifname);
    if (!l) throw new CheckFailedError(`interface ${ifname} does not exist in ${path}`);
    if (want.mac && l.mac !== want.mac.toLowerCase()) throw new CheckFailedError(`interface ${ifname} has MAC ${l.mac}, expected ${want.mac}`);
    if (want.unaddressed) return;
    const have = new Set(snl.listAddresses({ index: l.index }).map((a) => `${a.address.address}/${a.address.length}`));
    for (const a of want.addresses) {
      const text = `${a.address.address}/${a.address.length}`;
      if (!have.has(text)) throw new CheckFailedError(`interface ${ifname} in ${path} lacks address ${text}`);
    }
    const routes = snl.listRoutes({});
    for (const r of want.routes) {
      const found = routes.some((x) => x.dst.toString() === r.dst.toString() && (!r.gw || x.gw?.toString() === r.gw.toString()));
      if (!found) throw new CheckFailedError(`route to ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is missing in ${path}`);
    }
  } finally {
    snl.close();
  }
}

/**
 * Removes the sandbox interface `ifname` when it is of `kind` (only a link the driver made is
 * its to delete). Succeeds when the sandbox or the interface is gone.
 */
export function removeSandboxLink(host: SandboxHost, path: string, ifname: string, kind: string): void {
  if (!host.netnsExists(path)) return;
  try {
    const snl = host.sandboxNetlink(path);
    try {
      const l = snl.getLink(ifname);
      if (l && l.kind === kind) deleteLinkIgnoringAbsent(snl, l.index);
    } finally {
      snl.close();
    }
  } catch (err) {
    if (asBerthError(err).code !== 'netns-not-found') throw err;
  }
}
