/**
 * berth-ipam as a standalone CNI IPAM plugin, for other main plugins (the reference bridge,
 * macvlan, ...): host-local's keys and result shape.
 */
import { BerthIpam } from '../berth-ipam-source.js';
import type { Result } from '../result.js';
import type { PluginHandlers } from '../skel.js';

const source = new BerthIpam();

export const ipamPlugin: PluginHandlers = {
  name: 'berth-ipam',
  about: "berth-ipam: address management with host-local's configuration, crash-safe (berth)",

  async add(req) {
    const o = await source.add(req);
    // IPAM results are abbreviated: no interfaces, no ips[].interface.
    const result: Result = {
      ips: o.ips.map((a) => ({ address: `${a.address.address}/${a.address.length}`, ...(a.gateway ? { gateway: a.gateway.toString() } : {}) })),
      routes: o.routes.map((r) => ({ dst: r.dst.toString(), ...(r.gw ? { gw: r.gw.toString() } : {}) })),
      ...(o.dns ? { dns: o.dns } : {}),
    };
    return result;
  },
  del: (req) => source.del(req),
  check: (req) => source.check(req, []),
  gc: (req) => source.gc(req),
  status: (req) => source.status(req),
};
