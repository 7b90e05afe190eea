/**
 * `berth render --os windows`: the HCN documents a network (and an endpoint of it) of any berth
 * driver means on Windows, printed as one JSON object, `{"network": ..., "endpoint": ...}`, or
 * with `--cni` the network as a configuration of Microsoft's Windows CNI plugins. Options are
 * read by the driver's own Docker option parser (the keys of `docker network create -o`); the
 * driver's `windows` rendering decides the documents (drivers/<name>/windows.ts), the policy
 * engine adds the endpoint's ACLs from the NetworkPolicies of `--policy` that select it. With
 * `--schema v1` the same documents in HNS's v1 schema (dataplane/windows/hns-v1.ts), what
 * Docker's Windows drivers send. Works offline: nothing is created, berthd is not asked.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { InvalidConfigError, UnsupportedFieldError } from '../../core/errors.js';
import { IpAddress, IpParseError, IpPrefix } from '../../core/ip.js';
import type { AssignedAddress, IpRange, PortMapping } from '../../core/model.js';
import {
  hnsV1Endpoint,
  hnsV1Network,
  isGuid,
  withEndpointPolicies,
  type HcnEndpointPolicy,
  type WindowsHostFacts,
  type WindowsOverlayPeer,
  type WindowsRemoteEndpoint,
} from '../../dataplane/windows/index.js';
import { CATALOG } from '../../drivers/catalog.js';
import { DOCKER_MANAGED, type EndpointSpec, type NetworkSpec } from '../../drivers/driver.js';
import type { OptionContext, WindowsRendering } from '../../drivers/driver-module.js';
import { parsePolicyObjects, PolicyCompiler, renderHnsAcls, type Pod } from '../../policy/index.js';
import { EXIT_OK } from '../exit-codes.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { HELP, parseCommandArgs, showUsage } from './usage.js';

export const RENDER_USAGE = `Usage: berth render --os windows -d DRIVER --subnet CIDR [OPTIONS] NAME

Prints the HCN documents a berth network NAME of DRIVER (and, with --endpoint, one endpoint of
it) means on Windows, as one JSON object {"network": HostComputeNetwork, "endpoint":
HostComputeEndpoint}: what HcnCreateNetwork and HcnCreateEndpoint would be given. Nothing is
created. With --cni (overlay, l2bridge): the network as a configuration of Microsoft's Windows
CNI plugins (sdnoverlay, sdnbridge) instead. With --schema v1: the same documents in HNS's
v1 schema, {"network": HNSNetwork, "endpoint": HNSEndpoint}, what Docker's Windows drivers
send HNS (v1 has no RemoteSubnetRoute, VxlanPort, host address on a port mapping or IPv6
mapping: those are refused; HostRoute has no v1 form and is left out).

Options:
      --os OS                 windows (required; the only OS rendered)
  -d, --driver DRIVER         bridge, nat, overlay, transparent, l2bridge or l2tunnel
      --subnet CIDR           The network's subnet (repeatable: one IPv4 and one IPv6)
      --gateway IP            A subnet's gateway (default: its first address + 1; repeatable)
  -o, --opt KEY=VALUE         A driver option, as for docker network create -o (repeatable);
                              labels=k=v,... are the endpoint's pod labels for --policy
      --endpoint IP           Render an endpoint with this address (repeatable: IPv4 and IPv6)
      --container ID          The endpoint's container (default: container); the endpoint is
                              named ID_NAME, as Microsoft's CNI plugins name it
      --publish HOST:CONTAINER[/tcp|udp]
                              A published port, [HOST_IP:]HOST[-END]:CONTAINER (repeatable)
      --policy FILE           NetworkPolicies (YAML or JSON): the endpoint's ACLs from those
                              that select it (namespace default, pod named by --container)
      --host-ip IP            The node's address (overlay: ProviderAddress; l2bridge: the
                              host route through the host's stack)
      --node-subnet CIDR      Overlay: this node's block of the cluster subnet
      --peer BLOCK,IP[,MAC]   Overlay: another node's block, address and distributed-router
                              MAC (repeatable)
      --remote-endpoint IP@NODE_IP[,MAC]
                              Overlay with one subnet across the nodes: an endpoint IP on
                              the node NODE_IP (repeatable); printed as "remoteEndpoints",
                              HCN remote endpoints with the node as ProviderAddress (v1: PA)
      --schema v2|v1          The HNS schema: v2 (HCN, default) or v1 (Docker's)
      --network-id GUID       v1: the GUID HNS gave the network, the endpoint's VirtualNetwork
                              (default: the endpoint names it by VirtualNetworkName)
      --cni                   Print the Windows CNI configuration (overlay, l2bridge)
  -h, --help                  Show this help

Exit status 2 for an option the driver or Windows cannot take, with what is wrong.
`;

const OPTIONS = {
  os: { type: 'string' },
  driver: { type: 'string', short: 'd' },
  subnet: { type: 'string', multiple: true },
  gateway: { type: 'string', multiple: true },
  opt: { type: 'string', short: 'o', multiple: true },
  endpoint: { type: 'string', multiple: true },
  container: { type: 'string' },
  publish: { type: 'string', multiple: true },
  policy: { type: 'string' },
  'host-ip': { type: 'string' },
  'node-subnet': { type: 'string' },
  peer: { type: 'string', multiple: true },
  'remote-endpoint': { type: 'string', multiple: true },
  schema: { type: 'string' },
  'network-id': { type: 'string' },
  cni: { type: 'boolean' },
  ...HELP,
} as const;

/** One driver's Windows face: its Docker option parser and its rendering. */
interface WindowsDriver {
  parse(raw: Readonly<Record<string, string>>, ctx: OptionContext): unknown;
  readonly windows: WindowsRendering<unknown>;
  /** ACLs go to Windows Firewall (Host) or to the vSwitch (Switch). */
  readonly ruleType: 'Host' | 'Switch';
}

const DRIVERS = ['bridge', 'nat', 'overlay', 'transparent', 'l2bridge', 'l2tunnel'] as const;
const HOST_RULES = new Set(['bridge', 'nat', 'transparent']);

async function windowsDriver(name: string): Promise<WindowsDriver> {
  if (!(DRIVERS as readonly string[]).includes(name)) throw new InvalidConfigError(`unknown driver ${JSON.stringify(name)}: one of ${DRIVERS.join(', ')}`, { field: '--driver', value: name });
  const ruleType = HOST_RULES.has(name) ? 'Host' : 'Switch';
  const entry = CATALOG.find((e) => e.name === name);
  const mod = entry ? await entry.load() : undefined;
  if (mod?.windows) return { parse: mod.docker.parse, windows: mod.windows, ruleType };
  throw new UnsupportedFieldError(`the ${name} driver has no Windows rendering`, { field: '--driver', value: name });
}

function address(flag: string, text: string): IpAddress {
  try {
    return IpAddress.parse(text);
  } catch (err) {
    if (err instanceof IpParseError) throw new InvalidConfigError(`${flag} ${JSON.stringify(text)} is not an IP address`, { field: flag, value: text });
    throw err;
  }
}

function prefix(flag: string, text: string): IpPrefix {
  try {
    return IpPrefix.parse(text);
  } catch (err) {
    if (err instanceof IpParseError) throw new InvalidConfigError(`${flag} ${JSON.stringify(text)} is not a subnet: ${err.message}`, { field: flag, value: text });
    throw err;
  }
}

/** `-o key=value` pairs; `labels` is the render's own. */
function driverOptions(opts: readonly string[]): { raw: Record<string, string>; labels: Record<string, string> } {
  const raw: Record<string, string> = {};
  let labels: Record<string, string> = {};
  for (const o of opts) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`-o ${JSON.stringify(o)} is not KEY=VALUE`, { field: '-o', value: o });
    const key = o.slice(0, eq);
    const value = o.slice(eq + 1);
    if (key === 'labels') labels = parseLabels(value);
    else raw[key] = value;
  }
  return { raw, labels };
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`-o labels: ${JSON.stringify(pair)} is not k=v`, { field: 'labels', value: pair });
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const PUBLISH_RE = /^(?:(?<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?<host>\d+)(?:-(?<end>\d+))?:(?<container>\d+)(?:\/(?<proto>tcp|udp))?$/;

function parsePublish(text: string): PortMapping {
  const m = PUBLISH_RE.exec(text);
  if (!m?.groups) throw new InvalidConfigError(`--publish ${JSON.stringify(text)} is not [HOST_IP:]HOST[-END]:CONTAINER[/tcp|udp]`, { field: '--publish', value: text });
  const g = m.groups;
  const port = (s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidConfigError(`--publish ${JSON.stringify(text)}: port ${s} is not 1-65535`, { field: '--publish', value: text });
    return n;
  };
  const hostPort = port(g.host!);
  const end = g.end !== undefined ? port(g.end) : undefined;
  if (end !== undefined && end < hostPort) throw new InvalidConfigError(`--publish ${JSON.stringify(text)}: the range ends before it starts`, { field: '--publish', value: text });
  return {
    protocol: (g.proto ?? 'tcp') as 'tcp' | 'udp',
    ...(g.ip ? { hostIp: address('--publish', g.ip.replace(/^\[|\]$/g, '')) } : {}),
    hostPort,
    ...(end !== undefined && end !== hostPort ? { hostPortEnd: end } : {}),
    containerPort: port(g.container!),
  };
}

function parsePeer(text: string): WindowsOverlayPeer {
  const [block, ip, mac, ...rest] = text.split(',');
  if (!block || !ip || rest.length) throw new InvalidConfigError(`--peer ${JSON.stringify(text)} is not BLOCK,IP[,MAC]`, { field: '--peer', value: text });
  if (mac !== undefined && !MAC_RE.test(mac)) throw new InvalidConfigError(`--peer ${JSON.stringify(text)}: ${mac} is not a MAC address`, { field: '--peer', value: text });
  return { subnet: prefix('--peer', block), providerAddress: address('--peer', ip), ...(mac ? { drMac: mac } : {}) };
}

const MAC_RE = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;

function parseRemoteEndpoint(text: string): WindowsRemoteEndpoint {
  const m = /^(?<ip>[^@,]+)@(?<node>[^@,]+)(?:,(?<mac>[^@,]+))?$/.exec(text);
  if (!m?.groups) throw new InvalidConfigError(`--remote-endpoint ${JSON.stringify(text)} is not IP@NODE_IP[,MAC]`, { field: '--remote-endpoint', value: text });
  const { ip, node, mac } = m.groups;
  if (mac !== undefined && !MAC_RE.test(mac)) throw new InvalidConfigError(`--remote-endpoint ${JSON.stringify(text)}: ${mac} is not a MAC address`, { field: '--remote-endpoint', value: text });
  return { address: address('--remote-endpoint', ip!), providerAddress: address('--remote-endpoint', node!), ...(mac ? { mac } : {}) };
}

/** The network's subnets, each with its gateway (given, or the first address + 1). */
function subnetsOf(subnets: readonly string[], gateways: readonly string[]): IpRange[] {
  const gws = gateways.map((g) => address('--gateway', g));
  const out = subnets.map((text) => {
    const p = prefix('--subnet', text);
    const given = gws.filter((g) => p.contains(g));
    const gateway = given[0] ?? (p.size > 2n ? p.first.plus(1n) : undefined);
    return { subnet: p, rangeStart: p.first, rangeEnd: p.last, ...(gateway ? { gateway } : {}) };
  });
  for (const g of gws) {
    if (!out.some((r) => r.subnet.contains(g))) throw new InvalidConfigError(`--gateway ${g} is not in a subnet of the network`, { field: '--gateway', value: g.toString() });
  }
  for (const family of [4, 6] as const) {
    if (out.filter((r) => r.subnet.family === family).length > 1) throw new InvalidConfigError(`more than one IPv${family} --subnet: give one per family`, { field: '--subnet' });
  }
  return out;
}

/** Reads NetworkPolicies (and Namespaces, Pods) from a YAML or JSON file. */
function readPolicyObjects(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidConfigError(`--policy ${file}: ${(err as Error).message}`, { field: '--policy', value: file }, { cause: err });
  }
  const manifests: unknown[] = [];
  const sources: string[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const error = doc.errors[0];
    if (error)
      throw new InvalidConfigError(`--policy ${file} document ${i + 1}: not valid YAML or JSON: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`, { field: '--policy', value: file });
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    manifests.push(value);
    sources.push(`${file} document ${i + 1}`);
  });
  return parsePolicyObjects(manifests, { sources });
}

/** The ACLs the policies give the endpoint's pod (none when no policy selects it). */
function endpointAcls(file: string, pod: Pod, ruleType: 'Host' | 'Switch', hostAddress: IpAddress | undefined): HcnEndpointPolicy[] {
  const ir = new PolicyCompiler({ pods: [pod], objects: readPolicyObjects(file) }).compile();
  const acls = renderHnsAcls(ir, { ruleType, ...(hostAddress ? { hostAddresses: [hostAddress.toString()] } : {}) });
  return [...(acls.find((a) => a.pod === `${pod.namespace}/${pod.name}`)?.policies ?? [])];
}

/** What `berth render` prints, as a value (the tests call it directly). */
export async function renderWindows(argv: readonly string[]): Promise<object> {
  const { values, positionals } = parseCommandArgs('berth render', { args: argv, options: OPTIONS, allowPositionals: true });
  if (values.os === undefined) throw new InvalidConfigError('berth render needs --os windows', { field: '--os' });
  if (values.os !== 'windows')
    throw new UnsupportedFieldError(`--os ${JSON.stringify(values.os)}: berth renders for windows only (on Linux the drivers program the host themselves)`, { field: '--os', value: values.os });
  if (values.driver === undefined) throw new InvalidConfigError('berth render needs -d DRIVER', { field: '--driver' });
  if (positionals.length !== 1) throw new InvalidConfigError(`berth render takes one network NAME (got ${positionals.length})`, { field: 'NAME' });
  const name = positionals[0]!;
  const schema = values.schema ?? 'v2';
  if (schema !== 'v2' && schema !== 'v1') throw new InvalidConfigError(`--schema ${JSON.stringify(schema)}: v2 (HCN) or v1 (HNS, as Docker's Windows drivers)`, { field: '--schema', value: schema });
  if (values['network-id'] !== undefined) {
    if (schema !== 'v1') throw new InvalidConfigError("--network-id is the v1 endpoint's VirtualNetwork: give --schema v1", { field: '--network-id' });
    if (!isGuid(values['network-id']))
      throw new InvalidConfigError(`--network-id ${JSON.stringify(values['network-id'])} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`, { field: '--network-id', value: values['network-id'] });
  }
  if (!values.subnet?.length) throw new InvalidConfigError('berth render needs --subnet CIDR: HCN networks are declared with their subnets', { field: '--subnet' });
  const driver = await windowsDriver(values.driver);
  const subnets = subnetsOf(values.subnet, values.gateway ?? []);
  const { raw, labels } = driverOptions(values.opt ?? []);
  const options = driver.parse(raw, { networkName: name, internal: false, hasGateway: subnets.some((s) => s.gateway !== undefined), hasSubnet: subnets.length > 0 });
  const net: NetworkSpec<unknown> = { id: name, name, subnets, options, followsEndpoints: false };
  const hostAddress = values['host-ip'] !== undefined ? address('--host-ip', values['host-ip']) : undefined;
  const host: WindowsHostFacts = {
    ...(hostAddress ? { hostAddress } : {}),
    ...(values['node-subnet'] !== undefined ? { nodeSubnet: prefix('--node-subnet', values['node-subnet']) } : {}),
    ...(values.peer?.length ? { peers: values.peer.map(parsePeer) } : {}),
    ...(values['remote-endpoint']?.length ? { remoteEndpoints: values['remote-endpoint'].map(parseRemoteEndpoint) } : {}),
  };
  if ((host.nodeSubnet || host.peers || host.remoteEndpoints) && values.driver !== 'overlay')
    throw new UnsupportedFieldError('--node-subnet, --peer and --remote-endpoint are for overlay networks', {
      field: host.peers ? '--peer' : host.remoteEndpoints ? '--remote-endpoint' : '--node-subnet',
    });

  if (values.cni) {
    if (values.schema !== undefined) throw new UnsupportedFieldError("--cni prints a CNI configuration (its policies are HCN v2's): --schema does not apply", { field: '--schema' });
    if (host.remoteEndpoints) throw new UnsupportedFieldError('--cni renders the network configuration: --remote-endpoint does not apply', { field: '--remote-endpoint' });
    if (!driver.windows.cniConfig)
      throw new UnsupportedFieldError(`--cni: Microsoft's Windows CNI plugins have a conf for overlay (sdnoverlay) and l2bridge (sdnbridge) networks, not ${values.driver}`, { field: '--cni' });
    if (values.endpoint?.length || values.publish?.length || values.policy)
      throw new UnsupportedFieldError('--cni renders the network configuration: --endpoint, --publish and --policy do not apply', { field: '--cni' });
    return driver.windows.cniConfig(net, host);
  }
  const network = driver.windows.network(net, host);
  const remotes = driver.windows.remoteEndpoints?.(net, host) ?? [];
  const ref = { name, ...(values['network-id'] !== undefined ? { id: values['network-id'] } : {}) };
  const remoteEndpoints = remotes.length ? { remoteEndpoints: schema === 'v1' ? remotes.map((r) => hnsV1Endpoint(r, ref)) : remotes } : {};
  const networkDoc = schema === 'v1' ? hnsV1Network(network) : network;
  if (!values.endpoint?.length) {
    if (values.publish?.length || values.policy || values.container)
      throw new InvalidConfigError('--publish, --policy and --container describe an endpoint: give its --endpoint IP', { field: '--endpoint' });
    return { network: networkDoc, ...remoteEndpoints };
  }
  const addresses: AssignedAddress[] = values.endpoint.map((text) => {
    const a = address('--endpoint', text);
    const r = subnets.find((s) => s.subnet.contains(a));
    if (!r) throw new InvalidConfigError(`--endpoint ${a} is not in a subnet of the network (${subnets.map((s) => s.subnet.toString()).join(', ')})`, { field: '--endpoint', value: text });
    return { address: { address: a, length: r.subnet.length }, ...(r.gateway ? { gateway: r.gateway } : {}) };
  });
  const containerId = values.container ?? 'container';
  const ep: EndpointSpec = {
    containerId,
    ifname: 'eth0',
    placement: DOCKER_MANAGED,
    addresses,
    routes: [],
    ...(values.publish?.length ? { portMappings: values.publish.map(parsePublish) } : {}),
  };
  let endpoint = driver.windows.endpoint(net, ep, host);
  if (values.policy) {
    const pod: Pod = { namespace: 'default', name: containerId, labels, ips: addresses.map((a) => a.address.address.toString()), ports: [], hostNetwork: false };
    endpoint = withEndpointPolicies(endpoint, endpointAcls(values.policy, pod, driver.ruleType, hostAddress));
  }
  return { network: networkDoc, endpoint: schema === 'v1' ? hnsV1Endpoint(endpoint, ref) : endpoint, ...remoteEndpoints };
}

export async function renderCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) return showUsage(io, RENDER_USAGE);
  io.out(`${JSON.stringify(await renderWindows(argv), null, 2)}\n`);
  return EXIT_OK;
}
