/**
 * One small JSON file per endpoint of an l2bridge network, under the run directory
 * (`<runDir>/l2bridge/<network key>/<attachment key>.json`). It is written before the endpoint's
 * first kernel object, so that a DEL or GC after a killed create still knows which proxy entries
 * on the uplink are the endpoint's (they outlive its links), and it says which endpoints a
 * network has (the last one takes the network's rules with it).
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stableHash } from '../../core/stable-hash.js';

export interface L2BridgeEndpointRecord {
  readonly containerId: string;
  readonly ifname: string;
  /** The sandbox's netns path; empty for Docker (Docker moves the container's end itself). */
  readonly netns: string;
  readonly hostVeth: string;
  /** The uplink the proxy entries are on. */
  readonly uplink: string;
  /** The container's addresses, as CIDR text. */
  readonly addresses: readonly string[];
  /** The uplink's prefixes the addresses lie in: let in routed through other owners' forward drops. */
  readonly routed: readonly string[];
}

export class L2BridgeRecords {
  constructor(private readonly runDir: string) {}

  write(network: string, r: L2BridgeEndpointRecord): void {
    const dir = this.dir(network);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${attachmentKey(r.containerId, r.ifname)}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(r) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }

  read(network: string, containerId: string, ifname: string): L2BridgeEndpointRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(network), `${attachmentKey(containerId, ifname)}.json`), 'utf8')) as L2BridgeEndpointRecord;
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
      rmdirSync(this.root());
    } catch {
      // not empty, or already gone
    }
  }

  list(network: string): L2BridgeEndpointRecord[] {
    return readRecords(this.dir(network));
  }

  /** The records of every l2bridge network of the host. */
  listAll(): L2BridgeEndpointRecord[] {
    let dirs: string[];
    try {
      dirs = readdirSync(this.root());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return dirs.flatMap((d) => readRecords(join(this.root(), d)));
  }

  private root(): string {
    return join(this.runDir, 'l2bridge');
  }

  private dir(network: string): string {
    return join(this.root(), stableHash(network, 16));
  }
}

function readRecords(dir: string): L2BridgeEndpointRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  return names.flatMap((n) => {
    try {
      return [JSON.parse(readFileSync(join(dir, n), 'utf8')) as L2BridgeEndpointRecord];
    } catch {
      return []; // removed meanwhile
    }
  });
}

/** A file name for the attachment: the container id may hold any character CNI allows. */
function attachmentKey(containerId: string, ifname: string): string {
  return stableHash(`${containerId}\0${ifname}`, 16);
}
