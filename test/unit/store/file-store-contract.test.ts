// The Store contract (store-contract.ts) on the file store: the same cases as on etcd, so the
// two implementations are held to one meaning. Two FileStore objects on one directory stand
// for two processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../../store/file/file-store.js';
import { storeContract } from '../../support/store-contract.js';

storeContract('file store', {
  async open(t) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-store-contract-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const options = { dataDir: dir, fsync: false, watchIntervalMs: 50 };
    return { store: new FileStore(options), other: new FileStore(options) };
  },
});
