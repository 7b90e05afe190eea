import type { DriverCapabilities } from '../driver.js';

/** The nat driver's capabilities (read by drivers/catalog.ts without loading the driver). */
export const NAT_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'ipam', needsClusterStore: false, portMappings: true, ipv6: false });
