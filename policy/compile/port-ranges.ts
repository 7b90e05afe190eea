/**
 * NetworkPolicy ports as port ranges: numeric entries as written (`port`, `port..endPort`, or
 * the whole protocol), named entries resolved on one destination pod. Ranges are merged so
 * that no two overlap (an nftables interval set refuses overlapping elements).
 */
import type { Protocol } from '../../core/model.js';
import type { NamedContainerPort, PolicyPort, PolicyProtocol } from '../model/types.js';
import type { PortRange } from './ir.js';

/** `TCP` → `tcp`. */
export function protocolOf(p: PolicyProtocol): Protocol {
  return p.toLowerCase() as Protocol;
}

/** The numeric entries of a rule's ports as ranges (named entries are left out). */
export function numericPortRanges(ports: readonly PolicyPort[]): PortRange[] {
  const out: PortRange[] = [];
  for (const p of ports) {
    if (typeof p.port === 'string') continue;
    const protocol = protocolOf(p.protocol);
    if (p.port === undefined) out.push({ protocol, first: 0, last: 65535 });
    else out.push({ protocol, first: p.port, last: p.endPort ?? p.port });
  }
  return mergePortRanges(out);
}

/**
 * The named entries of a rule resolved on one pod: a name matches a container port with the
 * same name AND the entry's protocol (`serve-80-udp` with the TCP default matches nothing).
 * The result is single ports (sorted, unique), never joined into ranges: they become
 * elements of exact-match sets.
 */
export function resolveNamedPorts(ports: readonly PolicyPort[], podPorts: readonly NamedContainerPort[]): PortRange[] {
  const out: PortRange[] = [];
  for (const p of ports) {
    if (typeof p.port !== 'string') continue;
    const hit = podPorts.find((c) => c.name === p.port && c.protocol === p.protocol);
    const protocol = protocolOf(p.protocol);
    if (hit && !out.some((r) => r.protocol === protocol && r.first === hit.port)) out.push({ protocol, first: hit.port, last: hit.port });
  }
  return out.sort((a, b) => PROTOCOL_ORDER[a.protocol] - PROTOCOL_ORDER[b.protocol] || a.first - b.first);
}

/** Whether a rule names ports by name. */
export function hasNamedPorts(ports: readonly PolicyPort[]): boolean {
  return ports.some((p) => typeof p.port === 'string');
}

const PROTOCOL_ORDER: Record<Protocol, number> = { tcp: 0, udp: 1, sctp: 2 };

/** Sorted by protocol then port, overlapping and adjacent ranges joined. */
export function mergePortRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => PROTOCOL_ORDER[a.protocol] - PROTOCOL_ORDER[b.protocol] || a.first - b.first);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.protocol === r.protocol && r.first <= last.last + 1) {
      if (r.last > last.last) out[out.length - 1] = { ...last, last: r.last };
    } else {
      out.push(r);
    }
  }
  return out;
}

/** Whether `port` of `protocol` is in one of the ranges. */
export function portsContain(ranges: readonly PortRange[], protocol: Protocol, port: number): boolean {
  return ranges.some((r) => r.protocol === protocol && port >= r.first && port <= r.last);
}

/** `80/TCP`, `80-90/TCP`, `all/UDP`. */
export function formatPortRange(r: PortRange): string {
  const ports = r.first === 0 && r.last === 65535 ? 'all' : r.first === r.last ? String(r.first) : `${r.first}-${r.last}`;
  return `${ports}/${r.protocol.toUpperCase()}`;
}
