import type { DriverCapabilities } from '../driver.js';

/** Plain data (drivers/catalog.ts reads it without loading the driver). */
export const OVERLAY_CAPABILITIES: DriverCapabilities = Object.freeze({ addressing: 'driver', needsClusterStore: true, portMappings: false, ipv6: false });
