/**
 * Who is on the other end of a unix socket: SO_PEERCRED, which the kernel fills in at
 * connect time (the peer cannot forge it). Node does not expose it, so it goes through libc.
 */
import { KernelError } from '../../core/errors.js';
import { SOL_SOCKET, SO_PEERCRED, libc } from './libc.js';

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** The credentials of the peer of the connected unix socket `fd`. */
export function peerCredentials(fd: number): PeerCredentials {
  const c = libc();
  const buf = new Uint8Array(12);
  const len = new Uint32Array([12]);
  if (c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) {
    const errno = c.errno();
    throw new KernelError(`Cannot read the peer's credentials: ${c.strerror(errno)}`, { errno, operation: 'getsockopt SO_PEERCRED' });
  }
  const view = new DataView(buf.buffer);
  return { pid: view.getInt32(0, true), uid: view.getUint32(4, true), gid: view.getUint32(8, true) };
}
