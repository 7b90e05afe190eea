/**
 * What the l2bridge driver records per endpoint (drivers/endpoint/records.ts keeps the files,
 * under `<runDir>/l2bridge/`). It is written before the endpoint's first kernel object, so that
 * a DEL or GC after a killed create still knows which proxy entries on the uplink are the
 * endpoint's (they outlive its links), and it says which endpoints a network has (the last one
 * takes the network's rules with it).
 */
import { EndpointRecords } from '../endpoint/records.js';

export interface L2BridgeEndpointRecord {
  readonly containerId: string;
  readonly ifname: string;
  /** The sandbox's netns path; empty for Docker (Docker moves the container's end itself). */
  readonly netns: string;
  readonly hostVeth: string;
  /** The uplink the proxy entries are on. */
  readonly uplink: string;
  /** The container's addresses, as CIDR text. */
  readonly addresses: readonly string[];
  /** The uplink's prefixes the addresses lie in: let in routed through other owners' forward drops. */
  readonly routed: readonly string[];
}

export type L2BridgeRecords = EndpointRecords<L2BridgeEndpointRecord>;

export function l2bridgeRecords(runDir: string): L2BridgeRecords {
  return new EndpointRecords<L2BridgeEndpointRecord>(runDir, 'l2bridge');
}
