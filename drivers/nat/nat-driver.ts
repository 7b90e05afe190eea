/**
 * The nat driver: the bridge driver's network (bridge, veth per endpoint, gateway on the
 * bridge) plus one WinNAT instance per network, which masquerades the network's IPv4 subnet
 * behind the host's addresses and publishes the endpoints' port mappings.
 *
 * Composition, not a copy: every link operation is the bridge driver's. What this adds is
 * the NAT instance's life: created with the network (or, for networks that follow their
 * endpoints, with the first endpoint, in the same change as its mappings), removed with it,
 * and for endpoint-following networks removed when the bridge is found gone under WinNAT's
 * lock, so a concurrent first ADD that re-creates the bridge keeps its instance.
 */
import { CheckFailedError, InvalidConfigError, asBerthError } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import type { IpAddress } from '../../core/ip.js';
import type { PortMapping } from '../../core/model.js';
import type { MappingOwner, MappingRequest, NatInstanceSpec, NatProtocol, StaticMapping, WinNat } from '../../winnat/index.js';
import type { BridgeDriver } from '../bridge/index.js';
import { NAT_CAPABILITIES } from './capabilities.js';
import type { AttachmentKey, Driver, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../driver.js';
import { BestEffort } from '../best-effort.js';
import { Rollback } from '../rollback.js';
import type { NatOptions } from './nat-options.js';

type NatNetwork = NetworkSpec<NatOptions>;

export interface NatDriverDeps {
  /** The bridge driver that owns the links. */
  readonly bridge: BridgeDriver;
  readonly winnat: WinNat;
  /** Whether a link of this name exists in the host's namespace. */
  readonly linkExists: (name: string) => boolean;
}

/** The nat driver (see the file's header); build it with createLinuxNatDriver. */
export class NatDriver implements Driver<NatOptions> {
  readonly name = 'nat' as const;
  readonly capabilities = NAT_CAPABILITIES;

  constructor(private readonly deps: NatDriverDeps) {}

  async createNetwork(net: NatNetwork): Promise<void> {
    const spec = instanceOf(net);
    const existed = this.deps.linkExists(net.options.bridge.bridge);
    await new Rollback().run(async (rb) => {
      await this.deps.bridge.createNetwork(bridgeNetwork(net));
      if (!existed) rb.push(`remove bridge ${net.options.bridge.bridge}`, () => this.deps.bridge.deleteNetwork(bridgeNetwork(net)));
      this.deps.winnat.ensureInstance(spec);
    });
  }

  async deleteNetwork(net: NatNetwork): Promise<void> {
    // The instance first: published ports stop before their containers' links go.
    this.deps.winnat.removeInstance(net.name);
    await this.deps.bridge.deleteNetwork(bridgeNetwork(net));
  }

  async createEndpoint(net: NatNetwork, ep: EndpointSpec): Promise<EndpointInfo> {
    const spec = instanceOf(net);
    const owner = ownerOf(ep);
    const requests = mappingRequests(spec, ep);
    // Refuse a taken port before any link exists; the change below decides for real.
    this.deps.winnat.precheck(spec, owner, requests);
    mark('nat-precheck');
    return new Rollback().run(async (rb) => {
      const info = await this.deps.bridge.createEndpoint(bridgeNetwork(net), ep);
      rb.push(`remove endpoint of ${ep.containerId}`, () => this.deleteEndpoint(net, ep));
      const mappings = this.deps.winnat.setStaticMappings(spec, owner, requests);
      mark('nat-publish');
      return { ...info, portMappings: mappings.map(toPortMapping) };
    });
  }

  async deleteEndpoint(net: NatNetwork, ep: EndpointRef): Promise<void> {
    // Best effort on every part: the mappings are released even when the links are gone.
    const parts = new BestEffort();
    await parts.attempt(() => this.deps.winnat.removeStaticMappings(net.name, ownerOf(ep)));
    mark('nat-unpublish');
    await parts.attempt(() => this.deps.bridge.deleteEndpoint(bridgeNetwork(net), ep));
    if (net.followsEndpoints) await parts.attempt(() => this.removeInstanceIfUnused(net));
    mark('nat-instance');
    parts.done();
  }

  async check(net: NatNetwork, ep: EndpointSpec): Promise<void> {
    await this.deps.bridge.check(bridgeNetwork(net), ep);
    const owner = ownerOf(ep);
    this.deps.winnat.verify(net.name, owner);
    const held = this.deps.winnat.staticMappingsOf(net.name, owner);
    const wanted = ep.portMappings ?? [];
    for (const w of wanted) {
      const found = held.some(
        (h) => h.protocol === w.protocol && h.internalPort === w.containerPort && (w.hostPort === 0 ? h.ephemeral : h.externalPort === w.hostPort) && sameHostIp(h.externalAddress, w.hostIp),
      );
      if (!found) throw new CheckFailedError(`port mapping ${w.protocol} ${w.hostIp ?? '0.0.0.0'}:${w.hostPort} -> ${w.containerPort} of container ${ep.containerId} is not published`);
    }
    if (held.length > wanted.length) throw new CheckFailedError(`container ${ep.containerId} publishes ${held.length} port mappings, ${wanted.length} expected`);
  }

  /** The bridge's: its address is the NAT instance's internal address and the containers' gateway. */
  join(net: NatNetwork): JoinInfo {
    return this.deps.bridge.join(bridgeNetwork(net));
  }

  async gc(net: NatNetwork, valid: readonly AttachmentKey[]): Promise<void> {
    const keep = new Set(valid.map((v) => ownerKey(ownerOf(v))));
    const errors: string[] = [];
    try {
      this.deps.winnat.retainStaticMappings(net.name, (o) => keep.has(ownerKey(o)));
    } catch (err) {
      errors.push(asBerthError(err).message);
    }
    try {
      await this.deps.bridge.gc(bridgeNetwork(net), valid);
    } catch (err) {
      errors.push(asBerthError(err).message);
    }
    if (net.followsEndpoints) {
      try {
        this.removeInstanceIfUnused(net);
      } catch (err) {
        errors.push(asBerthError(err).message);
      }
    }
    if (errors.length) throw new CheckFailedError(`GC of network ${net.name} is incomplete: ${errors.join('; ')}`);
  }

  async programExternalConnectivity(net: NatNetwork, ep: EndpointSpec): Promise<readonly PortMapping[]> {
    const spec = instanceOf(net);
    return this.deps.winnat.setStaticMappings(spec, ownerOf(ep), mappingRequests(spec, ep)).map(toPortMapping);
  }

  async revokeExternalConnectivity(net: NatNetwork, ep: EndpointRef): Promise<void> {
    this.deps.winnat.removeStaticMappings(net.name, ownerOf(ep));
  }

  /**
   * For an agent that keeps endpoints across its own restarts (berthd): the bridge driver
   * puts the endpoint's host veth back on the bridge. The NAT rules need nothing per
   * endpoint here: createNetwork and programExternalConnectivity restore them.
   */
  async restore(net: NatNetwork, ep: EndpointRef): Promise<RestoreOutcome> {
    return this.deps.bridge.restore(bridgeNetwork(net), ep);
  }

  /** The instance goes when the bridge has gone (its last endpoint did), decided under WinNAT's lock. */
  private removeInstanceIfUnused(net: NatNetwork): void {
    const bridge = net.options.bridge.bridge;
    if (this.deps.linkExists(bridge)) return;
    this.deps.winnat.removeInstance(net.name, { onlyIf: () => !this.deps.linkExists(bridge) });
  }
}

function bridgeNetwork(net: NatNetwork): NetworkSpec<NatOptions['bridge']> {
  return { ...net, options: net.options.bridge };
}

/** The network's NAT instance: its one IPv4 subnet behind its bridge. */
export function instanceOf(net: NatNetwork): NatInstanceSpec {
  const v6 = net.subnets.find((s) => s.subnet.family === 6);
  if (v6) throw new InvalidConfigError(`nat network ${net.name} cannot have the IPv6 subnet ${v6.subnet}: WinNAT translates IPv4 only`, { field: 'subnet', value: v6.subnet.toString() });
  const v4 = net.subnets.filter((s) => s.subnet.family === 4);
  if (v4.length !== 1) {
    throw new InvalidConfigError(`nat network ${net.name} needs exactly one IPv4 subnet (it has ${v4.length ? v4.map((s) => s.subnet.toString()).join(', ') : 'none'})`, { field: 'subnet' });
  }
  return { name: net.name, internalPrefix: v4[0]!.subnet, internalInterface: net.options.bridge.bridge, loopback: net.options.loopback };
}

function ownerOf(ep: AttachmentKey): MappingOwner {
  return { containerId: ep.containerId, endpoint: ep.ifname };
}

function ownerKey(o: MappingOwner): string {
  return `${o.containerId}\0${o.endpoint}`;
}

export function mappingRequests(spec: NatInstanceSpec, ep: EndpointSpec): MappingRequest[] {
  const wanted = ep.portMappings ?? [];
  if (wanted.length === 0) return [];
  const internal = ep.addresses.find((a) => spec.internalPrefix.contains(a.address.address))?.address.address;
  if (!internal) throw new InvalidConfigError(`Cannot publish ports of container ${ep.containerId}: it has no address in ${spec.internalPrefix}`, { field: 'portMappings' });
  return wanted.map((pm) => ({
    protocol: pm.protocol as NatProtocol,
    ...(pm.hostIp ? { externalAddress: pm.hostIp } : {}),
    externalPort: pm.hostPort,
    ...(pm.hostPortEnd !== undefined ? { externalPortEnd: pm.hostPortEnd } : {}),
    internalAddress: internal,
    internalPort: pm.containerPort,
  }));
}

function toPortMapping(m: StaticMapping): PortMapping {
  return {
    protocol: m.protocol,
    ...(m.externalAddress ? { hostIp: m.externalAddress } : {}),
    hostPort: m.externalPort,
    ...(m.externalPortEnd !== m.externalPort ? { hostPortEnd: m.externalPortEnd } : {}),
    containerPort: m.internalPort,
  };
}

function sameHostIp(a: IpAddress | undefined, b: IpAddress | undefined): boolean {
  const any = (x: IpAddress | undefined) => x === undefined || x.value === 0n;
  return any(a) ? any(b) : b !== undefined && a!.equals(b);
}
