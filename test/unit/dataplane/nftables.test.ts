import test from 'ava';
import { summarizeCommands } from '../../../dataplane/linux/nftables.js';
import type { NftCommand } from '../../../dataplane/nft-commands.js';

test('summarizeCommands() names the first commands of a batch for error messages', (t) => {
  const cmds: NftCommand[] = [
    { add: { table: { family: 'inet', name: 'berth' } } },
    { add: { chain: { family: 'inet', table: 'berth', name: 'fwd' } } },
    { add: { rule: { family: 'inet', table: 'berth', chain: 'fwd', expr: [] } } },
    { delete: { table: { family: 'ip', name: 'old' } } },
  ];
  t.is(summarizeCommands(cmds), 'add table inet berth, add chain inet berth fwd, add rule inet berth fwd (+1 more)');
  t.is(summarizeCommands([{ flush: { ruleset: null } }]), 'flush ruleset');
});
