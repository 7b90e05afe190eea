/**
 * The Host Compute Network service through computenetwork.dll, over koffi (the FFI library the
 * Linux dataplane uses too). Loaded only on Windows; on any other OS `openHcn` fails with a
 * NotAvailableError that says this is the Windows path.
 *
 * The DLL's convention: every call returns an HRESULT (negative = failure) and hands back, on
 * failure, an "error record" (a JSON text the caller frees with CoTaskMemFree); settings,
 * queries and results are UTF-16 JSON texts; objects are named by GUID and held by opaque
 * handles that must be closed.
 */
import { IoError, NotAvailableError } from '../../core/errors.js';
import { loadKoffi, type Koffi } from '../../core/native.js';

/** The DLL's functions, as C prototypes (computenetwork.h). Kept as data so they can be checked anywhere. */
export const HCN_PROTOTYPES = {
  HcnCreateNetwork: 'int32_t __stdcall HcnCreateNetwork(const HcnGuid *id, const char16_t *settings, _Out_ void **network, _Out_ void **errorRecord)',
  HcnOpenNetwork: 'int32_t __stdcall HcnOpenNetwork(const HcnGuid *id, _Out_ void **network, _Out_ void **errorRecord)',
  HcnDeleteNetwork: 'int32_t __stdcall HcnDeleteNetwork(const HcnGuid *id, _Out_ void **errorRecord)',
  HcnCloseNetwork: 'int32_t __stdcall HcnCloseNetwork(void *network)',
  HcnCreateEndpoint: 'int32_t __stdcall HcnCreateEndpoint(void *network, const HcnGuid *id, const char16_t *settings, _Out_ void **endpoint, _Out_ void **errorRecord)',
  HcnOpenEndpoint: 'int32_t __stdcall HcnOpenEndpoint(const HcnGuid *id, _Out_ void **endpoint, _Out_ void **errorRecord)',
  HcnDeleteEndpoint: 'int32_t __stdcall HcnDeleteEndpoint(const HcnGuid *id, _Out_ void **errorRecord)',
  HcnQueryEndpointProperties: 'int32_t __stdcall HcnQueryEndpointProperties(void *endpoint, const char16_t *query, _Out_ void **properties, _Out_ void **errorRecord)',
  HcnCloseEndpoint: 'int32_t __stdcall HcnCloseEndpoint(void *endpoint)',
} as const;

/** An open network or endpoint; close it when done. */
export interface HcnHandle {
  readonly id: string;
  close(): void;
}

/** The HCN calls berth makes, with JSON documents in and out (dataplane/windows/hcn-schema.ts describes them). */
export interface HostComputeNetworking {
  createNetwork(id: string, settings: object): HcnHandle;
  openNetwork(id: string): HcnHandle;
  deleteNetwork(id: string): void;
  createEndpoint(network: HcnHandle, id: string, settings: object): HcnHandle;
  openEndpoint(id: string): HcnHandle;
  deleteEndpoint(id: string): void;
  queryEndpointProperties(endpoint: HcnHandle, query: object): unknown;
}

/** The GUID struct and the prototypes, declared on `koffi` (no DLL needed): what the binding and its test share. */
export function declareHcn(koffi: Koffi): Record<keyof typeof HCN_PROTOTYPES, unknown> {
  try {
    koffi.struct('HcnGuid', { Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8) });
  } catch {
    // declared before in this process
  }
  return Object.fromEntries(Object.entries(HCN_PROTOTYPES).map(([name, proto]) => [name, koffi.proto(proto.replace(`${name}(`, `${name}Fn(`))])) as Record<keyof typeof HCN_PROTOTYPES, unknown>;
}

/** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` as the GUID struct (its first three fields little-endian numbers, the rest bytes). */
export function guidStruct(id: string): { Data1: number; Data2: number; Data3: number; Data4: number[] } {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(id);
  if (!m) throw new IoError(`${JSON.stringify(id)} is not a GUID`, { operation: 'hcn' });
  const tail = `${m[4]}${m[5]}`;
  return { Data1: parseInt(m[1]!, 16), Data2: parseInt(m[2]!, 16), Data3: parseInt(m[3]!, 16), Data4: (tail.match(/../g) ?? []).map((b) => parseInt(b, 16)) };
}

/** A failed call as an error: the HRESULT in hex and what the error record says. */
export function hcnError(call: string, hresult: number, errorRecord: string | undefined): IoError {
  const code = `0x${(hresult >>> 0).toString(16).padStart(8, '0')}`;
  let detail = errorRecord ?? '';
  try {
    const parsed = JSON.parse(errorRecord ?? '') as { Error?: string; ErrorMessage?: string };
    detail = parsed.ErrorMessage ?? parsed.Error ?? detail;
  } catch {
    // not JSON: keep the text
  }
  return new IoError(`${call} failed with HRESULT ${code}${detail ? `: ${detail}` : ''}`, { operation: call });
}

/** The HCN service of this Windows host. */
export function openHcn(platform: NodeJS.Platform = process.platform): HostComputeNetworking {
  if (platform !== 'win32') {
    throw new NotAvailableError(`The Host Compute Network service (computenetwork.dll) is the Windows path: this host runs ${platform}, where berth's dataplane is netlink and nftables`, {
      operation: 'load computenetwork.dll',
    });
  }
  return bindHcn(loadKoffi());
}

function bindHcn(koffi: Koffi): HostComputeNetworking {
  declareHcn(koffi);
  const dll = koffi.load('computenetwork.dll');
  const ole32 = koffi.load('ole32.dll');
  const free = ole32.func('void __stdcall CoTaskMemFree(void *p)');
  const fn = Object.fromEntries(Object.entries(HCN_PROTOTYPES).map(([name, proto]) => [name, dll.func(proto)])) as unknown as Record<keyof typeof HCN_PROTOTYPES, (...args: unknown[]) => number>;
  const text = (p: unknown): string | undefined => {
    if (!p) return undefined;
    const s = koffi.decode(p, 'char16_t', -1) as string;
    free(p);
    return s;
  };
  const call = (name: keyof typeof HCN_PROTOTYPES, args: unknown[], out: unknown[][]): void => {
    const errorRecord: unknown[] = [null];
    const hr = fn[name](...args, ...out, errorRecord);
    const record = text(errorRecord[0]);
    if (hr < 0) throw hcnError(name, hr, record);
  };
  const handle = (id: string, p: unknown, closer: 'HcnCloseNetwork' | 'HcnCloseEndpoint'): HcnHandle => ({ id, close: () => void fn[closer](p) });
  const handles = new WeakMap<HcnHandle, unknown>();
  const opened = (id: string, p: unknown, closer: 'HcnCloseNetwork' | 'HcnCloseEndpoint') => {
    const h = handle(id, p, closer);
    handles.set(h, p);
    return h;
  };
  return {
    createNetwork(id, settings) {
      const out: unknown[] = [null];
      call('HcnCreateNetwork', [guidStruct(id), JSON.stringify(settings)], [out]);
      return opened(id, out[0], 'HcnCloseNetwork');
    },
    openNetwork(id) {
      const out: unknown[] = [null];
      call('HcnOpenNetwork', [guidStruct(id)], [out]);
      return opened(id, out[0], 'HcnCloseNetwork');
    },
    deleteNetwork(id) {
      call('HcnDeleteNetwork', [guidStruct(id)], []);
    },
    createEndpoint(network, id, settings) {
      const out: unknown[] = [null];
      call('HcnCreateEndpoint', [handles.get(network), guidStruct(id), JSON.stringify(settings)], [out]);
      return opened(id, out[0], 'HcnCloseEndpoint');
    },
    openEndpoint(id) {
      const out: unknown[] = [null];
      call('HcnOpenEndpoint', [guidStruct(id)], [out]);
      return opened(id, out[0], 'HcnCloseEndpoint');
    },
    deleteEndpoint(id) {
      call('HcnDeleteEndpoint', [guidStruct(id)], []);
    },
    queryEndpointProperties(endpoint, query) {
      const out: unknown[] = [null];
      call('HcnQueryEndpointProperties', [handles.get(endpoint), JSON.stringify(query)], [out]);
      const json = text(out[0]);
      return json ? (JSON.parse(json) as unknown) : undefined;
    },
  };
}
