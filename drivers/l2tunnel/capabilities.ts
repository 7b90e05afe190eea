import type { DriverCapabilities } from '../driver.js';

/** Plain data (drivers/catalog.ts reads it without loading the driver). */
export const L2TUNNEL_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true });
