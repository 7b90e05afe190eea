/**
 * Where a main plugin gets its addresses: berth's IPAM in-process (no second process per
 * pod), or any other IPAM plugin through CNI delegation.
 */
import type { IpAddress, IpPrefix, IpWithPrefix } from '../core/ip.js';
import type { CniRequest } from './skel.js';
import type { ResultDns } from './result.js';

export interface IpamAddress {
  readonly address: IpWithPrefix;
  readonly gateway?: IpAddress;
}

export interface IpamRoute {
  readonly dst: IpPrefix;
  readonly gw?: IpAddress;
}

export interface IpamOutcome {
  readonly ips: readonly IpamAddress[];
  readonly routes: readonly IpamRoute[];
  readonly dns?: ResultDns;
}

export interface AddressSource {
  /** Allocates for (containerId, ifname); idempotent for a retried ADD. */
  add(req: CniRequest): Promise<IpamOutcome>;
  /** Releases; succeeds when nothing is held. */
  del(req: CniRequest): Promise<void>;
  /** Verifies that the allocation exists (and matches `expected` when given). */
  check(req: CniRequest, expected: readonly IpamAddress[]): Promise<void>;
  gc(req: CniRequest): Promise<void>;
  status(req: CniRequest): Promise<void>;
  /** The subnets (with gateways) this source hands out from, when it knows them. */
  subnets(req: CniRequest): readonly { subnet: IpPrefix; gateway?: IpAddress }[];
}
