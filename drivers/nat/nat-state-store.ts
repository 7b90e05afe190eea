/**
 * WinNAT's state port on the embedded file store: one document for the whole host, so CNI
 * plugins and berthd see the same ports.
 *
 * A change is a section under the named lock `winnat` rather than a store `update`: an
 * update callback must be pure (a store with optimistic concurrency may run it again), and
 * WinNAT's section applies the kernel change before the document is written. The lock is an
 * flock, which the kernel releases when a process dies.
 */
import type { JsonValue } from '../../store/store.js';
import { FileStore } from '../../store/file/file-store.js';
import type { NatStateDocument, NatStatePort } from '../../winnat/index.js';

/** The key of the state document. */
export const NAT_STATE_KEY = 'winnat/state';

/**
 * The state under `dataDir`. The state mirrors kernel rules, which a reboot clears: keep it
 * on a filesystem that a reboot clears too (`/run`), so the two start empty together.
 */
export function fileNatState(dataDir: string): NatStatePort {
  // No fsync: after a power loss the kernel's rules are gone, and so must this state be.
  const store = new FileStore({ dataDir, fsync: false });
  const read = () => store.getSync(NAT_STATE_KEY)?.value as NatStateDocument | undefined;
  return {
    read,
    transact: (fn) =>
      store.withLockSync('winnat', () => {
        const current = read();
        const { doc, result } = fn(current);
        if (doc === current) return result;
        if (doc === undefined) store.deleteSync(NAT_STATE_KEY);
        else store.putSync(NAT_STATE_KEY, doc as unknown as JsonValue);
        return result;
      }),
  };
}
