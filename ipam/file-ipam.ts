/**
 * IPAM on the embedded file store: what the CNI plugins use (one operation per process,
 * synchronous, no server).
 */
import { FileStore } from '../store/file/file-store.js';
import { IpamSync } from './allocator.js';

/** Opens synchronous IPAM whose pool documents live under `dataDir` (default /var/lib/berth). */
export function openFileIpam(dataDir?: string): IpamSync {
  return new IpamSync(new FileStore(dataDir ? { dataDir } : {}));
}
