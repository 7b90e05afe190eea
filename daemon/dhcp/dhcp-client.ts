/**
 * berthd's DHCP client (drivers/dhcp.ts): leases for the interfaces of containers' namespaces,
 * every packet sent from the interface itself (dataplane/linux/dhcp-socket.ts).
 *
 * acquire: DISCOVER, OFFER, REQUEST, ACK (a NAK or a lost ACK starts over), retransmitted
 * until the timeout, then a TryAgainError. The lease is recorded (lease-records.ts) before it
 * is returned, and kept: a timer per lease wakes at T1 to renew (REQUEST unicast to the server
 * from the leased address), at T2 to rebind (broadcast), and at expiry to let go and log it.
 * Times come from lease-timing.ts and are absolute, so `resume()` after a restart schedules
 * from the records. A lease whose namespace or interface is gone is dropped, not renewed.
 *
 * Operations on one key run one at a time (a release waits for the acquire or renewal in
 * progress); different keys run side by side.
 */
import { InvalidConfigError, IoError, NotFoundError, NetnsNotFoundError, TryAgainError, asBerthError } from '../../core/errors.js';
import type { IpAddress } from '../../core/ip.js';
import { netnsExists, openDhcpSocket, openDhcpSocketFrom, openNetlink, type DhcpSocket } from '../../dataplane/linux/index.js';
import type { DhcpClient, DhcpLease, DhcpRequest } from '../../drivers/dhcp.js';
import type { Log } from '../log.js';
import { BROADCAST, answers, discover, leaseOf, offerOf, release, requestExtend, requestOffer, type ClientIdentity, type GrantedLease } from './client-messages.js';
import { MessageType, macBytes } from './dhcp-message.js';
import { LeaseRecords, dhcpLeaseOf, type HeldLease } from './lease-records.js';
import { nextWake, phaseAt, type LeasePhase } from './lease-timing.js';
import { transact, type Clock } from './transaction.js';

export interface DhcpClientOptions {
  /** berthd's data directory: leases are recorded under `<dataDir>/dhcp/`. */
  readonly dataDir: string;
  readonly log: Log;
  /** How long acquire tries before its TryAgainError. @default 10000 */
  readonly timeoutMs?: number;
  /** Between retransmissions of a message (±25 %). @default 2000 */
  readonly retransmitMs?: number;
  /** The least time between two failed renewals (RFC 2131 §4.4.5). @default 60000 */
  readonly minRetryMs?: number;
}

/** Where a lease's packets go out: the endpoint's interface, by name or else by its MAC. */
export interface LeaseInterface {
  readonly netnsPath: string;
  readonly ifname: string;
  readonly mac: string;
}

/** What the client touches on the host; the unit tests give fakes. */
export interface DhcpClientPorts {
  /**
   * Port 68 on the interface; bound to `from` when given, undefined when `from` is not on the
   * interface. The interface is found by name, else by MAC: Docker renames it when it moves it
   * into the sandbox. NotFoundError when neither is there.
   */
  openSocket(where: LeaseInterface, from?: IpAddress): DhcpSocket | undefined;
  netnsExists(path: string): boolean;
  readonly clock: Clock;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The longest delay setTimeout takes (a longer one fires at once); longer waits are chained. */
const MAX_TIMER_MS = 0x7fffffff;
/** NAKs in a row after which acquire gives up (the server refuses every offer it makes). */
const MAX_NAKS = 3;

export const linuxDhcpPorts: DhcpClientPorts = {
  openSocket: (where, from) => {
    const ifname = interfaceIn(where);
    return from ? openDhcpSocketFrom(where.netnsPath, ifname, from) : openDhcpSocket(where.netnsPath, ifname);
  },
  netnsExists,
  clock: { now: () => Date.now(), random: () => Math.random() },
  // Unref'd: pending renewals never keep a stopping process alive.
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Entry extends HeldLease {
  timer?: unknown;
}

type Extension = { readonly kind: 'ack'; readonly lease: GrantedLease } | { readonly kind: 'nak' };

export class BerthdDhcpClient implements DhcpClient {
  private readonly records: LeaseRecords;
  private readonly log: Log;
  private readonly timeoutMs: number;
  private readonly retransmitMs: number;
  private readonly minRetryMs: number;
  private readonly held = new Map<string, Entry>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly sockets = new Set<DhcpSocket>();
  private stopped = false;

  constructor(
    opts: DhcpClientOptions,
    private readonly ports: DhcpClientPorts = linuxDhcpPorts,
  ) {
    this.records = new LeaseRecords(opts.dataDir);
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retransmitMs = opts.retransmitMs ?? 2_000;
    this.minRetryMs = opts.minRetryMs ?? 60_000;
  }

  /** How many leases are held. */
  get size(): number {
    return this.held.size;
  }

  acquire(req: DhcpRequest): Promise<DhcpLease> {
    const request: DhcpRequest = { ...req, mac: req.mac.toLowerCase().replaceAll('-', ':') };
    if (macBytes(request.mac).every((b) => b === 0)) {
      return Promise.reject(new InvalidConfigError(`Cannot lease an address for ${req.ifname}: it has no usable MAC address (${JSON.stringify(req.mac)})`, { field: 'mac', value: req.mac }));
    }
    return this.serial(req.key, async () => {
      if (this.stopped) throw new TryAgainError(`Cannot lease an address for ${req.ifname}: berthd's DHCP client is stopping`);
      const now = this.ports.clock.now();
      const known = this.held.get(req.key);
      if (known) {
        const same = known.request.netnsPath === request.netnsPath && known.request.ifname === request.ifname && known.request.mac === request.mac;
        if (same && phaseAt(known.lease.times, now) !== 'expired') return dhcpLeaseOf(known.lease);
        // The key moved to another interface (the container was made again): the old lease is stale.
        this.drop(known, 'debug', 'DHCP lease replaced by a new acquire');
      }
      const lease = await this.obtain(request);
      const entry: Entry = { request, lease };
      try {
        this.records.write(entry);
      } catch (err) {
        this.sendRelease(entry);
        throw new IoError(`Cannot record the DHCP lease of ${req.ifname} under ${this.records.dir}: ${(err as Error).message}`, { value: this.records.dir }, { cause: err });
      }
      this.held.set(req.key, entry);
      this.schedule(entry, nextWake(lease.times, this.ports.clock.now(), false, this.minRetryMs));
      this.log.info('DHCP lease acquired', { ...this.fields(entry), renewAt: dhcpLeaseOf(lease).renewAt, expiresAt: dhcpLeaseOf(lease).expiresAt });
      return dhcpLeaseOf(lease);
    });
  }

  lease(key: string): DhcpLease | undefined {
    const e = this.held.get(key);
    if (!e || phaseAt(e.lease.times, this.ports.clock.now()) === 'expired') return undefined;
    return dhcpLeaseOf(e.lease);
  }

  release(key: string): Promise<void> {
    return this.serial(key, async () => {
      const e = this.held.get(key);
      if (!e) {
        this.records.remove(key);
        return;
      }
      this.cancel(e);
      this.held.delete(key);
      if (phaseAt(e.lease.times, this.ports.clock.now()) !== 'expired' && this.ports.netnsExists(e.request.netnsPath)) this.sendRelease(e);
      this.records.remove(key);
      this.log.info('DHCP lease released', this.fields(e));
    });
  }

  /**
   * After a restart: every recorded lease whose namespace still exists and which has not
   * expired is held again and renewed on schedule (at once when T1 passed while berthd was
   * down); the others' records are removed.
   */
  resume(): { resumed: number; dropped: number } {
    const { held, unreadable } = this.records.list();
    for (const u of unreadable) this.log.warn('DHCP: ignoring an unreadable lease record', { file: u.file, reason: u.reason });
    let resumed = 0;
    let dropped = 0;
    const now = this.ports.clock.now();
    for (const h of held) {
      if (this.held.has(h.request.key)) continue;
      const entry: Entry = { request: h.request, lease: h.lease };
      if (!this.ports.netnsExists(h.request.netnsPath)) {
        this.records.remove(h.request.key);
        this.log.info('DHCP lease dropped: its namespace is gone', this.fields(entry));
        dropped++;
      } else if (phaseAt(h.lease.times, now) === 'expired') {
        this.records.remove(h.request.key);
        this.log.warn('DHCP lease dropped: it expired while berthd was down', { ...this.fields(entry), expiresAt: dhcpLeaseOf(h.lease).expiresAt });
        dropped++;
      } else {
        this.held.set(h.request.key, entry);
        this.schedule(entry, nextWake(h.lease.times, now, false, this.minRetryMs));
        resumed++;
      }
    }
    if (resumed + dropped > 0) this.log.info('DHCP leases resumed', { resumed, dropped });
    return { resumed, dropped };
  }

  /**
   * The endpoint's interface moved to the namespace at `netnsPath` (Docker moves it into the
   * sandbox after Join, and out again before DeleteEndpoint): renewals and the release go from
   * there. An unknown key is a NotFoundError.
   */
  follow(key: string, netnsPath: string): Promise<void> {
    return this.serial(key, async () => {
      const e = this.held.get(key);
      if (!e) throw new NotFoundError(`No DHCP lease is held for ${key}`, { field: 'key', value: key });
      if (e.request.netnsPath === netnsPath) return;
      const moved: Entry = { request: { ...e.request, netnsPath }, lease: e.lease };
      this.cancel(e);
      this.records.write(moved);
      this.held.set(key, moved);
      this.schedule(moved, nextWake(moved.lease.times, this.ports.clock.now(), false, this.minRetryMs));
      this.log.debug('DHCP lease follows its interface', this.fields(moved));
    });
  }

  /** Stops every timer and exchange; the records stay for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.held.values()) this.cancel(e);
    for (const s of this.sockets) s.close();
    await Promise.all([...this.chains.values()]);
  }

  /** DISCOVER → OFFER → REQUEST → ACK until the timeout. */
  private async obtain(req: DhcpRequest): Promise<GrantedLease> {
    const { clock } = this.ports;
    const id = identity(req);
    const deadline = clock.now() + this.timeoutMs;
    let naks = 0;
    const lease = await this.withSocket(this.open(req), async (socket) => {
      while (clock.now() < deadline && !this.stopped) {
        const xid = this.xid();
        const offer = await transact(socket, clock, {
          message: (elapsed) => ({ bytes: discover(id, xid, secs(elapsed)), to: BROADCAST }),
          accept: (m) => (answers(m, xid, id) ? offerOf(m) : undefined),
          deadline,
          retransmitMs: this.retransmitMs,
        });
        if (!offer) return undefined;
        let sentAt = clock.now();
        const reply = await transact(socket, clock, {
          message: (elapsed) => {
            sentAt = clock.now();
            return { bytes: requestOffer(id, xid, secs(elapsed), offer), to: BROADCAST };
          },
          accept: (m) => (answers(m, xid, id) && (m.type === MessageType.Ack || m.type === MessageType.Nak) ? m : undefined),
          deadline,
          retransmitMs: this.retransmitMs,
        });
        if (!reply) return undefined;
        if (reply.type === MessageType.Nak) {
          this.log.debug('DHCP: the server refused the request (NAK); starting over', { key: req.key, ifname: req.ifname, server: String(offer.server) });
          if (++naks >= MAX_NAKS) return undefined;
          continue;
        }
        const granted = leaseOf(reply, sentAt, offer.server);
        if (granted) return granted;
        this.log.debug('DHCP: an ACK without an address or lease time; starting over', { key: req.key, ifname: req.ifname });
      }
      return undefined;
    });
    if (lease) return lease;
    if (this.stopped) throw new TryAgainError(`Cannot lease an address for ${req.ifname}: berthd's DHCP client is stopping`);
    const why = naks >= MAX_NAKS ? `the DHCP server refused every request (${naks} NAKs)` : `no DHCP server answered within ${this.timeoutMs / 1000} s`;
    throw new TryAgainError(`Cannot lease an address for ${req.ifname} in ${req.netnsPath}: ${why}`, {
      field: 'ifname',
      value: req.ifname,
      details: 'the interface must reach a DHCP server on its link (a relay, or a server on the uplink’s network)',
    });
  }

  /** A timer's work: renew, rebind or let go, as the lease's times say. */
  private async maintain(e: Entry): Promise<void> {
    const key = e.request.key;
    if (this.stopped || this.held.get(key) !== e) return;
    const now = this.ports.clock.now();
    const phase = phaseAt(e.lease.times, now);
    if (phase === 'bound') return this.schedule(e, e.lease.times.renewAt);
    if (phase === 'expired') return this.drop(e, 'warn', 'DHCP lease expired: no server extended it; the address is no longer valid');
    if (!this.ports.netnsExists(e.request.netnsPath)) return this.drop(e, 'info', 'DHCP lease no longer renewed: its namespace is gone');
    let outcome: Extension | undefined;
    try {
      const { socket, to } = this.openTowardsServer(e, phase === 'renewing');
      outcome = await this.withSocket(socket, () => this.extend(socket, to, e, phase));
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof NetnsNotFoundError) return this.drop(e, 'info', 'DHCP lease no longer renewed: its interface is gone');
      this.log.warn(`DHCP: cannot ${phase === 'renewing' ? 'renew' : 'rebind'} the lease`, { ...this.fields(e), error: asBerthError(err).message });
    }
    if (this.stopped || this.held.get(key) !== e) return;
    if (outcome?.kind === 'nak') return this.drop(e, 'error', 'DHCP lease lost: the server refused to extend it (NAK)');
    if (outcome?.kind === 'ack') {
      if (!outcome.lease.address.address.equals(e.lease.address.address)) return this.drop(e, 'error', `DHCP lease lost: the server extended another address (${outcome.lease.address.address})`);
      const next: Entry = { request: e.request, lease: outcome.lease };
      try {
        this.records.write(next);
      } catch (err) {
        // Held in memory all the same; a restart would resume from the older record.
        this.log.warn('DHCP: cannot record the extended lease', { ...this.fields(next), error: (err as Error).message });
      }
      this.held.set(key, next);
      this.schedule(next, next.lease.times.renewAt);
      this.log.info(phase === 'renewing' ? 'DHCP lease renewed' : 'DHCP lease rebound', {
        ...this.fields(next),
        renewAt: dhcpLeaseOf(next.lease).renewAt,
        expiresAt: dhcpLeaseOf(next.lease).expiresAt,
      });
      return;
    }
    const at = nextWake(e.lease.times, this.ports.clock.now(), true, this.minRetryMs);
    this.log.info(`DHCP: no answer while ${phase}; trying again later`, { ...this.fields(e), at: new Date(at).toISOString() });
    this.schedule(e, at);
  }

  /** One REQUEST with ciaddr: unicast to the server while renewing, broadcast while rebinding. */
  private async extend(socket: DhcpSocket, to: IpAddress, e: Entry, phase: LeasePhase): Promise<Extension | undefined> {
    const { clock } = this.ports;
    const id = identity(e.request);
    const xid = this.xid();
    const t = e.lease.times;
    const deadline = Math.min(phase === 'renewing' ? t.rebindAt : t.expiresAt, clock.now() + 2 * this.retransmitMs);
    let sentAt = clock.now();
    return transact(socket, clock, {
      message: (elapsed) => {
        sentAt = clock.now();
        return { bytes: requestExtend(id, xid, secs(elapsed), e.lease.address.address), to };
      },
      accept: (m): Extension | undefined => {
        if (!answers(m, xid, id)) return undefined;
        if (m.type === MessageType.Nak) return { kind: 'nak' };
        const lease = leaseOf(m, sentAt, e.lease.server);
        return lease ? { kind: 'ack', lease } : undefined;
      },
      deadline,
      retransmitMs: this.retransmitMs,
    });
  }

  /** DHCPRELEASE, unicast to the server (broadcast while the address is not on the interface); best effort. */
  private sendRelease(e: HeldLease): void {
    let socket: DhcpSocket | undefined;
    try {
      const towards = this.openTowardsServer(e, true);
      socket = towards.socket;
      socket.send(release(identity(e.request), this.xid(), e.lease.address.address, e.lease.server), towards.to);
    } catch (err) {
      // The server lets the lease run out instead.
      this.log.info('DHCP: no DHCPRELEASE sent', { ...this.fields(e), error: asBerthError(err).message });
    } finally {
      socket?.close();
    }
  }

  private open(req: DhcpRequest): DhcpSocket {
    const socket = this.ports.openSocket(req);
    if (!socket) throw new TypeError('openSocket without an address gave no socket');
    return socket;
  }

  /**
   * A socket bound to the leased address, so that what it sends leaves from it, and `to`: the
   * server when `unicast`, else broadcast. While the address is not on the interface (before
   * the driver put it there, or after someone removed it), an unbound socket and broadcast:
   * Linux would send a unicast from 0.0.0.0, which servers drop.
   */
  private openTowardsServer(e: HeldLease, unicast: boolean): { socket: DhcpSocket; to: IpAddress } {
    const bound = this.ports.openSocket(e.request, e.lease.address.address);
    if (bound) return { socket: bound, to: unicast ? e.lease.server : BROADCAST };
    return { socket: this.open(e.request), to: BROADCAST };
  }

  /** Runs `fn` with `socket` open (stop() closes it), and closes it after. */
  private async withSocket<T>(socket: DhcpSocket, fn: (socket: DhcpSocket) => Promise<T>): Promise<T> {
    this.sockets.add(socket);
    try {
      return await fn(socket);
    } finally {
      this.sockets.delete(socket);
      socket.close();
    }
  }

  /** Wakes `maintain` at `at` (the clock's time), in steps when it is beyond setTimeout's reach. */
  private schedule(e: Entry, at: number): void {
    this.cancel(e);
    if (this.stopped) return;
    const delay = Math.max(0, at - this.ports.clock.now());
    e.timer = this.ports.setTimer(
      () => {
        e.timer = undefined;
        if (this.ports.clock.now() < at) return this.schedule(e, at);
        void this.serial(e.request.key, () => this.maintain(e)).catch((err: unknown) => {
          this.log.error('DHCP: lease maintenance failed', { ...this.fields(e), error: asBerthError(err).message });
        });
      },
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  private cancel(e: Entry): void {
    if (e.timer !== undefined) this.ports.clearTimer(e.timer);
    e.timer = undefined;
  }

  /** Forgets a lease that is no longer maintained, with its record. */
  private drop(e: Entry, level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.cancel(e);
    if (this.held.get(e.request.key) === e) this.held.delete(e.request.key);
    this.records.remove(e.request.key);
    this.log[level](message, { ...this.fields(e), expiresAt: dhcpLeaseOf(e.lease).expiresAt });
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run;
  }

  private xid(): number {
    return Math.floor(this.ports.clock.random() * 0x1_0000_0000) >>> 0;
  }

  private fields(e: HeldLease): Record<string, unknown> {
    return { key: e.request.key, netns: e.request.netnsPath, ifname: e.request.ifname, address: `${e.lease.address.address}/${e.lease.address.length}`, server: String(e.lease.server) };
  }
}

/** The interface's name in its namespace: the recorded one when it still has the lease's MAC, else the one that has. */
function interfaceIn(where: LeaseInterface): string {
  const nl = openNetlink(where.netnsPath);
  try {
    const named = nl.getLink(where.ifname);
    const mac = where.mac.toLowerCase();
    if (named && (!named.mac || named.mac.toLowerCase() === mac)) return named.name;
    const byMac = nl.listLinks().find((l) => l.mac?.toLowerCase() === mac);
    if (byMac) return byMac.name;
    throw new NotFoundError(`No interface ${where.ifname} or with MAC ${where.mac} in ${where.netnsPath}`, { field: 'ifname', value: where.ifname });
  } finally {
    nl.close();
  }
}

function identity(req: DhcpRequest): ClientIdentity {
  return { key: req.key, mac: req.mac, ...(req.hostname ? { hostname: req.hostname } : {}) };
}

/** The `secs` field: seconds since the client began the exchange. */
function secs(elapsedMs: number): number {
  return Math.min(0xffff, Math.floor(elapsedMs / 1000));
}
