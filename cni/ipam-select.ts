/** Picks the AddressSource for a configuration's `ipam` section. */
import { DecodeError } from '../core/errors.js';
import { BerthIpam } from './berth-ipam-source.js';
import { DelegatedIpam } from './delegated-ipam.js';
import type { AddressSource } from './ipam-source.js';
import type { CniRequest } from './skel.js';

/** berth-ipam runs in-process; another type is delegated; no `ipam` (or `{}`) means no addresses. */
export function openAddressSource(req: CniRequest): AddressSource | undefined {
  const ipam = req.conf.ipam;
  if (ipam === undefined || ipam === null) return undefined;
  if (typeof ipam !== 'object' || Array.isArray(ipam)) throw new DecodeError('ipam must be an object', { field: 'ipam' });
  const type = (ipam as { type?: unknown }).type;
  if (type === undefined && Object.keys(ipam).length === 0) return undefined;
  if (typeof type !== 'string' || type === '') throw new DecodeError('ipam.type must name an IPAM plugin', { field: 'ipam.type' });
  return type === 'berth-ipam' ? new BerthIpam() : new DelegatedIpam(type);
}
