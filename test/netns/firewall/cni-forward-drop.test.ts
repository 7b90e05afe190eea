/**
 * CNI pods on a host whose forward hook another owner closed (policy drop), for each owner's
 * shape: the pods reach each other and the outside, berth's accept sits in the owner's
 * documented chain (one rule, in a form the owner's tool still reads) after the admin's own
 * rules there and before the chain's closing catch-all, so an admin's drop still decides for
 * berth's pods, the owner's drop still
 * holds for everything else, a rule removed behind berth's back comes back on a re-check, and
 * the last DEL leaves no berth rule in the owner's chains.
 *
 * Addresses: 10.160.0.0/16, only inside this run's namespaces.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { NftForwardPassage, openNftables } from '../../../dataplane/linux/index.js';
import { nftTables, ping } from '../../support/netns.js';
import { kernelLacks, skipBecause } from '../../support/skip.js';
import { addressOf, berthBridge, client, conflist, pods, world } from '../cni/fixtures.js';
import { ip, uplink } from '../nat/fixtures.js';
import { SHAPES, berthRuleAfterAdmin, countBerthRules, type FirewallShape } from './shapes.js';

const t2 = test.serial;

SHAPES.forEach((shape: FirewallShape, i: number) => {
  const title = `forward drop by ${shape.name}: pods reach each other and the outside; only berth's traffic passes; the last DEL takes berth's rule away`;
  t2(title, async (t) => {
    const lacks = shape.place.tool === 'iptables-legacy' ? kernelLacks.legacyXtables() : undefined;
    if (lacks) return skipBecause(t, lacks);
    const w = world(`fw${i}`);
    const p = pods(`bfw${i}`, 2);
    const up = uplink(`10.160.${100 + i}`);
    shape.setUp();
    // A second outside host the admin forbids forwarding to, in the owner's chain, before berth comes.
    const forbidden = `10.160.${100 + i}.3`;
    ip('-n', up.ext, 'addr', 'add', `${forbidden}/24`, 'dev', 'ext0');
    shape.adminRules(forbidden);
    t.teardown(() => {
      shape.tearDown();
      up.cleanup();
      p.cleanup();
      w.cleanup();
    });
    const subnet = `10.160.${i}.0/24`;
    const conf = conflist(`fw${i}`, [berthBridge(w, `fw${i}`, subnet, { bridge: `bt-fw${i}`, isDefaultGateway: true })]);
    const c = client(w);
    const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
    const ra = await c.add(a, conf);
    t.is(ra.code, 0, ra.stderr + ra.stdout);
    const rb = await c.add(b, conf);
    t.is(rb.code, 0, rb.stderr + rb.stdout);
    const ipA = addressOf(ra);
    const ipB = addressOf(rb);

    t.true(ping(a.netns, ipB), 'a reaches b across the bridge (br_netfilter sends it through the drop)');
    t.true(ping(b.netns, ipA), 'b reaches a');
    t.true(ping(a.netns, up.extIp), 'a reaches the outside (masqueraded)');
    t.is(countBerthRules(shape.placeRules()), 1, `one berth rule in ${shape.place.chain}:\n${shape.placeRules()}`);
    t.true(berthRuleAfterAdmin(shape, forbidden), `berth's rule after the admin's, before any catch-all:\n${shape.placeRules()}`);
    t.false(ping(a.netns, forbidden), "the admin's rule still decides for berth's pods");
    if (shape.place.tool === 'iptables') t.is(spawnSync('/usr/sbin/iptables', ['-S'], { stdio: 'ignore' }).status, 0, 'iptables-nft still reads its table');

    // The owner's drop still holds for what is not berth's: a routed connection from outside.
    ip('-n', up.ext, 'route', 'add', subnet, 'via', up.hostIp);
    t.false(ping(up.ext, ipA), 'the outside does not reach a pod directly: the owner drops it');

    // Taken away behind berth's back (a reload): the traffic stops, and a re-check restores it.
    shape.dropBerthRule();
    t.is(countBerthRules(shape.placeRules()), 0);
    t.false(ping(a.netns, ipB), "without berth's rule the owner drops the pods' traffic");
    const passage = new NftForwardPassage({ nftables: () => openNftables(), withLock: (_name, fn) => fn() });
    const report = passage.refresh();
    t.deepEqual(report.devices, [`bt-fw${i}`]);
    t.is(report.passages.length, 1, JSON.stringify(report));
    t.true(ping(a.netns, ipB), 'a re-check puts it back');
    t.true(ping(a.netns, up.extIp), '... for the outside too');
    t.is(countBerthRules(shape.placeRules()), 1);
    t.true(berthRuleAfterAdmin(shape, forbidden), `put back after the admin's rule again:\n${shape.placeRules()}`);
    t.false(ping(a.netns, forbidden), "and the admin's rule still decides");

    for (const pod of [a, b]) {
      const r = await c.del(pod, conf);
      t.is(r.code, 0, r.stderr + r.stdout);
    }
    t.is(countBerthRules(shape.placeRules()), 0, `no berth rule left in ${shape.place.chain}:\n${shape.placeRules()}`);
    t.false(nftTables().includes('inet berth-passage'), 'the passage table is gone with the last network');
  });
});

t2("no foreign drop: berth adds nothing to anyone's chains and no marking chain", async (t) => {
  const w = world('fwnone');
  const p = pods('bfwn', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('fwnone', [berthBridge(w, 'fwnone', '10.160.50.0/24', { bridge: 'bt-fwnone' })]);
  const c = client(w);
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf)).code, 0);
  const listing = spawnSync('/usr/sbin/nft', ['list', 'table', 'inet', 'berth-passage'], { encoding: 'utf8' }).stdout;
  t.regex(listing, /elements = \{ "bt-fwnone" \}/, 'the device is remembered for later re-checks');
  t.notRegex(listing, /hook forward/, 'but nothing marks packets while nobody drops');
  t.is((await c.del(pod, conf)).code, 0);
  t.false(nftTables().includes('inet berth-passage'));
});
