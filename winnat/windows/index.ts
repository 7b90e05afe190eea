/**
 * WinNAT's Windows dataplane, rendered and not executed: the HCN documents HNS would be given
 * (a `NAT` HostComputeNetwork per instance, a HostComputeEndpoint with `PortMapping` policies
 * per endpoint holding mappings) and the equivalent NetNat commands, plus what neither can
 * say. Pure; see README.md in the parent folder.
 *
 * @example
 * ```ts
 * const w = renderWindowsNat(decodeState(doc));
 * w.hcn[0].network;  // { Name: 'n1', Type: 'NAT', Ipams: [...], SchemaVersion: { Major: 2, Minor: 0 } }
 * w.netNat[0];       // "New-NetNat -Name 'n1' -InternalIPInterfaceAddressPrefix '10.1.0.0/24'"
 * ```
 */
import { describeState, type NatDescription } from '../describe.js';
import type { NatState } from '../model.js';
import { renderHcnNetworks, type HcnNatNetwork, type HcnRenderOptions } from './render-hcn.js';
import { renderNetNatCommands } from './render-netnat.js';

export type { HcnNatEndpoint, HcnNatNetwork, HcnRenderOptions } from './render-hcn.js';
export { portMappingPolicies, renderHcnNetworks } from './render-hcn.js';
export { psQuote, renderNetNatCommands, staticMappingCommands } from './render-netnat.js';
export * from './hcn-schema.js';

/** Both Windows views of one state, and what they leave out. */
export interface WindowsNatRendering {
  readonly hcn: readonly HcnNatNetwork[];
  /** PowerShell, one command per entry. */
  readonly netNat: readonly string[];
  /** Each a sentence on something of the state that HNS and NetNat cannot express. */
  readonly notes: readonly string[];
}

/** The Windows views of WinNAT's state. */
export function renderWindowsNat(state: NatState, options: HcnRenderOptions = {}): WindowsNatRendering {
  return renderWindowsNatDescription(describeState(state), options);
}

/** The same from the state's description (what berthd's API and `describeNat` return). */
export function renderWindowsNatDescription(d: NatDescription, options: HcnRenderOptions = {}): WindowsNatRendering {
  return { hcn: renderHcnNetworks(d, options), netNat: renderNetNatCommands(d), notes: windowsNotes(d) };
}

/** What the Windows views drop or change, in the order of the instances and mappings. */
export function windowsNotes(d: NatDescription): string[] {
  const notes: string[] = [];
  for (const n of d.nats) {
    if (!n.loopback) continue;
    notes.push(
      `NAT instance "${n.name}" has loopback on, which HNS and NetNat have no setting for: Windows 10 1809 / Server 2019 and later let the host reach published ports ` +
        "through localhost regardless (earlier releases never did), and no release offers containers their published ports through the host's address.",
    );
  }
  if (d.nats.length > 1) {
    notes.push(
      `${d.nats.length} NAT instances side by side: Windows allows several NAT networks from Windows 10 1703 on (one NAT prefix per host before), ` +
        'and does not carry traffic between NAT subnets, which berth passes untranslated.',
    );
  }
  for (const m of d.staticMappings) {
    if (m.externalPortEnd === m.externalPort) continue;
    const count = m.externalPortEnd - m.externalPort + 1;
    notes.push(`${m.protocol} ${m.externalIPAddress}:${m.externalPort}-${m.externalPortEnd} of NAT instance "${m.natName}": HCN and NetNat map single ports, so the range is ${count} mappings.`);
  }
  return notes;
}
