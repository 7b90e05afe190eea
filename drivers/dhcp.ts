/**
 * What a driver whose endpoints take their address from the network's own DHCP server
 * (transparent) asks of berth's DHCP client. The client runs in berthd, which keeps renewing
 * every lease (T1 renewing, T2 rebinding) and keeps them across its own restarts; a plugin
 * process has none, and such a driver then refuses DHCP with a try-again error.
 */
import type { IpAddress, IpWithPrefix } from '../core/ip.js';
import type { Dns, Route } from '../core/model.js';

/** One endpoint's lease: what goes on its interface and into the CNI result. */
export interface DhcpLease {
  /** The address with the subnet mask's length (option 1). */
  readonly address: IpWithPrefix;
  /** The default router: of the classless default route (option 121) when there is one, else the first router (option 3). */
  readonly gateway?: IpAddress;
  /** Classless static routes (option 121; on-link ones without a gateway), else none: the default route goes via `gateway`. */
  readonly routes: readonly Route[];
  readonly dns?: Dns;
  /** The server that granted the lease (option 54). */
  readonly server: IpAddress;
  /** ISO 8601 times: granted, renew (T1), rebind (T2), expiry. */
  readonly obtainedAt: string;
  readonly renewAt: string;
  readonly rebindAt: string;
  readonly expiresAt: string;
}

export interface DhcpRequest {
  /** Identifies the lease across restarts, and is the client identifier the server sees. */
  readonly key: string;
  /** The endpoint's network namespace, where every packet is sent from. */
  readonly netnsPath: string;
  /** The endpoint's interface inside it (up, not yet addressed). */
  readonly ifname: string;
  readonly mac: string;
  /** Option 12, when the runtime names the pod. */
  readonly hostname?: string;
}

export interface DhcpClient {
  /**
   * DISCOVER, OFFER, REQUEST, ACK from inside the namespace, then the lease is persisted and
   * renewed until released. Idempotent: a key holding a valid lease gets it back. Rejects with
   * a TryAgainError naming the interface when no server answers within the client's timeout.
   */
  acquire(req: DhcpRequest): Promise<DhcpLease>;
  /** The lease held for `key`, if any (CHECK). */
  lease(key: string): DhcpLease | undefined;
  /**
   * The endpoint's interface moved to another namespace (Docker moves it into the sandbox after
   * Join): renewals and the release follow it there, finding it by its MAC when renamed.
   */
  follow(key: string, netnsPath: string): Promise<void>;
  /** DHCPRELEASE while the namespace exists, then forget the lease. Unknown key: success. */
  release(key: string): Promise<void>;
}
