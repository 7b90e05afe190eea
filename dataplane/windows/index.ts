/**
 * berth's Windows dataplane: the HCN documents (HostComputeNetwork, HostComputeEndpoint) that
 * the drivers' decisions mean on Windows, Microsoft's CNI configuration shape, and the binding
 * to computenetwork.dll that would hand them to HNS (loaded only on Windows). See the README's
 * "Windows" section for what is verified where.
 */
export * from './hcn-schema.js';
export * from './documents.js';
export * from './cni-conf.js';
export * from './hns-v1.js';
export { openHcn, type HcnHandle, type HostComputeNetworking } from './hcn-api.js';
export type * from './host-facts.js';
