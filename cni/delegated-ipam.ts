/**
 * An IPAM plugin other than berth's (host-local, dhcp, static, ...), run through CNI
 * delegation with the identical stdin and environment.
 */
import { CheckFailedError } from '../core/errors.js';
import { IpAddress, IpPrefix, parseIpWithPrefix } from '../core/ip.js';
import { execDelegate } from './delegate.js';
import type { AddressSource, IpamAddress, IpamOutcome } from './ipam-source.js';
import { parseResult } from './result.js';
import type { CniRequest } from './skel.js';
import { atLeast } from './version.js';

export class DelegatedIpam implements AddressSource {
  constructor(private readonly type: string) {}

  async add(req: CniRequest): Promise<IpamOutcome> {
    const raw = await this.exec(req, 'ADD');
    const r = parseResult(raw ?? {}, `result of IPAM plugin ${this.type}`);
    return {
      ips: (r.ips ?? []).map((ip) => ({ address: parseIpWithPrefix(ip.address), ...(ip.gateway ? { gateway: IpAddress.parse(ip.gateway) } : {}) })),
      routes: (r.routes ?? []).map((rt) => ({ dst: IpPrefix.parse(rt.dst, { strict: false }), ...(rt.gw ? { gw: IpAddress.parse(rt.gw) } : {}) })),
      ...(r.dns ? { dns: r.dns } : {}),
    };
  }

  async del(req: CniRequest): Promise<void> {
    await this.exec(req, 'DEL');
  }

  async check(req: CniRequest, _expected: readonly IpamAddress[]): Promise<void> {
    if (!atLeast(req.cniVersion, '0.4.0')) throw new CheckFailedError('CHECK needs cniVersion 0.4.0 or later');
    await this.exec(req, 'CHECK');
  }

  async gc(req: CniRequest): Promise<void> {
    await this.exec(req, 'GC');
  }

  async status(req: CniRequest): Promise<void> {
    await this.exec(req, 'STATUS');
  }

  subnets(): readonly { subnet: IpPrefix; gateway?: IpAddress }[] {
    return [];
  }

  private exec(req: CniRequest, command: string): Promise<unknown> {
    return execDelegate({ type: this.type, command, path: req.path, env: req.env, stdin: req.stdin });
  }
}
