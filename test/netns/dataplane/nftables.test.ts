import test from 'ava';
import { InvalidConfigError, KernelError, NotFoundError } from '../../../core/errors.js';
import { openNftables } from '../../../dataplane/linux/index.js';
import type { NftCommand } from '../../../dataplane/nft-commands.js';
import { inNs, namespaces } from './helpers/ip.js';

type Obj = Record<string, Record<string, unknown>>;

const table = { family: 'inet', name: 'berth-test' } as const;
/** The table reference that chains, sets, elements and rules carry. */
const inTable = { family: 'inet', table: 'berth-test' } as const;

/**
 * `nft list tables` in a namespace. The absolute path matters: under npx, node_modules/.bin
 * comes first on PATH and holds @vercel/nft's unrelated `nft` command.
 */
function tablesIn(ns: string): string {
  return inNs(ns, '/usr/sbin/nft', 'list', 'tables');
}

test('run() applies a batch and list() returns its objects as JSON; delete removes the table', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  const nft = openNftables(ns.path);
  t.teardown(() => nft.close());
  nft.run([
    { add: { table } },
    { add: { chain: { ...inTable, name: 'fwd', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } } },
    { add: { set: { ...inTable, name: 'pods', type: 'ipv4_addr', flags: ['interval'] } } },
    { add: { element: { ...inTable, name: 'pods', elem: [{ prefix: { addr: '10.80.0.0', len: 24 } }] } } },
    {
      add: {
        rule: {
          ...inTable,
          chain: 'fwd',
          expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@pods' } }, { counter: null }, { accept: null }],
        },
      },
    },
  ]);
  const listed = nft.list('table inet berth-test') as Obj[];
  const kinds = new Set(listed.map((o) => Object.keys(o)[0]));
  for (const k of ['table', 'chain', 'set', 'rule']) t.true(kinds.has(k), k);
  t.like(listed.find((o) => o.set)?.set, { name: 'pods', type: 'ipv4_addr', table: 'berth-test' });
  t.like(listed.find((o) => o.chain)?.chain, { name: 'fwd', hook: 'forward', policy: 'accept' });
  t.regex(tablesIn(ns.name), /table inet berth-test/, 'the table is in the namespace the context was opened for');
  nft.run([{ delete: { table } }]);
  t.notRegex(tablesIn(ns.name), /berth-test/);
});

test("an invalid batch throws KernelError with nft's text and changes nothing", (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  const nft = openNftables(ns.path);
  t.teardown(() => nft.close());
  const err = t.throws(() => nft.run([{ add: { table } }, { add: { chain: { ...inTable, name: 'fwd' } } }, { add: { rule: { ...inTable, chain: 'missing', expr: [{ accept: null }] } } }]), {
    instanceOf: KernelError,
  });
  t.regex(
    err?.message ?? '',
    /^Cannot apply nftables transaction \[add table inet berth-test, add chain inet berth-test fwd, add rule inet berth-test missing\] \(nft -j -f -\): Error: .*No such file or directory/,
  );
  t.is(err?.fields.operation, 'nft -j -f -');
  t.is(tablesIn(ns.name).trim(), '', 'the table of the failed batch was not created');
  t.throws(() => nft.list('table inet berth-test'), { instanceOf: NotFoundError }, 'an absent object lists as NotFoundError, not as a kernel failure');
  t.throws(() => nft.list('ruleset; flush ruleset'), { instanceOf: InvalidConfigError });
  const bad = t.throws(() => nft.run([{ add: { tabel: table } } as unknown as NftCommand]), { instanceOf: KernelError });
  t.false(bad?.message.includes('{"nftables"'), 'the echoed input is left out of the message');
});

test('openNftables() without a path is one shared context for the process namespace', (t) => {
  const nft = openNftables();
  t.is(openNftables(), nft);
  const mine = { family: 'ip', name: `berth-test-${process.pid}` } as const;
  nft.run([{ add: { table: mine } }, { add: { chain: { family: 'ip', table: mine.name, name: 'post', type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } } }]);
  t.teardown(() => nft.run([{ delete: { table: mine } }]));
  const names = (nft.list('tables') as Obj[]).filter((o) => o.table).map((o) => o.table?.name);
  t.true(names.includes(mine.name));
});
