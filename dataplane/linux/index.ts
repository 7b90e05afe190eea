/**
 * The Linux dataplane: rtnetlink over FFI, network namespaces, sysctls and nftables.
 * Nothing here does work at import time; koffi, libc and libnftables load on first use.
 *
 * @example
 * ```ts
 * const nl = openNetlink('/var/run/netns/pod1'); // socket bound to pod1's namespace
 * nl.setLink(nl.getLink('eth0')!.index, { up: true });
 * nl.close();
 * ```
 */
export type * from './ports.js';
export { closeFd, inNetns, isOwnNetns, netnsExists, openNetlink, openNetnsFd } from './netns.js';
export { NetlinkHandle } from './netlink/handle.js';
export { openSysctl, sysctl, sysctlPath } from './sysctl.js';
export { openNftables } from './nftables.js';
export { VXLAN_DEFAULT_PORT } from './netlink/links.js';
export { NftForwardPassage } from './firewall/forward-passage.js';
export { peerCredentials, type PeerCredentials } from './peer-credentials.js';
export { openDhcpSocket, openDhcpSocketFrom, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, type DhcpSocket } from './dhcp-socket.js';
