/**
 * One small JSON file per endpoint of a macvlan network, under the run directory
 * (`<runDir>/macvlan/<network>/<attachment>.json`): where its interface is and which addresses
 * it holds. Written once the endpoint is complete, removed with it.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stableHash } from '../../core/stable-hash.js';

export interface EndpointRecord {
  readonly containerId: string;
  readonly ifname: string;
  /** The sandbox's netns path; empty for Docker (Docker moves the interface itself). */
  readonly netns: string;
  /** The addresses, as CIDR text (routed to via the host shim). */
  readonly addresses: readonly string[];
  /** The DHCP lease's key when the address is leased. */
  readonly dhcpKey?: string;
}

export class EndpointRecords {
  constructor(private readonly runDir: string) {}

  write(network: string, r: EndpointRecord): void {
    const dir = this.dir(network);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${attachmentKey(r.containerId, r.ifname)}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(r) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }

  read(network: string, containerId: string, ifname: string): EndpointRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(network), `${attachmentKey(containerId, ifname)}.json`), 'utf8')) as EndpointRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Removes the record, and the network's folder with its last one. */
  remove(network: string, containerId: string, ifname: string): void {
    rmSync(join(this.dir(network), `${attachmentKey(containerId, ifname)}.json`), { force: true });
    try {
      rmdirSync(this.dir(network));
      rmdirSync(join(this.runDir, 'macvlan'));
    } catch {
      // not empty, or already gone
    }
  }

  list(network: string): EndpointRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir(network)).filter((n) => n.endsWith('.json'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(this.dir(network), n), 'utf8')) as EndpointRecord];
      } catch {
        return []; // removed meanwhile
      }
    });
  }

  private dir(network: string): string {
    return join(this.runDir, 'macvlan', network);
  }
}

/** A file name for the attachment: the container id may hold any character CNI allows. */
export function attachmentKey(containerId: string, ifname: string): string {
  return stableHash(`${containerId}\0${ifname}`, 16);
}
