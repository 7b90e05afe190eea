/**
 * berth's IPAM as an AddressSource, run in-process: no second process per pod.
 */
import { CheckFailedError, NotAvailableError } from '../core/errors.js';
import type { IpAddress, IpPrefix } from '../core/ip.js';
import { parseIpamConfig, type IpamConfig } from '../ipam/config.js';
import { openFileIpam } from '../ipam/file-ipam.js';
import type { IpamSync } from '../ipam/allocator.js';
import type { AddressSource, IpamAddress, IpamOutcome } from './ipam-source.js';
import type { CniRequest } from './skel.js';

export class BerthIpam implements AddressSource {
  private cached: { config: IpamConfig; ipam: IpamSync } | undefined;

  private open(req: CniRequest): { config: IpamConfig; ipam: IpamSync } {
    if (this.cached) return this.cached;
    const config = parseIpamConfig({ ipam: req.conf.ipam, runtimeConfig: req.runtimeConfig, args: req.conf.args, cniArgs: req.args });
    this.cached = { config, ipam: openFileIpam(config.dataDir) };
    return this.cached;
  }

  async add(req: CniRequest): Promise<IpamOutcome> {
    const { config, ipam } = this.open(req);
    const ips = ipam.allocate({ network: req.name, containerId: req.containerId, ifname: req.ifname, rangeSets: config.rangeSets, requested: config.requestedIps });
    return { ips, routes: config.routes, ...(config.dns ? { dns: { ...config.dns } as NonNullable<IpamOutcome['dns']> } : {}) };
  }

  async del(req: CniRequest): Promise<void> {
    const { ipam } = this.open(req);
    ipam.release(req.name, req.containerId, req.ifname);
  }

  async check(req: CniRequest, expected: readonly IpamAddress[]): Promise<void> {
    const { ipam } = this.open(req);
    const held = ipam.get(req.name, req.containerId, req.ifname);
    if (held.length === 0) throw new CheckFailedError(`no address is allocated to container ${req.containerId} (${req.ifname}) in network ${req.name}`);
    const have = new Set(held.map((a) => a.address.address.toString()));
    for (const e of expected) {
      if (!have.has(e.address.address.toString())) throw new CheckFailedError(`address ${e.address.address} is not allocated to container ${req.containerId} (${req.ifname}) in network ${req.name}`);
    }
  }

  async gc(req: CniRequest): Promise<void> {
    const { ipam } = this.open(req);
    ipam.gc(
      req.name,
      (req.validAttachments ?? []).map((a) => ({ containerId: a.containerId, ifname: a.ifname })),
    );
  }

  async status(req: CniRequest): Promise<void> {
    const { config, ipam } = this.open(req);
    const usage = ipam.usage(req.name, config.rangeSets);
    usage.rangeSets.forEach((s, i) => {
      if (BigInt(s.used) >= s.capacity) {
        throw new NotAvailableError(`network ${req.name} cannot take another container: range set ${i} has all ${s.capacity} addresses in use`, { field: `ipam.ranges[${i}]` });
      }
    });
  }

  subnets(req: CniRequest): readonly { subnet: IpPrefix; gateway?: IpAddress }[] {
    const { config } = this.open(req);
    const seen = new Map<string, { subnet: IpPrefix; gateway?: IpAddress }>();
    for (const set of config.rangeSets) {
      for (const r of set) if (!seen.has(r.subnet.toString())) seen.set(r.subnet.toString(), { subnet: r.subnet, ...(r.gateway ? { gateway: r.gateway } : {}) });
    }
    return [...seen.values()];
  }
}
