import test from 'ava';
import { psRows } from '../../../cli/commands/ps.js';
import type { ListNatMessage, NetworkMessage } from '../../../daemon/grpc/messages.js';

const endpoint = (id: string, address: string) => ({ id, interface: 'bp1', mac: '', addresses: [address], sandbox: '', created: '' });
const network = (name: string, endpoints: NetworkMessage['endpoints']): NetworkMessage => ({
  id: name,
  name,
  driver: 'nat',
  plugin: 'berth-nat',
  origin: 'docker',
  subnets: [],
  options: {},
  internal: false,
  created: '',
  endpoints,
});
const mapping = (containerId: string, externalPort: number, internalPort: number, extra: Partial<ListNatMessage['staticMappings'][number]> = {}) => ({
  staticMappingId: 1,
  natName: 'n',
  protocol: 'TCP',
  externalAddress: '0.0.0.0',
  externalPort,
  externalPortEnd: externalPort,
  internalAddress: '10.0.0.2',
  internalPort,
  containerId,
  endpoint: 'eth',
  ephemeral: false,
  ...extra,
});

test("berth ps: one row per endpoint, ports in docker ps notation, Docker's names when known, IDs otherwise", (t) => {
  const nets = [network('3f00aa', [endpoint('e'.repeat(64), '10.0.0.2/24'), endpoint('f'.repeat(64), '10.0.0.3/24')])];
  const nat: ListNatMessage = {
    nats: [],
    staticMappings: [mapping('e'.repeat(64), 8080, 80), mapping('e'.repeat(64), 9000, 90, { protocol: 'UDP', externalAddress: '192.0.2.1', externalPortEnd: 9001 })],
  };
  const rows = psRows(nets, nat, new Map([['e'.repeat(64), { container: 'web', network: 'front' }]]));
  t.deepEqual(
    rows.map((r) => [r.container, r.network, r.addresses, r.ports]),
    [
      ['ffffffffffff', '3f00aa', ['10.0.0.3/24'], []],
      ['web', 'front', ['10.0.0.2/24'], ['0.0.0.0:8080->80/tcp', '192.0.2.1:9000-9001->90-91/udp']],
    ],
  );
});
