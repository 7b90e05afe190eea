/**
 * A small model of how HNS evaluates endpoint ACLs, to check that the rendered ACLs mean what
 * the policies mean: for each direction the matching ACL with the lowest Priority number
 * decides (Block wins a tie); an endpoint without ACLs allows everything. A connection needs
 * the source's Out and the destination's In to allow it.
 */
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { AclPolicySetting, EndpointAcls } from '../../../policy/hns/render-hns.js';

const IANA = { TCP: 6, UDP: 17, SCTP: 132 } as const;

function addressIn(list: string | undefined, ip: string): boolean {
  if (list === undefined) return true;
  const a = IpAddress.parse(ip);
  return list.split(',').some((item) => (item.includes('/') ? IpPrefix.parse(item, { strict: false }).contains(a) : IpAddress.parse(item).equals(a)));
}

function portIn(list: string | undefined, port: number): boolean {
  if (list === undefined) return true;
  return list.split(',').some((item) => {
    const [lo, hi] = item.split('-').map(Number) as [number, number | undefined];
    return port >= lo && port <= (hi ?? lo);
  });
}

function decide(acls: readonly AclPolicySetting[], dir: 'In' | 'Out', remote: string, protocol: keyof typeof IANA, port: number): boolean {
  const hits = acls.filter(
    (a) =>
      a.Direction === dir &&
      (a.Protocols === undefined || a.Protocols === '256' || a.Protocols.split(',').map(Number).includes(IANA[protocol])) &&
      addressIn(a.RemoteAddresses, remote) &&
      portIn(dir === 'In' ? a.LocalPorts : a.RemotePorts, port),
  );
  if (hits.length === 0) return true;
  const best = Math.min(...hits.map((a) => a.Priority ?? 0));
  return !hits.some((a) => (a.Priority ?? 0) === best && a.Action === 'Block');
}

/** Whether from → to on protocol/port passes both endpoints' ACLs. */
export function hnsAllows(endpoints: readonly EndpointAcls[], ips: (pod: string) => string, from: string, to: string, protocol: keyof typeof IANA, port: number): boolean {
  if (from === to) return true;
  const src = endpoints.find((e) => e.pod === from)?.policies.map((p) => p.Settings) ?? [];
  const dst = endpoints.find((e) => e.pod === to)?.policies.map((p) => p.Settings) ?? [];
  return decide(src, 'Out', ips(to), protocol, port) && decide(dst, 'In', ips(from), protocol, port);
}
