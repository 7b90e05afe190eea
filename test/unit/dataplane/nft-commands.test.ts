/**
 * The typed builder of libnftables JSON commands (dataplane/nft-commands.ts): the objects it
 * builds, field for field and in the order libnftables has always been sent them.
 */
import test from 'ava';
import { guardSetCommands } from '../../../core/workload.js';
import * as nft from '../../../dataplane/nft-commands.js';
import type { NftCommand, NftTableRef } from '../../../dataplane/nft-commands.js';

const T: NftTableRef = { family: 'inet', table: 'berth' };
const json = (c: unknown) => JSON.stringify(c);

test('table, chain, set and map commands name their object with its table', (t) => {
  t.is(json(nft.addTable('inet', 'berth')), '{"add":{"table":{"family":"inet","name":"berth"}}}');
  t.is(json(nft.deleteTable('ip', 'berth-nat')), '{"delete":{"table":{"family":"ip","name":"berth-nat"}}}');
  t.is(json(nft.addChain(T, 'fwd-br0')), '{"add":{"chain":{"family":"inet","table":"berth","name":"fwd-br0"}}}');
  t.is(json(nft.flushChain(T, 'fwd-br0')), '{"flush":{"chain":{"family":"inet","table":"berth","name":"fwd-br0"}}}');
  t.is(json(nft.deleteChain(T, 'fwd-br0')), '{"delete":{"chain":{"family":"inet","table":"berth","name":"fwd-br0"}}}');
  t.is(json(nft.addSet(T, 'bridges', 'ifname')), '{"add":{"set":{"family":"inet","table":"berth","name":"bridges","type":"ifname"}}}');
  t.is(json(nft.addSet(T, 'nets', 'ipv4_addr', ['interval'])), '{"add":{"set":{"family":"inet","table":"berth","name":"nets","type":"ipv4_addr","flags":["interval"]}}}');
  t.is(json(nft.deleteSet(T, 'nets')), '{"delete":{"set":{"family":"inet","table":"berth","name":"nets"}}}');
  t.is(json(nft.deleteMap(T, 'masq4')), '{"delete":{"map":{"family":"inet","table":"berth","name":"masq4"}}}');
  // Only the table's two fields are taken from the reference, whatever else it carries.
  const wider = { ...T, name: 'ignored', chain: 'ignored' };
  t.deepEqual(nft.addChain(wider, 'c'), { add: { chain: { family: 'inet', table: 'berth', name: 'c' } } });
});

test('a base chain carries type, hook, priority and policy after its name', (t) => {
  const cmd = nft.addChain(T, 'forward', { type: 'filter', hook: 'forward', prio: -10, policy: 'accept' });
  t.is(json(cmd), '{"add":{"chain":{"family":"inet","table":"berth","name":"forward","type":"filter","hook":"forward","prio":-10,"policy":"accept"}}}');
  t.deepEqual(nft.addChain({ family: 'bridge', table: 'berth' }, 'prerouting', { type: 'filter', hook: 'prerouting', prio: -300, policy: 'drop' }).add.chain, {
    family: 'bridge',
    table: 'berth',
    name: 'prerouting',
    type: 'filter',
    hook: 'prerouting',
    prio: -300,
    policy: 'drop',
  });
});

test('maps: a verdict map and a data map keyed on a concatenation; flags last', (t) => {
  t.is(json(nft.addMap(T, 'masq4', 'ipv4_addr', 'verdict', ['interval'])), '{"add":{"map":{"family":"inet","table":"berth","name":"masq4","type":"ipv4_addr","map":"verdict","flags":["interval"]}}}');
  const data = nft.addMap({ family: 'ip', table: 'berth-nat' }, 'pub-port', ['inet_proto', 'inet_service'], 'inet_service');
  t.is(json(data), '{"add":{"map":{"family":"ip","table":"berth-nat","name":"pub-port","type":["inet_proto","inet_service"],"map":"inet_service"}}}');
});

test('rules: expressions as given, the comment where the body has it, none when absent; insert and delete by handle', (t) => {
  const expr = [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'br0' } }, { accept: null }];
  t.is(json(nft.addRule(T, 'fwd', { expr })), `{"add":{"rule":{"family":"inet","table":"berth","chain":"fwd","expr":${json(expr)}}}}`);
  t.is(json(nft.addRule(T, 'fwd', { expr, comment: 'x' })), `{"add":{"rule":{"family":"inet","table":"berth","chain":"fwd","expr":${json(expr)},"comment":"x"}}}`);
  t.is(json(nft.addRule(T, 'fwd', { comment: 'x', expr })), `{"add":{"rule":{"family":"inet","table":"berth","chain":"fwd","comment":"x","expr":${json(expr)}}}}`);
  // Nothing but expr and comment comes from the body.
  const body = { expr, comment: 'x', chain: 'other', handle: 3 };
  t.deepEqual(nft.addRule(T, 'fwd', body).add.rule, { family: 'inet', table: 'berth', chain: 'fwd', expr, comment: 'x' });
  const ins = nft.insertRule({ family: 'ip', table: 'filter' }, 'DOCKER-USER', { comment: 'berth: x', expr: [{ accept: null }] });
  t.is(json(ins), '{"insert":{"rule":{"family":"ip","table":"filter","chain":"DOCKER-USER","comment":"berth: x","expr":[{"accept":null}]}}}');
  t.is(json(nft.deleteRule({ family: 'ip', table: 'filter' }, 'DOCKER-USER', 7)), '{"delete":{"rule":{"family":"ip","table":"filter","chain":"DOCKER-USER","handle":7}}}');
});

test('elements of a concatenated set, and deleting them by key', (t) => {
  const N: NftTableRef = { family: 'inet', table: 'berth-policy' };
  const elems = [{ concat: ['10.1.0.2', 'tcp', 8080] }, { concat: ['10.1.0.3', 'udp', { range: [53, 54] }] }];
  const add = nft.addElements(N, 'np_1_4', elems);
  t.is(json(add), `{"add":{"element":{"family":"inet","table":"berth-policy","name":"np_1_4","elem":${json(elems)}}}}`);
  t.is(add.add.element.elem, elems, 'the list is used as given, not copied');
  t.is(json(nft.deleteElements(N, 'np_1_4', [elems[0]!])), '{"delete":{"element":{"family":"inet","table":"berth-policy","name":"np_1_4","elem":[{"concat":["10.1.0.2","tcp",8080]}]}}}');
});

test('a verdict map element is [key, verdict]; it is deleted by its key alone', (t) => {
  const key = { prefix: { addr: '10.1.0.0', len: 24 } };
  const add = nft.addElements(T, 'masq4', [[key, { jump: { target: 'masq-br0' } }]]);
  t.is(json(add), '{"add":{"element":{"family":"inet","table":"berth","name":"masq4","elem":[[{"prefix":{"addr":"10.1.0.0","len":24}},{"jump":{"target":"masq-br0"}}]]}}}');
  const del = nft.deleteElements(T, 'masq4', [key]);
  t.is(json(del), '{"delete":{"element":{"family":"inet","table":"berth","name":"masq4","elem":[{"prefix":{"addr":"10.1.0.0","len":24}}]}}}');
});

test('core/workload.ts guard set commands are NftCommands as they are (core/ cannot import the builder)', (t) => {
  const commands: readonly NftCommand[] = guardSetCommands(['10.1.0.2', 'fd00::2'], false);
  t.deepEqual(commands, [
    nft.addElements({ family: 'inet', table: 'berth-policy' }, 'guard4', ['10.1.0.2']),
    nft.deleteElements({ family: 'inet', table: 'berth-policy' }, 'guard4', ['10.1.0.2']),
    nft.addElements({ family: 'inet', table: 'berth-policy' }, 'guard6', ['fd00::2']),
    nft.deleteElements({ family: 'inet', table: 'berth-policy' }, 'guard6', ['fd00::2']),
  ]);
});
