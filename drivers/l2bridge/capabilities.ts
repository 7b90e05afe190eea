import type { DriverCapabilities } from '../driver.js';

/** Plain data (drivers/catalog.ts reads it without loading the driver): static addresses from IPAM, in the host's own prefixes. */
export const L2BRIDGE_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true });
