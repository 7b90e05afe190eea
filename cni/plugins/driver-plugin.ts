/**
 * The main CNI plugin of a berth driver: CNI commands translated into calls on the driver the
 * catalog names (drivers/catalog.ts). IPAM runs first (in-process for berth-ipam, delegated
 * otherwise) and is undone when the driver fails; a driver that gives addresses itself
 * (`addressing: 'driver'`) runs without an IPAM section. Every berth driver plugin is this.
 */
import { mark } from '../../core/trace.js';
import { CheckFailedError, DecodeError, asBerthError } from '../../core/errors.js';
import { IpPrefix, parseIpWithPrefix, IpAddress } from '../../core/ip.js';
import type { IpRange, PortMapping, Route } from '../../core/model.js';
import type { DriverFacts } from '../../drivers/catalog.js';
import { GONE, type Driver, type EndpointPlacement, type NetworkSpec } from '../../drivers/driver.js';
import type { DriverEnv, DriverModule } from '../../drivers/driver-module.js';
import { withPolicyRecords } from '../../drivers/policy-records.js';
import { Rollback } from '../../drivers/rollback.js';
import type { AddressSource, IpamAddress, IpamOutcome } from '../ipam-source.js';
import { openAddressSource } from '../ipam-select.js';
import { parsePortMappings } from '../port-mappings.js';
import { parseDns, type Result } from '../result.js';
import type { CniRequest, PluginHandlers } from '../skel.js';

/** berth's run-time directory (locks, WinNAT's state): BERTH_RUN_DIR, default /run/berth. */
export function runDirOf(req: CniRequest): string {
  return req.env.BERTH_RUN_DIR ?? '/run/berth';
}

/**
 * One driver per run directory, made on first use: a plugin process makes one, and berthd,
 * which serves every request of the node, reuses it (and the netlink socket it holds)
 * instead of opening a new one per request. Pods are recorded for the policy engine there.
 */
function driverPerRunDir(module: DriverModule, served: ServedEnv): (req: CniRequest) => Driver<unknown> {
  const made = new Map<string, Driver<unknown>>();
  return (req) => {
    const runDir = runDirOf(req);
    let d = made.get(runDir);
    if (!d) made.set(runDir, (d = withPolicyRecords(module.create({ runDir, ...served }), runDir)));
    return d;
  };
}

/** What the server running the plugin adds to each driver's environment (berthd: its cluster). */
export type ServedEnv = Omit<DriverEnv, 'runDir'>;

/** Where the request's sandbox is: the runtime's netns, or none (a DEL or GC after it went). */
function placementOf(req: CniRequest): EndpointPlacement {
  return req.netns ? { kind: 'netns', path: req.netns } : GONE;
}

/**
 * The driver call's network. Its subnets come from berth-ipam's configuration, or, for a
 * delegated IPAM plugin, from the addresses it handed out (`known`).
 */
function networkOf<O>(req: CniRequest, options: O, ipam: AddressSource | undefined, known: readonly IpamAddress[] = []): NetworkSpec<O> {
  const configured = ipam?.subnets(req) ?? [];
  const fromAddresses = known.map((a) => ({ subnet: IpPrefix.of(a.address.address, a.address.length), ...(a.gateway ? { gateway: a.gateway } : {}) }));
  const subnets: IpRange[] = (configured.length ? configured : fromAddresses).map((s) => ({
    subnet: s.subnet,
    rangeStart: s.subnet.first,
    rangeEnd: s.subnet.last,
    ...(s.gateway ? { gateway: s.gateway } : {}),
  }));
  return { id: req.name, name: req.name, subnets, options, followsEndpoints: true };
}

/** The MAC the runtime asked for: CNI_ARGS MAC < args.cni.mac < runtimeConfig.mac. */
function requestedMac(req: CniRequest): string | undefined {
  const args = req.conf.args as { cni?: { mac?: unknown } } | undefined;
  const mac = req.runtimeConfig.mac ?? args?.cni?.mac ?? req.args.get('MAC');
  if (mac === undefined) return undefined;
  if (typeof mac !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac))
    throw new DecodeError(`MAC ${JSON.stringify(mac)} is not a MAC address`, { field: 'runtimeConfig.mac', value: String(mac) });
  return mac.toLowerCase();
}

/** What one plugin needs of its driver, loaded on the first request. */
interface Bound {
  readonly options: (req: CniRequest) => unknown;
  /** The request's address source: none when the driver gives the addresses itself. */
  readonly addressSource: (req: CniRequest, options: unknown) => AddressSource | undefined;
  readonly driver: (req: CniRequest) => Driver<unknown>;
  readonly portMappings: (req: CniRequest) => PortMapping[];
}

/**
 * The CNI command handlers of the plugin of the driver `facts` describes; `load` gives its
 * module (a plugin executable has it built in, berthd loads it through the catalog); `served`
 * is what berthd adds to the drivers' environment.
 */
export function driverPlugin(facts: DriverFacts, load: () => Promise<DriverModule>, served: ServedEnv = {}): PluginHandlers {
  let bound: Promise<Bound> | undefined;
  const bind = () =>
    (bound ??= load().then((m) => ({
      options: (req: CniRequest) => m.cniOptions(req.name, req.conf),
      addressSource: (req: CniRequest, options: unknown) => (m.givesAddresses?.(options) ? undefined : openAddressSource(req)),
      driver: driverPerRunDir(m, served),
      portMappings: (req: CniRequest) => (facts.capabilities.portMappings ? parsePortMappings(req.runtimeConfig, { protocols: ['tcp', 'udp'], families: facts.capabilities.ipv6 ? [4, 6] : [4] }) : []),
    })));
  return {
    name: facts.plugin,
    about: `${facts.plugin}: ${facts.summary} (berth)`,

    async add(req) {
      const b = await bind();
      // Everything that only reads the request fails here, before an address is taken.
      const options = b.options(req);
      const portMappings = b.portMappings(req);
      const mac = requestedMac(req);
      const ipam = b.addressSource(req, options);
      return new Rollback().run(async (rb) => {
        const outcome: IpamOutcome = ipam ? await ipam.add(req) : { ips: [], routes: [] };
        if (ipam) rb.push('release the addresses', () => ipam.del(req));
        mark('ipam');
        const info = await b.driver(req).createEndpoint(networkOf(req, options, ipam, outcome.ips), {
          containerId: req.containerId,
          ifname: req.ifname,
          placement: placementOf(req),
          addresses: outcome.ips,
          routes: outcome.routes.map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) })),
          ...(mac ? { mac } : {}),
          ...(portMappings.length ? { portMappings } : {}),
          ...workloadOf(req),
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
      });
    },

    async del(req) {
      const b = await bind();
      const options = b.options(req);
      const ipam = b.addressSource(req, options);
      const net = networkOf(req, options, ipam);
      // Best effort on both sides: the addresses are released even when the links are gone.
      let first: unknown;
      try {
        await b.driver(req).deleteEndpoint(net, { containerId: req.containerId, ifname: req.ifname, placement: placementOf(req) });
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
      const b = await bind();
      const prev = req.prevResult;
      if (!prev) throw new CheckFailedError('CHECK needs prevResult (the result of the ADD)');
      const ips: IpamAddress[] = (prev.ips ?? []).map((ip) => ({
        address: parseIpWithPrefix(ip.address),
        ...(ip.gateway ? { gateway: IpAddress.parse(ip.gateway) } : {}),
      }));
      const options = b.options(req);
      const ipam = b.addressSource(req, options);
      const net = networkOf(req, options, ipam, ips);
      const portMappings = b.portMappings(req);
      if (ipam) await ipam.check(req, ips);
      const sandboxIf = prev.interfaces?.find((i) => i.name === req.ifname && i.sandbox);
      await b.driver(req).check(net, {
        containerId: req.containerId,
        ifname: req.ifname,
        placement: placementOf(req),
        addresses: ips,
        routes: (prev.routes ?? []).map((r) => ({ dst: IpPrefix.parse(r.dst, { strict: false }), ...(r.gw ? { gw: IpAddress.parse(r.gw) } : {}) })),
        ...(sandboxIf?.mac ? { mac: sandboxIf.mac } : {}),
        ...(portMappings.length ? { portMappings } : {}),
      });
    },

    async gc(req) {
      const b = await bind();
      const options = b.options(req);
      const ipam = b.addressSource(req, options);
      const net = networkOf(req, options, ipam);
      const valid = (req.validAttachments ?? []).map((a) => ({ containerId: a.containerId, ifname: a.ifname }));
      const errors: string[] = [];
      try {
        await b.driver(req).gc(net, valid);
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
      const b = await bind();
      const ipam = b.addressSource(req, b.options(req));
      if (ipam) await ipam.status(req);
    },
  };
}

/** The pod behind the request, from CNI_ARGS as kubelet-style runtimes send it. */
function workloadOf(req: CniRequest): { workload?: { namespace: string; name: string } } {
  const namespace = req.args.get('K8S_POD_NAMESPACE');
  const name = req.args.get('K8S_POD_NAME');
  return namespace && name ? { workload: { namespace, name } } : {};
}

function routeToResult(r: Route): { dst: string; gw?: string } {
  return { dst: r.dst.toString(), ...(r.gw ? { gw: r.gw.toString() } : {}) };
}
