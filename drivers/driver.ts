/**
 * The one interface every berth driver implements (bridge, nat, transparent, overlay,
 * l2bridge, l2tunnel). Protocol adapters (cni/, daemon/) translate a request into calls
 * on it; the driver decides what a network and an endpoint mean; dataplane/ executes.
 *
 * Guarantees every implementation gives:
 * - Idempotent: repeating an operation, or deleting what is already gone, succeeds.
 * - All or nothing: a failed create leaves nothing behind (undone in reverse order).
 * - Errors are core/errors classes; a driver never formats protocol errors.
 */
import type { IpAddress } from '../core/ip.js';
import type { AssignedAddress, Dns, DriverName, IpRange, PodIdentity, PortMapping, Route } from '../core/model.js';

/** A network as a driver receives it; `options` are the driver's own validated options. */
export interface NetworkSpec<Options> {
  readonly id: string;
  readonly name: string;
  readonly subnets: readonly IpRange[];
  readonly options: Options;
  /**
   * True when the network lives only as long as it has endpoints (CNI: created by the
   * first ADD, removed with the last DEL). False when it is created and deleted by explicit
   * calls (Docker's CreateNetwork / DeleteNetwork, `berth network create`).
   */
  readonly followsEndpoints: boolean;
}

/** The attachment key of CNI (container and interface), the endpoint of Docker. */
export interface AttachmentKey {
  readonly containerId: string;
  /** Interface name inside the sandbox. */
  readonly ifname: string;
}

/** Where an endpoint's sandbox side is, which says who configures it. */
export type EndpointPlacement =
  /** CNI: the runtime's network namespace; the driver configures the interface in it. */
  | { readonly kind: 'netns'; readonly path: string }
  /**
   * Docker: the container end waits in the host namespace; Docker moves it into the sandbox
   * after Join, renames it and puts the addresses and routes on it itself.
   */
  | { readonly kind: 'docker' }
  /** The sandbox is gone or was never named (a DEL after the netns went, GC): the host side only. */
  | { readonly kind: 'gone' };

export const GONE: EndpointPlacement = Object.freeze({ kind: 'gone' });
export const DOCKER_MANAGED: EndpointPlacement = Object.freeze({ kind: 'docker' });

/** Identifies an endpoint and where its sandbox is. */
export interface EndpointRef extends AttachmentKey {
  readonly placement: EndpointPlacement;
}

export interface EndpointSpec extends EndpointRef {
  /** The Kubernetes pod behind the attachment, when the runtime named it (policy applies to it). */
  readonly workload?: { readonly namespace: string; readonly name: string };
  readonly addresses: readonly AssignedAddress[];
  /** Routes to install in the sandbox besides the driver's own (default route etc.). */
  readonly routes: readonly Route[];
  /** Requested MAC of the sandbox interface. */
  readonly mac?: string;
  readonly portMappings?: readonly PortMapping[];
  readonly pod?: PodIdentity;
}

/** One interface an endpoint consists of, host side or sandbox side. */
export interface EndpointInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  /** Set for interfaces inside the sandbox. */
  readonly sandbox?: string;
}

export interface EndpointInfo {
  /** All interfaces, host side included, in a stable order. */
  readonly interfaces: readonly EndpointInterface[];
  /** Index into `interfaces` of the sandbox interface that holds the addresses. */
  readonly sandboxInterface: number;
  readonly addresses: readonly AssignedAddress[];
  /** Routes installed in the sandbox. */
  readonly routes: readonly Route[];
  /** The port mappings in effect, with the host ports picked for requests of port 0. */
  readonly portMappings?: readonly PortMapping[];
}

/**
 * Who gives an endpoint its addresses: `ipam`, a pool (berth-ipam, any CNI IPAM plugin,
 * Docker's IPAM) before the driver runs; `driver`, the driver itself (a DHCP lease, the
 * host's own prefix, a per-node lease), which reports them in EndpointInfo.
 */
export type Addressing = 'ipam' | 'driver';

export interface DriverCapabilities {
  readonly addressing: Addressing;
  /** Networks of this driver span hosts and need the cluster store. */
  readonly needsClusterStore: boolean;
  readonly portMappings: boolean;
  readonly ipv6: boolean;
}

/** What a sandbox gets from its network besides its addresses: decided by the driver. */
export interface JoinInfo {
  /** The default gateway per family, when the network gives one. */
  readonly gateway4?: IpAddress;
  readonly gateway6?: IpAddress;
  /** Static routes besides the default route. */
  readonly routes: readonly Route[];
  readonly dns?: Dns;
}

/** What `restore` found: the endpoint as it was, put back in working order, or gone. */
export type RestoreOutcome = 'ok' | 'reattached' | 'lost';

export interface Driver<Options> {
  readonly name: DriverName;
  readonly capabilities: DriverCapabilities;

  /** Creates (or verifies) the network's host objects. Idempotent. */
  createNetwork(net: NetworkSpec<Options>): Promise<void>;

  /** Removes the network's host objects. Succeeds when they are already gone. */
  deleteNetwork(net: NetworkSpec<Options>): Promise<void>;

  /**
   * Creates the endpoint's links and, placed in a netns, configures the sandbox side
   * (addresses, routes). With `ipam` addressing the addresses come allocated; with `driver`
   * addressing `ep.addresses` is empty and the driver reports what it gave. Creates the
   * network first when it follows its endpoints. On failure, everything made here is undone.
   */
  createEndpoint(net: NetworkSpec<Options>, ep: EndpointSpec): Promise<EndpointInfo>;

  /**
   * Removes everything the endpoint made. Succeeds when the sandbox or the links are gone.
   * Removes the network too when it follows its endpoints and this was the last one.
   */
  deleteEndpoint(net: NetworkSpec<Options>, ep: EndpointRef): Promise<void>;

  /** Verifies that the endpoint and its network are as configured; throws CheckFailedError. */
  check(net: NetworkSpec<Options>, ep: EndpointSpec): Promise<void>;

  /**
   * Removes endpoints of this network that are not in `valid` (for example after a reboot
   * or a runtime that lost track). Keeps going past errors and reports them together.
   */
  gc(net: NetworkSpec<Options>, valid: readonly AttachmentKey[]): Promise<void>;

  /**
   * What a sandbox joining the network gets (Docker's Join; CNI's result routes and DNS).
   * `sandbox`: Docker's SandboxKey, the namespace the interface moves into after Join.
   */
  join(net: NetworkSpec<Options>, ep: EndpointSpec, sandbox?: string): JoinInfo | Promise<JoinInfo>;

  /**
   * For an agent that keeps endpoints across its own restarts: puts a live endpoint back in
   * working order without disturbing it (its network exists: createNetwork runs first).
   * Creates nothing else: 'lost' means the endpoint itself is gone.
   */
  restore(net: NetworkSpec<Options>, ep: EndpointRef): Promise<RestoreOutcome>;

  /**
   * Publishes `ep.portMappings` (drivers with the `portMappings` capability), replacing what
   * the endpoint published before; returns the mappings in effect, host ports of 0 replaced
   * by the ports picked. Idempotent. PortConflictError names the holder of a taken port.
   */
  programExternalConnectivity?(net: NetworkSpec<Options>, ep: EndpointSpec): Promise<readonly PortMapping[]>;

  /** Withdraws every port mapping of the endpoint. Succeeds when there is none. */
  revokeExternalConnectivity?(net: NetworkSpec<Options>, ep: EndpointRef): Promise<void>;
}
