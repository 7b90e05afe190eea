/**
 * One small JSON file per endpoint, under the run directory
 * (`<runDir>/<driver folder>/<network key>/<attachment key>.json`), for drivers whose endpoints
 * leave no trace on the host that names them (an interface inside the sandbox, proxy entries):
 * the records say which endpoints a network has (GC, the last one takes the network's objects
 * with it) and what each holds. Each record is written whole and renamed into place.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailedError, asBerthError } from '../../core/errors.js';
import { stableHash } from '../../core/stable-hash.js';
import { DOCKER_MANAGED, type EndpointRef } from '../driver.js';

/** What every record holds: the attachment. */
export interface AttachmentRecord {
  readonly containerId: string;
  readonly ifname: string;
}

export class EndpointRecords<R extends AttachmentRecord> {
  /** `folder`: the driver's folder under the run directory. */
  constructor(
    private readonly runDir: string,
    private readonly folder: string,
  ) {}

  write(network: string, r: R): void {
    const dir = this.dir(network);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${attachmentKey(r.containerId, r.ifname)}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(r) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }

  read(network: string, containerId: string, ifname: string): R | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(network), `${attachmentKey(containerId, ifname)}.json`), 'utf8')) as R;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Removes the record, and the network's folder (and the driver's) with the last one. */
  remove(network: string, containerId: string, ifname: string): void {
    rmSync(join(this.dir(network), `${attachmentKey(containerId, ifname)}.json`), { force: true });
    try {
      rmdirSync(this.dir(network));
      rmdirSync(this.root());
    } catch {
      // not empty, or already gone
    }
  }

  list(network: string): R[] {
    return readRecords<R>(this.dir(network));
  }

  /** The records of every network of the driver on this host. */
  listAll(): R[] {
    let dirs: string[];
    try {
      dirs = readdirSync(this.root());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return dirs.flatMap((d) => readRecords<R>(join(this.root(), d)));
  }

  private root(): string {
    return join(this.runDir, this.folder);
  }

  /** Hashed: a network name may hold any character the runtime allows. */
  private dir(network: string): string {
    return join(this.root(), stableHash(network, 16));
  }
}

function readRecords<R>(dir: string): R[] {
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
      return [JSON.parse(readFileSync(join(dir, n), 'utf8')) as R];
    } catch {
      return []; // removed meanwhile
    }
  });
}

/** A file name for the attachment: the container id may hold any character CNI allows. */
function attachmentKey(containerId: string, ifname: string): string {
  return stableHash(`${containerId}\0${ifname}`, 16);
}

/**
 * GC over the records: removes (through `remove`, the driver's own delete) every recorded
 * endpoint of the network that no attachment in `valid` holds; keeps going past failures and
 * reports them together.
 */
export async function collectUnlisted<R extends AttachmentRecord & { readonly netns: string }>(
  records: EndpointRecords<R>,
  network: string,
  valid: readonly AttachmentRecord[],
  remove: (ref: EndpointRef) => Promise<void>,
): Promise<void> {
  const keep = new Set(valid.map((v) => `${v.containerId}\0${v.ifname}`));
  const errors: string[] = [];
  for (const r of records.list(network)) {
    if (keep.has(`${r.containerId}\0${r.ifname}`)) continue;
    try {
      await remove({ containerId: r.containerId, ifname: r.ifname, placement: r.netns ? { kind: 'netns', path: r.netns } : DOCKER_MANAGED });
    } catch (err) {
      errors.push(`${r.containerId}/${r.ifname}: ${asBerthError(err).message}`);
    }
  }
  if (errors.length) throw new CheckFailedError(`GC of network ${network} could not remove: ${errors.join('; ')}`);
}
