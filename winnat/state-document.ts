/**
 * NatState as a JSON document, the form the state port stores. Addresses are canonical
 * text; a document this version cannot read is an error, never an empty state (an empty
 * state would hand out ports that are in use).
 */
import { IoError } from '../core/errors.js';
import { IpAddress, IpPrefix } from '../core/ip.js';
import { EMPTY_STATE, NAT_PROTOCOLS, type NatInstanceSpec, type NatProtocol, type NatState, type StaticMapping } from './model.js';

const FORMAT = 1;

/** The stored form. Plain JSON: strings, numbers, booleans, arrays and objects. */
export interface NatStateDocument {
  readonly format: number;
  readonly instances: readonly { readonly name: string; readonly prefix: string; readonly interface: string; readonly loopback: boolean }[];
  /** One line per mapping: `nat proto extAddr|* extPort extPortEnd intAddr intPort e|s containerId endpoint`. */
  readonly mappings: readonly string[];
  readonly cursors: Readonly<Record<string, number>>;
}

/** The stored form of a state. */
export function encodeState(s: NatState): NatStateDocument {
  return {
    format: FORMAT,
    instances: s.instances.map((i) => ({ name: i.name, prefix: i.internalPrefix.toString(), interface: i.internalInterface, loopback: i.loopback })),
    mappings: s.mappings.map(encodeMapping),
    cursors: { ...s.cursors },
  };
}

/** The state a stored document holds; none is the empty state. IoError for a document this code cannot read. */
export function decodeState(doc: unknown): NatState {
  if (doc === undefined || doc === null) return EMPTY_STATE;
  const d = doc as Partial<NatStateDocument>;
  if (d.format !== FORMAT || !Array.isArray(d.instances) || !Array.isArray(d.mappings)) {
    throw unreadable(`it has format ${JSON.stringify(d.format)}, this berth reads format ${FORMAT}`);
  }
  try {
    const instances: NatInstanceSpec[] = d.instances.map((i) => ({
      name: i.name,
      internalPrefix: IpPrefix.parse(i.prefix),
      internalInterface: i.interface,
      loopback: i.loopback === true,
    }));
    const cursors = { ...EMPTY_STATE.cursors };
    for (const p of NAT_PROTOCOLS) {
      const c = d.cursors?.[p];
      if (typeof c === 'number' && Number.isInteger(c)) cursors[p] = c;
    }
    return { instances, mappings: d.mappings.map(decodeMapping), cursors };
  } catch (err) {
    throw unreadable(err instanceof Error ? err.message : String(err));
  }
}

// Space-separated fields: names, container ids and endpoints never contain spaces (CNI and
// Docker validate them), and a line parses faster than an object for large tables.
function encodeMapping(m: StaticMapping): string {
  return [
    m.nat,
    m.protocol,
    m.externalAddress?.toString() ?? '*',
    m.externalPort,
    m.externalPortEnd,
    m.internalAddress.toString(),
    m.internalPort,
    m.ephemeral ? 'e' : 's',
    m.owner.containerId,
    m.owner.endpoint,
  ].join(' ');
}

function decodeMapping(line: string): StaticMapping {
  const f = line.split(' ');
  if (f.length !== 10) throw new Error(`mapping ${JSON.stringify(line)} has ${f.length} fields, not 10`);
  const [nat, protocol, ext, port, portEnd, internal, internalPort, kind, containerId, endpoint] = f as [string, string, string, string, string, string, string, string, string, string];
  if (!(NAT_PROTOCOLS as readonly string[]).includes(protocol)) throw new Error(`mapping ${JSON.stringify(line)} has protocol ${protocol}`);
  return {
    nat,
    owner: { containerId, endpoint },
    protocol: protocol as NatProtocol,
    ...(ext !== '*' ? { externalAddress: IpAddress.parse(ext) } : {}),
    externalPort: Number(port),
    externalPortEnd: Number(portEnd),
    internalAddress: IpAddress.parse(internal),
    internalPort: Number(internalPort),
    ephemeral: kind === 'e',
  };
}

function unreadable(why: string): IoError {
  return new IoError(`Cannot read the NAT state: ${why}`, { operation: 'read NAT state' });
}
