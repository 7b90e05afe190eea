/**
 * The leases berthd holds, one JSON file each under `<dataDir>/dhcp/`, so that a restarted
 * berthd goes on renewing them. Written atomically (a temporary file renamed over the record),
 * so a killed berthd leaves either the old record or the new one. Also the conversion of a
 * held lease to the DhcpLease drivers see.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IpAddress, IpPrefix, formatIpWithPrefix, parseIpWithPrefix } from '../../core/ip.js';
import type { Dns, Route } from '../../core/model.js';
import { stableHash } from '../../core/stable-hash.js';
import type { DhcpLease, DhcpRequest } from '../../drivers/dhcp.js';
import type { GrantedLease } from './client-messages.js';

/** What was asked (where the lease lives) and what was granted. */
export interface HeldLease {
  readonly request: DhcpRequest;
  readonly lease: GrantedLease;
}

interface RouteRecord {
  readonly dst: string;
  readonly gw?: string;
  readonly scope?: number;
}

interface LeaseRecord {
  readonly request: DhcpRequest;
  readonly address: string;
  readonly gateway?: string;
  readonly routes: readonly RouteRecord[];
  readonly dns?: Dns;
  readonly server: string;
  readonly obtainedAt: string;
  readonly renewAt: string;
  readonly rebindAt: string;
  readonly expiresAt: string;
}

export class LeaseRecords {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'dhcp');
  }

  write(h: HeldLease): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(h.request.key);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(toRecord(h)) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(key: string): void {
    rmSync(this.file(key), { force: true });
  }

  /** Every record, and the files that are not readable records (with why). */
  list(): { held: HeldLease[]; unreadable: { file: string; reason: string }[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { held: [], unreadable: [] };
      throw err;
    }
    const held: HeldLease[] = [];
    const unreadable: { file: string; reason: string }[] = [];
    for (const name of names) {
      const file = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        // Left by a writer killed before its rename: the record it replaced is still whole.
        rmSync(file, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        held.push(fromRecord(JSON.parse(readFileSync(file, 'utf8')) as LeaseRecord));
      } catch (err) {
        unreadable.push({ file, reason: (err as Error).message });
      }
    }
    return { held, unreadable };
  }

  /** `<key>.json` for keys that are safe file names (the drivers' are), else a digest of the key. */
  file(key: string): string {
    const safe = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/.test(key);
    return join(this.dir, safe ? `${key}.json` : `key-${stableHash(key, 16)}.json`);
  }
}

/** What a driver gets: times as ISO 8601. */
export function dhcpLeaseOf(l: GrantedLease): DhcpLease {
  return {
    address: l.address,
    ...(l.gateway ? { gateway: l.gateway } : {}),
    routes: l.routes,
    ...(l.dns ? { dns: l.dns } : {}),
    server: l.server,
    obtainedAt: iso(l.times.obtainedAt),
    renewAt: iso(l.times.renewAt),
    rebindAt: iso(l.times.rebindAt),
    expiresAt: iso(l.times.expiresAt),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function toRecord(h: HeldLease): LeaseRecord {
  const l = dhcpLeaseOf(h.lease);
  return {
    request: h.request,
    address: formatIpWithPrefix(l.address),
    ...(l.gateway ? { gateway: String(l.gateway) } : {}),
    routes: l.routes.map((r) => ({ dst: String(r.dst), ...(r.gw ? { gw: String(r.gw) } : {}), ...(r.scope !== undefined ? { scope: r.scope } : {}) })),
    ...(l.dns ? { dns: l.dns } : {}),
    server: String(l.server),
    obtainedAt: l.obtainedAt,
    renewAt: l.renewAt,
    rebindAt: l.rebindAt,
    expiresAt: l.expiresAt,
  };
}

/** Throws (a parse error) on a record that is not whole. */
function fromRecord(r: LeaseRecord): HeldLease {
  const q = r.request;
  if (typeof q?.key !== 'string' || typeof q.netnsPath !== 'string' || typeof q.ifname !== 'string' || typeof q.mac !== 'string') throw new Error('the record has no request');
  const time = (s: string, name: string) => {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new Error(`${name} is not a time`);
    return t;
  };
  const routes: Route[] = (r.routes ?? []).map((x) => ({
    dst: IpPrefix.parse(x.dst),
    ...(x.gw ? { gw: IpAddress.parse(x.gw) } : {}),
    ...(x.scope !== undefined ? { scope: x.scope } : {}),
  }));
  return {
    request: { key: q.key, netnsPath: q.netnsPath, ifname: q.ifname, mac: q.mac, ...(typeof q.hostname === 'string' ? { hostname: q.hostname } : {}) },
    lease: {
      address: parseIpWithPrefix(r.address),
      ...(r.gateway ? { gateway: IpAddress.parse(r.gateway) } : {}),
      routes,
      ...(r.dns ? { dns: r.dns } : {}),
      server: IpAddress.parse(r.server),
      times: { obtainedAt: time(r.obtainedAt, 'obtainedAt'), renewAt: time(r.renewAt, 'renewAt'), rebindAt: time(r.rebindAt, 'rebindAt'), expiresAt: time(r.expiresAt, 'expiresAt') },
    },
  };
}
