/**
 * berth-bridge: CNI commands translated into calls on the bridge driver. IPAM runs first
 * (in-process for berth-ipam, delegated otherwise) and is undone when the driver fails.
 */
import { CheckFailedError, DecodeError, asBerthError } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import { IpPrefix, parseIpWithPrefix, IpAddress } from '../../core/ip.js';
import type { IpRange, Route } from '../../core/model.js';
import { createLinuxBridgeDriver, type BridgeDriver, type BridgeOptions, type NetworkSpec } from '../../drivers/bridge/index.js';
import type { AddressSource, IpamAddress, IpamOutcome } from '../ipam-source.js';
import { openAddressSource } from '../ipam-select.js';
import { parseDns, type Result } from '../result.js';
import type { CniRequest, PluginHandlers } from '../skel.js';
import { bridgeOptionsFromConf } from './bridge-config.js';

interface Prepared {
  readonly driver: BridgeDriver;
  readonly net: NetworkSpec<BridgeOptions>;
  readonly ipam: AddressSource | undefined;
}

/**
 * Builds the driver call's network. Its subnets come from berth-ipam's configuration, or,
 * for a delegated IPAM plugin, from the addresses it handed out (`known`).
 */
function prepare(req: CniRequest, known: readonly IpamAddress[] = []): Prepared {
  const options = bridgeOptionsFromConf(req.name, req.conf);
  const ipam = openAddressSource(req);
  const configured = ipam?.subnets(req) ?? [];
  const fromAddresses = known.map((a) => ({ subnet: IpPrefix.of(a.address.address, a.address.length), ...(a.gateway ? { gateway: a.gateway } : {}) }));
  const subnets: IpRange[] = (configured.length ? configured : fromAddresses).map((s) => ({
    subnet: s.subnet,
    rangeStart: s.subnet.first,
    rangeEnd: s.subnet.last,
    ...(s.gateway ? { gateway: s.gateway } : {}),
  }));
  const net: NetworkSpec<BridgeOptions> = { id: req.name, name: req.name, subnets, options, followsEndpoints: true };
  return { driver: createLinuxBridgeDriver({ lockDir: lockDirOf(req) }), net, ipam };
}

function lockDirOf(req: CniRequest): string {
  return req.env.BERTH_RUN_DIR ?? '/run/berth';
}

/** The MAC the runtime asked for: CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac. */
function requestedMac(req: CniRequest): string | undefined {
  const args = req.conf.args as { cni?: { mac?: unknown } } | undefined;
  const mac = req.runtimeConfig.mac ?? args?.cni?.mac ?? req.args.get('MAC');
  if (mac === undefined) return undefined;
  if (typeof mac !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new DecodeError(`MAC ${JSON.stringify(mac)} is not a MAC address`, { field: 'runtimeConfig.mac', value: String(mac) });
  return mac.toLowerCase();
}

export const bridgePlugin: PluginHandlers = {
  name: 'berth-bridge',
  about: 'berth-bridge: a Linux bridge per network and a veth pair per container (berth)',

  async add(req) {
    const ipam = openAddressSource(req);
    const outcome: IpamOutcome = ipam ? await ipam.add(req) : { ips: [], routes: [] };
    mark('ipam');
    try {
      const { driver, net } = prepare(req, outcome.ips);
      const mac = requestedMac(req);
      const info = await driver.createEndpoint(net, {
        containerId: req.containerId,
        ifname: req.ifname,
        sandbox: req.netns,
        addresses: outcome.ips,
        routes: outcome.routes.map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) })),
        ...(mac ? { mac } : {}),
      });
      const confDns = req.conf.dns !== undefined ? parseDns(req.conf.dns, 'dns') : undefined;
      const dns = confDns && Object.keys(confDns).length ? confDns : outcome.dns;
      const result: Result = {
        interfaces: info.interfaces.map((i) => ({ ...i })),
        ips: info.addresses.map((a) => ({ address: `${a.address.address}/${a.address.length}`, ...(a.gateway ? { gateway: a.gateway.toString() } : {}), interface: info.sandboxInterface })),
        routes: info.routes.map(routeToResult),
        ...(dns ? { dns } : {}),
      };
      return result;
    } catch (err) {
      if (ipam) {
        try {
          await ipam.del(req);
        } catch (undo) {
          process.stderr.write(`berth-bridge: releasing addresses after a failed ADD also failed: ${asBerthError(undo).message}\n`);
        }
      }
      throw err;
    }
  },

  async del(req) {
    const { driver, net, ipam } = prepare(req);
    // Best effort on both sides: the addresses are released even when the links are gone.
    let first: unknown;
    try {
      await driver.deleteEndpoint(net, { containerId: req.containerId, ifname: req.ifname, sandbox: req.netns });
    } catch (err) {
      first = err;
    }
    mark('driver');
    if (ipam) {
      try {
        await ipam.del(req);
      } catch (err) {
        first ??= err;
      }
    }
    mark('ipam');
    if (first) throw first;
  },

  async check(req) {
    const prev = req.prevResult;
    if (!prev) throw new CheckFailedError('CHECK needs prevResult (the result of the ADD)');
    const ips: IpamAddress[] = (prev.ips ?? []).map((ip) => ({
      address: parseIpWithPrefix(ip.address),
      ...(ip.gateway ? { gateway: IpAddress.parse(ip.gateway) } : {}),
    }));
    const { driver, net, ipam } = prepare(req, ips);
    if (ipam) await ipam.check(req, ips);
    const sandboxIf = prev.interfaces?.find((i) => i.name === req.ifname && i.sandbox);
    await driver.check(net, {
      containerId: req.containerId,
      ifname: req.ifname,
      sandbox: req.netns,
      addresses: ips,
      routes: (prev.routes ?? []).map((r) => ({ dst: IpPrefix.parse(r.dst, { strict: false }), ...(r.gw ? { gw: IpAddress.parse(r.gw) } : {}) })),
      ...(sandboxIf?.mac ? { mac: sandboxIf.mac } : {}),
    });
  },

  async gc(req) {
    const { driver, net, ipam } = prepare(req);
    const valid = (req.validAttachments ?? []).map((a) => ({ containerId: a.containerId, ifname: a.ifname, sandbox: '' }));
    const errors: string[] = [];
    try {
      await driver.gc(net, valid);
    } catch (err) {
      errors.push(asBerthError(err).message);
    }
    if (ipam) {
      try {
        await ipam.gc(req);
      } catch (err) {
        errors.push(asBerthError(err).message);
      }
    }
    if (errors.length) throw new CheckFailedError(`GC incomplete: ${errors.join('; ')}`);
  },

  async status(req) {
    const { ipam } = prepare(req);
    if (ipam) await ipam.status(req);
  },
};

function routeToResult(r: Route): { dst: string; gw?: string } {
  return { dst: r.dst.toString(), ...(r.gw ? { gw: r.gw.toString() } : {}) };
}
