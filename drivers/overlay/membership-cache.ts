/**
 * What berthd last recorded of this node's membership in each overlay network, under the run
 * directory (`<runDir>/overlay/<network>.json`). A plugin process that runs without berthd
 * reads it to give pods addresses from the node's block and to keep the VXLAN device as it
 * was; berthd reads it at start to know which networks to resume. The store (etcd) stays the
 * truth: the cache only ever holds what the cluster gave this node.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecodeError } from '../../core/errors.js';
import { IpAddress, IpPrefix } from '../../core/ip.js';
import type { OverlayJoin, OverlayMembership } from '../cluster.js';

/** The membership with the request it answered (what berthd re-joins with after a restart). */
export interface CachedMembership extends OverlayMembership {
  readonly join: OverlayJoin;
}

interface Record {
  readonly node: string;
  readonly block: string;
  readonly vtep: string;
  readonly join: Omit<OverlayJoin, 'subnet'> & { readonly subnet: string };
}

export class MembershipCache {
  private readonly dir: string;

  constructor(runDir: string) {
    this.dir = join(runDir, 'overlay');
  }

  read(network: string): CachedMembership | undefined {
    let text: string;
    try {
      text = readFileSync(this.file(network), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const r = JSON.parse(text) as Record;
      return { node: r.node, block: IpPrefix.parse(r.block), vtep: IpAddress.parse(r.vtep), join: { ...r.join, subnet: IpPrefix.parse(r.join.subnet) } };
    } catch (err) {
      throw new DecodeError(`${this.file(network)} is not a membership record: ${(err as Error).message}`, { field: 'overlay cache', value: network });
    }
  }

  /** Written whole to a new file and renamed over the old one: a reader never sees half a record. */
  write(m: CachedMembership): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const record: Record = { node: m.node, block: m.block.toString(), vtep: m.vtep.toString(), join: { ...m.join, subnet: m.join.subnet.toString() } };
    const text = JSON.stringify(record) + '\n';
    const file = this.file(m.join.network);
    try {
      if (readFileSync(file, 'utf8') === text) return; // every ADD passes here: no write when nothing changed
    } catch {
      // absent: write it
    }
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(network: string): void {
    rmSync(this.file(network), { force: true });
  }

  /** The networks with a record. */
  list(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -'.json'.length));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private file(network: string): string {
    return join(this.dir, `${network}.json`);
  }
}
