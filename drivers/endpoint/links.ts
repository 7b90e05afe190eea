/**
 * Link names and deletes every driver's endpoints use: names derived from the attachment, so
 * DEL and GC find an endpoint's links without state, and deletes that accept "already gone"
 * (DEL and delete are idempotent).
 */
import { stableHash } from '../../core/stable-hash.js';
import { NotFoundError } from '../../core/errors.js';
import type { IpWithPrefix } from '../../core/ip.js';
import type { LinkInfo, Netlink } from '../../dataplane/linux/ports.js';

/** `prefix` + 12 hex of (network, container, interface): 14 characters, under IFNAMSIZ. */
export function attachmentLinkName(prefix: string, network: string, containerId: string, ifname: string): string {
  return prefix + stableHash(`${network}\0${containerId}\0${ifname}`, 12);
}

/** The link, which must exist: it was made a moment ago. */
export function mustGetLink(nl: Netlink, name: string): LinkInfo {
  const l = nl.getLink(name);
  if (!l) throw new NotFoundError(`link ${name} vanished while being configured`, { operation: `ip link show ${name}` });
  return l;
}

export function deleteLinkIgnoringAbsent(nl: Netlink, index: number): void {
  try {
    nl.deleteLink(index);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}

export function deleteAddressIgnoringAbsent(nl: Netlink, index: number, a: IpWithPrefix): void {
  try {
    nl.deleteAddress(index, a);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}
