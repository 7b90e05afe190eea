import type { DriverCapabilities } from '../driver.js';

/** Plain data (drivers/catalog.ts reads it without loading the driver). Addresses from IPAM, or from DHCP (the driver then reports them). */
export const TRANSPARENT_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true });
