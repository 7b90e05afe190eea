/**
 * What a driver's `module.ts` exports (drivers/catalog.ts loads it on first use): the driver's
 * factory and the two translations of user input into the driver's validated options, one
 * per face (a CNI network configuration, Docker's `-o key=value`).
 */
import type { Cluster } from './cluster.js';
import type { DhcpClient } from './dhcp.js';
import type { Driver, EndpointSpec, NetworkSpec } from './driver.js';
import type { HostComputeEndpoint, HostComputeNetwork, WindowsHostFacts } from '../dataplane/windows/index.js';

/** Where a driver keeps its host-local state and locks. */
export interface DriverEnv {
  /** berth's run directory (`/run/berth`): locks directly under it, state in sub-folders. */
  readonly runDir: string;
  /**
   * Wraps each host port the driver is given (its netlink, nftables, sysctl, state...) before
   * the driver sees it. The contract suite injects faults here, at every step a create takes.
   */
  readonly intercept?: HostIntercept;
  /** berthd's cluster (etcd), for drivers whose networks span hosts; absent in a plugin process. */
  readonly cluster?: Cluster;
  /** berthd's DHCP client, for drivers whose endpoints lease their address; absent in a plugin process. */
  readonly dhcp?: DhcpClient;
}

/** Gets a host port and gives back what the driver uses instead (the port itself, or a wrapper). */
export type HostIntercept = <T extends object>(port: string, impl: T) => T;

/** What a network is, as far as parsing Docker options needs to know. */
export interface OptionContext {
  /** The network's name (for defaults such as the bridge name). */
  readonly networkName: string;
  /** Docker `--internal`: the driver must not give outside connectivity. */
  readonly internal: boolean;
  /** Whether the network has a gateway address (Docker IPAM gave one, or the API set one). */
  readonly hasGateway: boolean;
  /**
   * Whether the network has a subnet at all: none when Docker's `--ipam-driver null` gave no
   * addresses (or `berth network create` named none), which only a driver leasing its
   * endpoints' addresses itself (transparent by DHCP) accepts.
   */
  readonly hasSubnet: boolean;
}

/**
 * The HCN documents a driver's network and endpoint mean on Windows (the driver decides in its
 * `windows.ts`, dataplane/windows writes the documents). Pure; what the options cannot mean on
 * Windows is refused with the option's name.
 */
export interface WindowsRendering<Options> {
  network(net: NetworkSpec<Options>, host?: WindowsHostFacts): HostComputeNetwork;
  endpoint(net: NetworkSpec<Options>, ep: EndpointSpec, host?: WindowsHostFacts): HostComputeEndpoint;
  /** The other nodes' endpoints (HCN remote endpoints) of a network shared across nodes, where the driver has any. */
  remoteEndpoints?(net: NetworkSpec<Options>, host?: WindowsHostFacts): HostComputeEndpoint[];
  /** The network as a configuration of Microsoft's Windows CNI plugins (sdnoverlay, sdnbridge), where one fits. */
  cniConfig?(net: NetworkSpec<Options>, host?: WindowsHostFacts): object;
}

export interface DriverModule<Options = unknown> {
  /** The driver wired to this host's dataplane. */
  create(env: DriverEnv): Driver<Options>;
  /**
   * A CNI network configuration (the plugin's object of a conflist, with `name` and
   * `cniVersion`) → options. Errors name the configuration's key.
   */
  cniOptions(networkName: string, conf: Readonly<Record<string, unknown>>): Options;
  /**
   * Whether the driver gives the endpoints' addresses itself for these options (a DHCP lease),
   * although the configuration has an `ipam` section naming it: the CNI adapter then runs no IPAM.
   */
  givesAddresses?(options: Options): boolean;
  /** Docker's and `berth network create`'s `-o key=value` options. */
  readonly docker: {
    /** The accepted keys, for help and error messages. */
    readonly optionKeys: readonly string[];
    /** Pure: runs again on every load of a stored network. Errors name the key. */
    parse(raw: Readonly<Record<string, string>>, ctx: OptionContext): Options;
  };
  /** The driver's meaning on Windows, when it has been rendered. */
  readonly windows?: WindowsRendering<Options>;
}
