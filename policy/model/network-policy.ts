/**
 * `networking.k8s.io/v1` NetworkPolicy: read, validated (`ValidateNetworkPolicy` of the API
 * server, plus strict unknown-field checks) and defaulted (`podSelector`, protocol, and
 * `policyTypes`: Ingress always, Egress only when there are egress rules).
 */
import { IpParseError, IpPrefix } from '../../core/ip.js';
import { forbidden, invalid, invalidObject, notSupported, required } from './field-errors.js';
import { dns1123SubdomainErrors, portNameErrors, portNumberErrors } from './k8s-names.js';
import { EVERYTHING, readLabelSelector } from './label-selector.js';
import { ManifestReader, child, index, type PlainObject } from './manifest-reader.js';
import { readObjectMeta } from './object-meta.js';
import type { IpBlock, NetworkPolicy, PolicyPeer, PolicyPort, PolicyProtocol, PolicyRule, PolicyType } from './types.js';

const PROTOCOLS: readonly PolicyProtocol[] = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES: readonly PolicyType[] = ['Ingress', 'Egress'];

/** Where a manifest without `metadata.namespace` goes, as with kubectl's default context. */
export interface ReadOptions {
  /** @default "default" */
  readonly defaultNamespace?: string;
}

/**
 * Reads one NetworkPolicy manifest (a plain object, as parsed from YAML or JSON).
 * Throws InvalidObjectError listing every problem, each with its field path.
 */
export function parseNetworkPolicy(value: unknown, options: ReadOptions = {}): NetworkPolicy {
  const r = new ManifestReader();
  const top = r.object(value, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  if (!top) {
    if (r.errors.length === 0) r.report(required('spec'));
    throw invalidObject('NetworkPolicy.networking.k8s.io', '', r.errors);
  }
  const meta = readObjectMeta(r, top, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    nameErrors: dns1123SubdomainErrors,
    namespaced: true,
    defaultNamespace: options.defaultNamespace ?? 'default',
  });
  const spec = r.object(top.spec, 'spec', ['podSelector', 'policyTypes', 'ingress', 'egress']) ?? {};
  r.object(top.status, 'status', ['conditions']);
  const podSelector = readLabelSelector(r, spec.podSelector, 'spec.podSelector') ?? EVERYTHING;
  const ingress = readRules(r, spec.ingress, 'spec.ingress', 'from');
  const egress = readRules(r, spec.egress, 'spec.egress', 'to');
  const policyTypes = readPolicyTypes(r, spec.policyTypes, egress.length > 0);
  if (r.errors.length) throw invalidObject('NetworkPolicy.networking.k8s.io', meta.name, r.errors);
  return { namespace: meta.namespace, name: meta.name, podSelector, policyTypes, ingress, egress };
}

function readPolicyTypes(r: ManifestReader, value: unknown, hasEgressRules: boolean): PolicyType[] {
  const list = r.array(value, 'spec.policyTypes');
  if (!list || list.length === 0) return hasEgressRules ? ['Ingress', 'Egress'] : ['Ingress'];
  if (list.length > POLICY_TYPES.length) {
    r.report(invalid('spec.policyTypes', list, 'may not specify more than two policyTypes'));
    return [];
  }
  const out: PolicyType[] = [];
  list.forEach((t, i) => {
    const p = index('spec.policyTypes', i);
    const s = r.string(t, p);
    if (s === undefined) return;
    if (!POLICY_TYPES.includes(s as PolicyType)) r.report(notSupported(p, s, POLICY_TYPES));
    else if (!out.includes(s as PolicyType)) out.push(s as PolicyType);
  });
  return out;
}

function readRules(r: ManifestReader, value: unknown, path: string, peersKey: 'from' | 'to'): PolicyRule[] {
  const list = r.array(value, path) ?? [];
  return list.map((item, i) => {
    const p = index(path, i);
    // `- {}` and a bare `-` (null) are both the empty rule: everything.
    const o: PlainObject = r.object(item, p, ['ports', peersKey]) ?? {};
    const ports = (r.array(o.ports, child(p, 'ports')) ?? []).map((port, j) => readPort(r, port, index(child(p, 'ports'), j)));
    const peers = (r.array(o[peersKey], child(p, peersKey)) ?? []).map((peer, j) => readPeer(r, peer, index(child(p, peersKey), j)));
    return { ports: ports.filter((x): x is PolicyPort => x !== undefined), peers: peers.filter((x): x is PolicyPeer => x !== undefined) };
  });
}

function readPort(r: ManifestReader, value: unknown, path: string): PolicyPort | undefined {
  const o: PlainObject = r.object(value, path, ['protocol', 'port', 'endPort']) ?? {};
  const protocolText = r.string(o.protocol, child(path, 'protocol'));
  let protocol: PolicyProtocol = 'TCP';
  if (protocolText !== undefined) {
    if (PROTOCOLS.includes(protocolText as PolicyProtocol)) protocol = protocolText as PolicyProtocol;
    else r.report(notSupported(child(path, 'protocol'), protocolText, PROTOCOLS));
  }
  const endPort = r.integer(o.endPort, child(path, 'endPort'));
  const rawPort = o.port;
  const out: { protocol: PolicyProtocol; port?: number | string; endPort?: number } = { protocol };
  if (rawPort === undefined || rawPort === null) {
    if (endPort !== undefined) r.report(invalid(child(path, 'endPort'), endPort, 'may not be specified when `port` is not specified'));
  } else if (typeof rawPort === 'number') {
    const port = r.integer(rawPort, child(path, 'port'));
    if (port === undefined) return undefined;
    for (const msg of portNumberErrors(port)) r.report(invalid(child(path, 'port'), port, msg));
    out.port = port;
    if (endPort !== undefined) {
      // The API server shows `port`'s value here; the endPort value says more about the mistake.
      if (endPort < port) r.report(invalid(child(path, 'endPort'), endPort, 'must be greater than or equal to port'));
      for (const msg of portNumberErrors(endPort)) r.report(invalid(child(path, 'endPort'), endPort, msg));
      out.endPort = endPort;
    }
  } else if (typeof rawPort === 'string') {
    if (endPort !== undefined) r.report(invalid(child(path, 'endPort'), endPort, 'may not be specified when `port` is non-numeric'));
    for (const msg of portNameErrors(rawPort)) r.report(invalid(child(path, 'port'), rawPort, msg));
    out.port = rawPort;
  } else {
    r.report(invalid(child(path, 'port'), rawPort, 'must be a port number or a port name'));
    return undefined;
  }
  return out;
}

function readPeer(r: ManifestReader, value: unknown, path: string): PolicyPeer | undefined {
  const o = r.object(value, path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  const podSelector = readLabelSelector(r, o?.podSelector, child(path, 'podSelector'));
  const namespaceSelector = readLabelSelector(r, o?.namespaceSelector, child(path, 'namespaceSelector'));
  const ipBlock = readIpBlock(r, o?.ipBlock, child(path, 'ipBlock'));
  const present = [o?.podSelector, o?.namespaceSelector, o?.ipBlock].filter((x) => x !== undefined && x !== null).length;
  if (present === 0) {
    r.report(required(path, 'must specify a peer'));
    return undefined;
  }
  if (present > 1 && o?.ipBlock !== undefined && o?.ipBlock !== null) {
    r.report(forbidden(path, 'may not specify both ipBlock and another peer'));
    return undefined;
  }
  const peer: { podSelector?: NonNullable<typeof podSelector>; namespaceSelector?: NonNullable<typeof namespaceSelector>; ipBlock?: IpBlock } = {};
  if (podSelector) peer.podSelector = podSelector;
  if (namespaceSelector) peer.namespaceSelector = namespaceSelector;
  if (ipBlock) peer.ipBlock = ipBlock;
  return peer;
}

function parsePrefix(text: string): IpPrefix | undefined {
  try {
    // Host bits may be set, as the API server accepts (`10.0.0.7/24` is 10.0.0.0/24).
    return IpPrefix.parse(text, { strict: false });
  } catch (err) {
    if (err instanceof IpParseError) return undefined;
    throw err;
  }
}

function readIpBlock(r: ManifestReader, value: unknown, path: string): IpBlock | undefined {
  const o = r.object(value, path, ['cidr', 'except']);
  if (!o) return undefined;
  const cidr = r.string(o.cidr, child(path, 'cidr')) ?? '';
  if (cidr === '') {
    r.report(required(child(path, 'cidr')));
    return undefined;
  }
  const prefix = parsePrefix(cidr);
  if (!prefix) {
    r.report(invalid(child(path, 'cidr'), cidr, 'not a valid CIDR'));
    return undefined;
  }
  const except: string[] = [];
  const list = r.array(o.except, child(path, 'except')) ?? [];
  for (let i = 0; i < list.length; i++) {
    const p = index(child(path, 'except'), i);
    const text = r.string(list[i], p);
    if (text === undefined) continue;
    const ex = parsePrefix(text);
    if (!ex) {
      r.report(invalid(p, text, 'not a valid CIDR'));
      return undefined;
    }
    if (ex.family !== prefix.family || !prefix.contains(ex.network) || ex.length <= prefix.length) {
      r.report(invalid(p, text, 'must be a strict subset of `cidr`'));
    }
    except.push(text);
  }
  return { cidr, except };
}
