/**
 * What the macvlan drivers record per endpoint (drivers/endpoint/records.ts keeps the files,
 * under `<runDir>/macvlan/`): where its interface is and which addresses it holds. Written once
 * the endpoint is complete, removed with it.
 */
import { EndpointRecords } from '../endpoint/records.js';

export interface EndpointRecord {
  readonly containerId: string;
  readonly ifname: string;
  /** The sandbox's netns path; empty for Docker (Docker moves the interface itself). */
  readonly netns: string;
  /** The addresses, as CIDR text (routed to via the host shim). */
  readonly addresses: readonly string[];
  /** The DHCP lease's key when the address is leased. */
  readonly dhcpKey?: string;
}

export type MacvlanRecords = EndpointRecords<EndpointRecord>;

export function macvlanRecords(runDir: string): MacvlanRecords {
  return new EndpointRecords<EndpointRecord>(runDir, 'macvlan');
}
