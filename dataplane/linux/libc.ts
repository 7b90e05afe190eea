/**
 * The few libc calls the dataplane makes through koffi. They are bound on first use, so a
 * process that never touches netlink or namespaces never loads koffi.
 *
 * Every call is synchronous and runs on the calling (main) thread. That matters for setns(2),
 * which moves only the calling thread: koffi's `.async` variants would run on a worker
 * thread that never switched namespace, so they are never used here.
 */
import { loadKoffi } from '../../core/native.js';

export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const MSG_PEEK = 0x02;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_PEERCRED = 17;
export const SO_ATTACH_FILTER = 26;

export const EINTR = 4;
export const EAGAIN = 11;

/** The bound functions; each returns -1 and sets errno on failure, as in C. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, addrlen: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint32Array): number;
  /** SO_ATTACH_FILTER: a classic BPF program of `count` 8-byte instructions (struct sock_fprog). */
  attachFilter(fd: number, program: Uint8Array, count: number): number;
  /** The index of the interface `name` in the thread's network namespace; 0 when there is none. */
  ifNameToIndex(name: string): number;
  setns(fd: number, nstype: number): number;
  close(fd: number): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
  /** The C library's text for an errno ("File exists"). */
  strerror(errno: number): string;
}

let bound: Libc | undefined;

/** Binds libc on first call and returns the same bindings afterwards. */
export function libc(): Libc {
  if (bound) return bound;
  const koffi = loadKoffi();
  let lib;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    // Not glibc (musl): the symbols are reachable through the process's global scope.
    lib = koffi.load(null);
  }
  const strerror = lib.func('const char *strerror(int errnum)');
  const fprog = koffi.struct('berth_sock_fprog', { len: 'uint16_t', filter: 'void *' });
  const setFilter = lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(fprog), 'uint32_t']);
  bound = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, void *addr, uint32_t addrlen)'),
    sendto: lib.func('intptr_t sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t addrlen)'),
    recv: lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, void *value, uint32_t len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, _Inout_ void *value, _Inout_ uint32_t *len)'),
    attachFilter: (fd: number, program: Uint8Array, count: number) => setFilter(fd, SOL_SOCKET, SO_ATTACH_FILTER, { len: count, filter: program }, koffi.sizeof(fprog)) as number,
    ifNameToIndex: lib.func('unsigned int if_nametoindex(const char *ifname)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
    strerror: (errno: number) => String(strerror(errno) ?? `errno ${errno}`),
  };
  return bound;
}
