/**
 * `Netlink` over one rtnetlink socket. The socket was opened in some network namespace and
 * stays bound to it, so every call acts there without switching (see netns.ts).
 */
import { KernelError, NotFoundError } from '../../../core/errors.js';
import { EOPNOTSUPP } from '../kernel-error.js';
import type { IpAddress, IpFamily, IpWithPrefix } from '../../../core/ip.js';
import type {
  AddressInfo,
  AddressOptions,
  BridgePortFlags,
  FdbInfo,
  FdbSpec,
  LinkChange,
  LinkInfo,
  LinkSpec,
  NeighbourInfo,
  NeighbourSpec,
  Netlink,
  ProxyNeighbourSpec,
  RouteInfo,
  RouteSpec,
} from '../ports.js';
import { addAddressRequest, decodeAddress, deleteAddressRequest, describeAddress, listAddressesRequest } from './addresses.js';
import {
  addLinkRequest,
  decodeLink,
  deleteLinkRequest,
  describeAddLink,
  describeSetBridgePort,
  describeSetLink,
  getLinkRequest,
  isValidLinkName,
  listLinksRequest,
  setBridgePortRequest,
  setLinkRequest,
} from './links.js';
import {
  appendFdbRequest,
  decodeFdb,
  decodeNeighbour,
  deleteFdbRequest,
  deleteNeighbourRequest,
  describeFdb,
  describeNeighbour,
  listFdbRequest,
  listNeighboursRequest,
  setNeighbourRequest,
} from './neighbours.js';
import { decodeRoute, describeRoute, listRoutesRequest, routeMatches, routeRequest } from './routes.js';
import type { NetlinkSocket } from './socket.js';

/** Lists of what belongs to a device that does not exist are empty, not errors. */
function emptyIfMissing<T>(list: () => T[]): T[] {
  try {
    return list();
  } catch (err) {
    if (err instanceof NotFoundError) return [];
    throw err;
  }
}

export class NetlinkHandle implements Netlink {
  readonly #sock: NetlinkSocket;

  constructor(sock: NetlinkSocket) {
    this.#sock = sock;
  }

  /**
   * A device's name for error messages, looked up only when a message is being built;
   * `#12` when it cannot be found (it may be gone, or live in another namespace).
   */
  readonly #nameOf = (index: number): string => {
    try {
      const name = this.getLinkByIndex(index)?.name;
      if (name) return name;
    } catch {
      // fall through: the message is still useful with the index
    }
    return `#${index}`;
  };

  /**
   * Dump filters travel in the request and the kernel applies them under
   * NETLINK_GET_STRICT_CHK (Linux 4.20+); older kernels ignore them and get filtered here.
   */
  #fallbackFilter<T>(list: T[], keep: (item: T) => boolean): T[] {
    return this.#sock.strictDumps ? list : list.filter(keep);
  }

  /** `ip link show NAME`; undefined when there is no such link (or the name could not be one). */
  getLink(name: string): LinkInfo | undefined {
    if (!isValidLinkName(name)) return undefined;
    try {
      return this.#sock.get(getLinkRequest({ name }), () => ({ action: `get link "${name}"`, command: `ip link show ${name}` }), decodeLink);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** `ip link show` of one ifindex; undefined when there is no such link. */
  getLinkByIndex(index: number): LinkInfo | undefined {
    if (!Number.isInteger(index) || index <= 0) return undefined;
    try {
      return this.#sock.get(getLinkRequest({ index }), () => ({ action: `get link #${index}`, command: `ip link show index ${index}` }), decodeLink);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** `ip -d link show [master M]`; the master filter is applied by the kernel. */
  listLinks(filter: { readonly master?: number } = {}): LinkInfo[] {
    const links = this.#sock.dump(
      listLinksRequest(filter),
      () => ({ action: 'list links', command: `ip link show${filter.master !== undefined ? ` master ${this.#nameOf(filter.master)}` : ''}` }),
      decodeLink,
    );
    return this.#fallbackFilter(links, (l) => !filter.master || l.master === filter.master);
  }

  /**
   * `ip link add ...`; AlreadyExistsError when the name is taken, KernelError naming the
   * kind when the kernel lacks it (no module can be loaded on some hosts).
   */
  addLink(spec: LinkSpec): void {
    const request = addLinkRequest(spec);
    const describe = () => describeAddLink(spec, this.#nameOf);
    try {
      this.#sock.execute(request, describe);
    } catch (err) {
      if (err instanceof KernelError && err.fields.errno === EOPNOTSUPP && /unknown device type/i.test(err.fields.details ?? '')) {
        const op = describe();
        throw new KernelError(`Cannot ${op.action} (${op.command}): this kernel has no "${spec.kind}" link support (${err.fields.details})`, err.fields, { cause: err });
      }
      throw err;
    }
  }

  /** `ip link del DEV`; NotFoundError when absent. Deleting one end of a veth removes both. */
  deleteLink(index: number): void {
    this.#sock.execute(deleteLinkRequest(index), () => {
      const dev = this.#nameOf(index);
      return { action: `delete link ${dev}`, command: `ip link del dev ${dev}`, removes: true };
    });
  }

  /** `ip link set dev DEV [netns] [name] [mtu] [address] [master|nomaster] [promisc] [up|down]`, applied in one request. */
  setLink(index: number, change: LinkChange): void {
    this.#sock.execute(setLinkRequest(index, change), () => describeSetLink(this.#nameOf(index), change, this.#nameOf));
  }

  /** `bridge link set dev DEV hairpin|isolated|learning|neigh_suppress on|off`. */
  setBridgePort(index: number, flags: BridgePortFlags): void {
    this.#sock.execute(setBridgePortRequest(index, flags), () => describeSetBridgePort(this.#nameOf(index), flags));
  }

  /** `ip addr add ADDR dev DEV [nodad]`; AlreadyExistsError when present. */
  addAddress(index: number, address: IpWithPrefix, opts: AddressOptions = {}): void {
    this.#sock.execute(addAddressRequest(index, address, opts), () => describeAddress('add', this.#nameOf(index), address, opts));
  }

  /** `ip addr del ADDR dev DEV`; NotFoundError when absent. */
  deleteAddress(index: number, address: IpWithPrefix): void {
    this.#sock.execute(deleteAddressRequest(index, address), () => describeAddress('del', this.#nameOf(index), address));
  }

  /** `ip addr show [dev DEV]`; empty for a device that does not exist. */
  listAddresses(filter: { readonly index?: number; readonly family?: IpFamily } = {}): AddressInfo[] {
    const list = emptyIfMissing(() =>
      this.#sock.dump(
        listAddressesRequest(filter),
        () => ({ action: 'list addresses', command: `ip addr show${filter.index !== undefined ? ` dev ${this.#nameOf(filter.index)}` : ''}` }),
        decodeAddress,
      ),
    );
    return this.#fallbackFilter(list, (a) => (filter.index === undefined || a.index === filter.index) && (filter.family === undefined || a.address.address.family === filter.family));
  }

  /** `ip route add ...`; AlreadyExistsError when present. */
  addRoute(route: RouteSpec): void {
    this.#sock.execute(routeRequest('add', route), () => describeRoute('add', route, this.#nameOf));
  }

  /** `ip route replace ...`. */
  replaceRoute(route: RouteSpec): void {
    this.#sock.execute(routeRequest('replace', route), () => describeRoute('replace', route, this.#nameOf));
  }

  /** `ip route del ...`; NotFoundError when absent. Unset fields match any route. */
  deleteRoute(route: RouteSpec): void {
    this.#sock.execute(routeRequest('del', route), () => describeRoute('del', route, this.#nameOf));
  }

  /** `ip route show [table T] [dev D]`: main table by default, every table for 0; empty for a missing table or device. */
  listRoutes(filter: { readonly family?: IpFamily; readonly table?: number; readonly oif?: number } = {}): RouteInfo[] {
    const list = emptyIfMissing(() =>
      this.#sock.dump(
        listRoutesRequest(filter),
        () => ({
          action: 'list routes',
          command: `ip route show table ${filter.table === 0 ? 'all' : (filter.table ?? 'main')}${filter.oif !== undefined ? ` dev ${this.#nameOf(filter.oif)}` : ''}`,
        }),
        decodeRoute,
      ),
    );
    return this.#fallbackFilter(list, (r) => routeMatches(r, filter));
  }

  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent` (or the given state); `ip neigh replace proxy IP dev DEV`. */
  setNeighbour(neigh: NeighbourSpec | ProxyNeighbourSpec): void {
    this.#sock.execute(setNeighbourRequest(neigh), () => describeNeighbour('replace', this.#nameOf(neigh.index), neigh));
  }

  /** `ip neigh del [proxy] IP dev DEV`; NotFoundError when absent. */
  deleteNeighbour(neigh: { readonly index: number; readonly ip: IpAddress; readonly proxy?: boolean }): void {
    this.#sock.execute(deleteNeighbourRequest(neigh), () => describeNeighbour('del', this.#nameOf(neigh.index), neigh));
  }

  /** `ip neigh show [proxy] [dev DEV]`; empty for a device that does not exist. */
  listNeighbours(filter: { readonly index?: number; readonly family?: IpFamily; readonly proxy?: boolean } = {}): NeighbourInfo[] {
    const list = emptyIfMissing(() =>
      this.#sock.dump(
        listNeighboursRequest(filter),
        () => ({ action: 'list neighbours', command: `ip neigh show${filter.proxy ? ' proxy' : ''}${filter.index !== undefined ? ` dev ${this.#nameOf(filter.index)}` : ''}` }),
        decodeNeighbour,
      ),
    );
    return this.#fallbackFilter(list, (n) => (filter.index === undefined || n.index === filter.index) && (filter.family === undefined || n.ip.family === filter.family));
  }

  /** `bridge fdb append MAC dev DEV [dst IP] self|master permanent`. */
  appendFdb(entry: FdbSpec): void {
    this.#sock.execute(appendFdbRequest(entry), () => describeFdb('append', this.#nameOf(entry.index), entry));
  }

  /**
   * `bridge fdb del MAC dev DEV [dst IP] self|master`; NotFoundError when absent. One kernel
   * quirk: for a VXLAN device whose MAC entry exists, removing a `dst` it does not have
   * succeeds silently (vxlan_fdb_delete returns 0).
   */
  deleteFdb(entry: FdbSpec): void {
    this.#sock.execute(deleteFdbRequest(entry), () => describeFdb('del', this.#nameOf(entry.index), entry));
  }

  /** `bridge fdb show [dev DEV] [br MASTER]`; empty for a device that does not exist. */
  listFdb(filter: { readonly index?: number; readonly master?: number } = {}): FdbInfo[] {
    const list = emptyIfMissing(() =>
      this.#sock.dump(
        listFdbRequest(filter),
        () => ({
          action: 'list forwarding entries',
          command: `bridge fdb show${filter.index !== undefined ? ` dev ${this.#nameOf(filter.index)}` : ''}${filter.master !== undefined ? ` br ${this.#nameOf(filter.master)}` : ''}`,
        }),
        decodeFdb,
      ),
    );
    return this.#fallbackFilter(list, (f) => (filter.index === undefined || f.index === filter.index) && (filter.master === undefined || f.master === filter.master));
  }

  /** Closes the socket. */
  close(): void {
    this.#sock.close();
  }
}
