/**
 * What the driver contract suite needs to know about each driver of the catalog: a network
 * configuration it accepts, and how to make an endpoint drift for CHECK to see. A catalog
 * entry without a subject fails the suite, so every new driver brings one.
 */
import type { DriverName } from '../../../core/model.js';

export interface ContractSubject {
  /** The CNI network configuration's keys (the driver's module parses them). */
  readonly conf: Readonly<Record<string, unknown>>;
  /** The network's IPv4 subnet, and the gateway when the driver puts one on the host. */
  readonly subnet: string;
  readonly gateway?: string;
}

export const SUBJECTS: Readonly<Partial<Record<DriverName, ContractSubject>>> = {
  bridge: { conf: { bridge: 'bk-contract', isGateway: true, ipMasq: true }, subnet: '10.213.0.0/24', gateway: '10.213.0.1' },
  nat: { conf: { bridge: 'bk-contractn' }, subnet: '10.214.0.0/24', gateway: '10.214.0.1' },
};
