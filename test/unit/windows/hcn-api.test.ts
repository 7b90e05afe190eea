import test from 'ava';
import { loadKoffi } from '../../../core/native.js';
import { HCN_PROTOTYPES, declareHcn, guidStruct, hcnError, openHcn } from '../../../dataplane/windows/hcn-api.js';

test('computenetwork.dll: every prototype is a valid declaration for koffi (checked without the DLL)', (t) => {
  const declared = declareHcn(loadKoffi());
  t.deepEqual(Object.keys(declared).sort(), Object.keys(HCN_PROTOTYPES).sort());
  for (const [name, type] of Object.entries(declared)) t.truthy(type, name);
  t.deepEqual(Object.keys(HCN_PROTOTYPES).sort(), [
    'HcnCloseEndpoint',
    'HcnCloseNetwork',
    'HcnCreateEndpoint',
    'HcnCreateNetwork',
    'HcnDeleteEndpoint',
    'HcnDeleteNetwork',
    'HcnOpenEndpoint',
    'HcnOpenNetwork',
    'HcnQueryEndpointProperties',
  ]);
  // The GUID struct is 16 bytes, as Windows lays it out.
  t.is(loadKoffi().sizeof('HcnGuid'), 16);
});

test('computenetwork.dll: GUIDs as the struct, HRESULT and error record as an error naming the call', (t) => {
  t.deepEqual(guidStruct('0d9a2e8b-1c3f-4a5e-9b7d-112233445566'), { Data1: 0x0d9a2e8b, Data2: 0x1c3f, Data3: 0x4a5e, Data4: [0x9b, 0x7d, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66] });
  t.throws(() => guidStruct('not-a-guid'), { message: /is not a GUID/ });
  const err = hcnError('HcnCreateNetwork', -2147024809, '{"Success":false,"Error":"The parameter is incorrect.","ErrorCode":2147942487}');
  t.is(err.message, 'HcnCreateNetwork failed with HRESULT 0x80070057: The parameter is incorrect.');
  t.is(hcnError('HcnDeleteEndpoint', -2143617018, undefined).message, 'HcnDeleteEndpoint failed with HRESULT 0x803b0006');
});

test('computenetwork.dll on Linux: a clear error that this is the Windows path', (t) => {
  t.throws(() => openHcn('linux'), { message: /computenetwork\.dll\) is the Windows path: this host runs linux/ });
});
