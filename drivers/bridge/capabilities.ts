import type { DriverCapabilities } from '../driver.js';

/** The bridge driver's capabilities (read by drivers/catalog.ts without loading the driver). */
export const BRIDGE_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true });
