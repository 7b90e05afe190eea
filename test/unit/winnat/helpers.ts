/** In-memory stand-ins for WinNAT's ports, for tests that need no kernel. */
import { NotFoundError } from '../../../core/errors.js';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { Nftables, Sysctl } from '../../../dataplane/linux/ports.js';
import type { MappingRequest, NatInstanceSpec, NatStateDocument, NatStatePort } from '../../../winnat/index.js';

export function memoryState(): NatStatePort & { doc: NatStateDocument | undefined; writes: number } {
  const port = {
    doc: undefined as NatStateDocument | undefined,
    writes: 0,
    read: () => port.doc,
    transact<R>(fn: (doc: NatStateDocument | undefined) => { doc: NatStateDocument | undefined; result: R }): R {
      const { doc, result } = fn(port.doc);
      if (doc !== port.doc) {
        // Stored as JSON, as the file store does.
        port.doc = doc === undefined ? undefined : (JSON.parse(JSON.stringify(doc)) as NatStateDocument);
        port.writes++;
      }
      return result;
    },
  };
  return port;
}

/** Records every transaction; `failNext` makes the next run fail as the kernel would. */
export function recordingNftables(): Nftables & { runs: object[][]; failNext: number } {
  const nft = {
    runs: [] as object[][],
    failNext: 0,
    run(commands: readonly object[]) {
      if (nft.failNext > 0) {
        nft.failNext--;
        throw new Error('No such file or directory');
      }
      nft.runs.push([...commands]);
    },
    list: () => [],
    close: () => undefined,
  };
  return nft;
}

export function memorySysctl(present: readonly string[] = []): Sysctl & { values: Map<string, string> } {
  const values = new Map(present.map((k) => [k, '0']));
  return {
    values,
    read: (key) => {
      const v = values.get(key);
      if (v === undefined) throw new NotFoundError(`no sysctl ${key}`);
      return v;
    },
    write: (key, value) => {
      if (!values.has(key)) throw new NotFoundError(`no sysctl ${key}`);
      values.set(key, value);
    },
  };
}

export function instance(name: string, prefix: string, iface: string, loopback = false): NatInstanceSpec {
  return { name, internalPrefix: IpPrefix.parse(prefix), internalInterface: iface, loopback };
}

export function tcp(externalPort: number, internal: string, internalPort: number, extra: Partial<MappingRequest> = {}): MappingRequest {
  return { protocol: 'tcp', externalPort, internalAddress: IpAddress.parse(internal), internalPort, ...extra };
}

/** `verb kind name` of each command, for asserting what a transaction touches. */
export function kinds(cmds: readonly object[]): string[] {
  return cmds.map((c) => {
    const [verb, body] = Object.entries(c)[0] as [string, Record<string, { name?: string }>];
    const [kind, obj] = Object.entries(body)[0] as [string, { name?: string }];
    return `${verb} ${kind}${obj.name && kind !== 'table' ? ` ${obj.name}` : ''}`;
  });
}
