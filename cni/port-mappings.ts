/**
 * The `portMappings` capability (CONVENTIONS.md): `runtimeConfig.portMappings`, a list of
 * `{hostPort, containerPort, protocol, hostIP}`, checked and turned into PortMappings.
 * hostPort 0 (or absent) asks the driver to pick a free host port.
 */
import { DecodeError, InvalidConfigError } from '../core/errors.js';
import { IpAddress } from '../core/ip.js';
import type { PortMapping } from '../core/model.js';
import { optInt, optString, type Conf } from '../core/conf-fields.js';

const KEY = 'runtimeConfig.portMappings';

/**
 * The request's port mappings; none when the capability is absent. `protocols` are the ones
 * the driver publishes, `families` the host address families it can bind to.
 */
export function parsePortMappings(runtimeConfig: Conf, opts: { readonly protocols: readonly PortMapping['protocol'][]; readonly families: readonly (4 | 6)[] }): PortMapping[] {
  const raw = runtimeConfig.portMappings;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new DecodeError(`${KEY} must be an array`, { field: KEY });
  return raw.map((entry: unknown, i) => {
    const at = `${KEY}[${i}].`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new DecodeError(`${KEY}[${i}] must be an object`, { field: `${KEY}[${i}]` });
    const e = entry as Conf;
    const containerPort = optInt(e, 'containerPort', { min: 1, max: 65535 }, at);
    if (containerPort === undefined) throw new InvalidConfigError(`${at}containerPort is required`, { field: `${at}containerPort` });
    const hostPort = optInt(e, 'hostPort', { min: 0, max: 65535 }, at) ?? 0;
    const protocol = (optString(e, 'protocol', at) || 'tcp').toLowerCase();
    if (!(opts.protocols as readonly string[]).includes(protocol)) {
      throw new InvalidConfigError(`${at}protocol ${JSON.stringify(e.protocol)} is not supported: this plugin publishes ${opts.protocols.join(' and ')} ports only`, {
        field: `${at}protocol`,
        value: String(e.protocol),
      });
    }
    const hostIp = parseHostIp(optString(e, 'hostIP', at) ?? '', `${at}hostIP`, opts.families);
    return { protocol: protocol as PortMapping['protocol'], ...(hostIp ? { hostIp } : {}), hostPort, containerPort };
  });
}

/** '' and the unspecified address mean "every host address". */
function parseHostIp(text: string, field: string, families: readonly (4 | 6)[]): IpAddress | undefined {
  if (text === '') return undefined;
  const ip = IpAddress.tryParse(text);
  if (!ip) throw new InvalidConfigError(`${field} ${JSON.stringify(text)} is not an IP address`, { field, value: text });
  if (!families.includes(ip.family)) throw new InvalidConfigError(`${field} ${text} cannot be used: this plugin publishes on IPv${families.join('/IPv')} addresses only`, { field, value: text });
  return ip.value === 0n ? undefined : ip;
}
