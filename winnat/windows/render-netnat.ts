/**
 * WinNAT's state as the NetNat PowerShell commands that would set it up by hand (the Hyper-V
 * NAT guide's way): `New-NetNat` per instance, then `Add-NetNatStaticMapping` per external
 * port. Pure. On a host where HNS manages the NAT networks, HNS issues the equivalent itself;
 * this is the operator's view of the same state.
 *
 * String values are PowerShell single-quoted literals (nothing inside is expanded); port
 * numbers and the `-Protocol` enum are bare.
 */
import type { NatDescription, NatStaticMappingView } from '../describe.js';

/** Commands in order: every instance (by name), then every mapping (by instance, protocol, port). */
export function renderNetNatCommands(d: NatDescription): string[] {
  return [
    ...d.nats.map((n) => `New-NetNat -Name ${psQuote(n.name)} -InternalIPInterfaceAddressPrefix ${psQuote(n.internalIPInterfaceAddressPrefix)}`),
    ...d.staticMappings.flatMap(staticMappingCommands),
  ];
}

/** `Add-NetNatStaticMapping` maps one port: a range becomes one command per port, paired 1:1. */
export function staticMappingCommands(m: NatStaticMappingView): string[] {
  const out: string[] = [];
  for (let port = m.externalPort; port <= m.externalPortEnd; port++) {
    out.push(
      [
        'Add-NetNatStaticMapping',
        `-NatName ${psQuote(m.natName)}`,
        `-Protocol ${m.protocol}`,
        `-ExternalIPAddress ${psQuote(m.externalIPAddress)}`,
        `-ExternalPort ${port}`,
        `-InternalIPAddress ${psQuote(m.internalIPAddress)}`,
        `-InternalPort ${m.internalPort + (port - m.externalPort)}`,
      ].join(' '),
    );
  }
  return out;
}

// PowerShell ends a single-quoted string at any of these (the typographic ones too); each is
// escaped by doubling it.
const SINGLE_QUOTES = /['\u2018\u2019\u201a\u201b]/g;

/** `value` as a PowerShell verbatim string: `'it''s'`. */
export function psQuote(value: string): string {
  return `'${value.replace(SINGLE_QUOTES, (q) => q + q)}'`;
}
