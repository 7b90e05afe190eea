/** The published ports berthd holds (`berth nat ls --format json`), for the topology. */
import { BERTH } from './lab-namespace.js';
import { runCommand } from './process.js';
import type { TopoPort } from './topology.js';

export interface NatMapping {
  readonly natName: string;
  readonly protocol: string;
  readonly externalIPAddress: string;
  readonly externalPort: number;
  readonly internalIPAddress: string;
  readonly internalPort: number;
  readonly ephemeral: boolean;
}

export async function natMappings(): Promise<NatMapping[]> {
  const r = await runCommand([process.execPath, BERTH, 'nat', 'ls', '--format', 'json']);
  if (r.code !== 0) return [];
  return (JSON.parse(r.stdout) as { staticMappings: NatMapping[] }).staticMappings;
}

/** The mappings as ports of host `host`. */
export async function publishedPorts(host = 'host'): Promise<TopoPort[]> {
  return (await natMappings()).map((m) => ({
    host,
    protocol: m.protocol,
    externalAddress: m.externalIPAddress,
    externalPort: m.externalPort,
    internalAddress: m.internalIPAddress,
    internalPort: m.internalPort,
  }));
}
