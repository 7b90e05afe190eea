/**
 * The driver contract (drivers/driver.ts), held against every driver of the catalog, through
 * its interface, on the real kernel of the test run's private namespace: create and delete
 * twice; delete what is already gone; a create that fails at any one of its steps (a fault
 * injected through the host ports) leaves nothing behind; CHECK sees drift; GC removes what no
 * attachment holds; restore puts a live endpoint back after a restart of its agent.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckFailedError, KernelError } from '../../../core/errors.js';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import { openNetlink, openNftables } from '../../../dataplane/linux/index.js';
import { CATALOG, type CatalogEntry } from '../../../drivers/catalog.js';
import type { Driver, EndpointRef, EndpointSpec, NetworkSpec } from '../../../drivers/driver.js';
import type { DriverModule } from '../../../drivers/driver-module.js';
import { makeNetns, sh } from '../../support/netns.js';
import { SUBJECTS, type ContractSubject } from './contract-subjects.js';
import { FaultPlan } from './host-faults.js';

interface Case {
  readonly entry: CatalogEntry;
  readonly module: DriverModule;
  readonly subject: ContractSubject;
}

/** Everything the suite can see of the host: links, addresses, berth's tables, run-dir files. */
function snapshot(runDir: string, sandboxes: readonly string[] = []): Record<string, unknown> {
  const nl = openNetlink();
  try {
    const links = nl
      .listLinks({})
      .map((l) => `${l.name}:${l.kind}:${l.master ?? ''}`)
      .sort();
    const addresses = nl
      .listAddresses({})
      .map((a) => `${a.index}:${a.address.address}/${a.address.length}`)
      .sort();
    const nft = openNftables()
      .list('ruleset')
      .filter((i) => !('metainfo' in i))
      .map((i) => JSON.stringify(i, (k, v: unknown) => (k === 'handle' ? undefined : v)))
      .sort();
    const sandboxLinks = sandboxes.map((path) => {
      const snl = openNetlink(path);
      try {
        return snl
          .listLinks({})
          .map((l) => l.name)
          .sort();
      } finally {
        snl.close();
      }
    });
    return { links, addresses, nft, sandboxLinks, state: stateFiles(runDir) };
  } finally {
    nl.close();
  }
}

/** Files under the run dir with their content (lock files are empty and say nothing). */
function stateFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'locks') walk(p);
      } else if (!name.endsWith('.lock')) out[p.slice(dir.length)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

function setup(t: ExecutionContext, c: Case, opts: { followsEndpoints: boolean; pods?: number }) {
  const runDir = mkdtempSync(join(tmpdir(), 'berth-contract-'));
  const ns = makeNetns('bkc', opts.pods ?? 1);
  t.teardown(() => {
    ns.cleanup();
    rmSync(runDir, { recursive: true, force: true });
  });
  const subnet = IpPrefix.parse(c.subject.subnet);
  const net: NetworkSpec<unknown> = {
    id: 'contract',
    name: 'contract',
    subnets: [{ subnet, rangeStart: subnet.first, rangeEnd: subnet.last, ...(c.subject.gateway ? { gateway: IpAddress.parse(c.subject.gateway) } : {}) }],
    options: c.module.cniOptions('contract', c.subject.conf),
    followsEndpoints: opts.followsEndpoints,
  };
  const driver = (plan?: FaultPlan): Driver<unknown> => c.module.create({ runDir, ...(plan ? { intercept: plan.intercept } : {}) });
  const endpoint = (i: number): EndpointSpec => ({
    containerId: `contract-${i}`,
    ifname: 'eth0',
    placement: { kind: 'netns', path: ns.paths[i]! },
    addresses: [{ address: { address: subnet.first.plus(10n + BigInt(i)), length: subnet.length }, ...(c.subject.gateway ? { gateway: IpAddress.parse(c.subject.gateway) } : {}) }],
    routes: [],
  });
  const ref = (i: number): EndpointRef => ({ containerId: `contract-${i}`, ifname: 'eth0', placement: { kind: 'netns', path: ns.paths[i]! } });
  const teardown = async (d: Driver<unknown>) => {
    for (let i = 0; i < (opts.pods ?? 1); i++) await d.deleteEndpoint(net, ref(i));
    await d.deleteNetwork(net);
  };
  t.teardown(() => teardown(driver()));
  return { runDir, net, driver, endpoint, ref, sandboxes: ns.paths };
}

const cases: Case[] = [];
test.before(async () => {
  for (const entry of CATALOG) {
    const subject = SUBJECTS[entry.name];
    if (subject) cases.push({ entry, module: await entry.load(), subject });
  }
});

test.serial('every driver of the catalog has a contract subject', (t) => {
  t.deepEqual(
    CATALOG.filter((e) => !SUBJECTS[e.name]).map((e) => e.name),
    [],
  );
});

for (const entry of CATALOG) {
  const run = (title: string, fn: (t: ExecutionContext, c: Case) => Promise<void>) =>
    test.serial(`${entry.name}: ${title}`, async (t) => {
      const c = cases.find((x) => x.entry === entry);
      if (!c) return t.fail(`no contract subject for ${entry.name}`);
      await fn(t, c);
    });

  run('create and delete twice; deleting what is gone succeeds; nothing is left', async (t, c) => {
    const s = setup(t, c, { followsEndpoints: false });
    const before = snapshot(s.runDir, s.sandboxes);
    const d = s.driver();
    await d.createNetwork(s.net);
    await d.createNetwork(s.net);
    const info = await d.createEndpoint(s.net, s.endpoint(0));
    t.is(info.interfaces[info.sandboxInterface]!.name, 'eth0');
    await d.check(s.net, s.endpoint(0));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.deleteEndpoint(s.net, { ...s.ref(0), placement: { kind: 'gone' } });
    await d.deleteNetwork(s.net);
    await d.deleteNetwork(s.net);
    t.deepEqual(snapshot(s.runDir, s.sandboxes), before);
  });

  run('a network that follows its endpoints comes with the first and goes with the last', async (t, c) => {
    const s = setup(t, c, { followsEndpoints: true, pods: 2 });
    const before = snapshot(s.runDir, s.sandboxes);
    const d = s.driver();
    await d.createEndpoint(s.net, s.endpoint(0));
    await d.createEndpoint(s.net, s.endpoint(1));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.check(s.net, s.endpoint(1));
    await d.deleteEndpoint(s.net, s.ref(1));
    t.deepEqual(snapshot(s.runDir, s.sandboxes), before);
  });

  run('a create that fails at any one of its steps leaves nothing behind', async (t, c) => {
    for (const follows of [true, false]) {
      const s = setup(t, c, { followsEndpoints: follows });
      const before = snapshot(s.runDir, s.sandboxes);
      const counting = new FaultPlan();
      const d = s.driver(counting);
      if (!follows) await d.createNetwork(s.net);
      const base = follows ? before : snapshot(s.runDir, s.sandboxes);
      const first = counting.steps;
      await d.createEndpoint(s.net, s.endpoint(0));
      const steps = counting.steps - first;
      await d.deleteEndpoint(s.net, s.ref(0));
      t.true(steps >= 3, `a create takes several steps: ${counting.names.slice(first).join(', ')}`);
      for (let n = 1; n <= steps; n++) {
        const plan = new FaultPlan(first + n);
        const faulty = s.driver(plan);
        // The faulty driver starts at the endpoint (the network exists: made again, idempotently,
        // in case an undo took it), so its failing step `first + n` is the endpoint's n-th.
        if (!follows) await s.driver().createNetwork(s.net);
        plan.steps = first;
        const step = `step ${n} of ${steps} (${counting.names[first + n - 1]}), follows endpoints: ${follows}`;
        try {
          await faulty.createEndpoint(s.net, s.endpoint(0));
          // A driver may recover from a failed step by itself (WinNAT rebuilds its table from its
          // state when the kernel refuses a change): then the endpoint must be whole.
          await s.driver().check(s.net, s.endpoint(0));
          await s.driver().deleteEndpoint(s.net, s.ref(0));
          t.log(`recovered from a fault at ${step}`);
        } catch (err) {
          t.true(err instanceof KernelError && /injected fault/.test(err.message), `${step}: ${String(err)}`);
        }
        t.deepEqual(snapshot(s.runDir, s.sandboxes), base, `after a fault at ${step}`);
      }
      if (!follows) await s.driver().deleteNetwork(s.net);
      t.deepEqual(snapshot(s.runDir, s.sandboxes), before);
    }
  });

  run('CHECK sees drift: a missing sandbox address, a missing host link', async (t, c) => {
    const s = setup(t, c, { followsEndpoints: true });
    const d = s.driver();
    const ep = s.endpoint(0);
    await d.createEndpoint(s.net, ep);
    await d.check(s.net, ep);
    const address = `${ep.addresses[0]!.address.address}/${ep.addresses[0]!.address.length}`;
    sh('ip', ['-n', s.sandboxes[0]!.split('/').pop()!, 'addr', 'del', address, 'dev', 'eth0']);
    await t.throwsAsync(() => d.check(s.net, ep), { instanceOf: CheckFailedError, message: /lacks address/ });
    await d.deleteEndpoint(s.net, s.ref(0));
    await t.throwsAsync(() => d.check(s.net, ep), { instanceOf: CheckFailedError });
  });

  run('GC removes the endpoints no attachment holds, and keeps the others', async (t, c) => {
    const s = setup(t, c, { followsEndpoints: false, pods: 2 });
    const d = s.driver();
    await d.createNetwork(s.net);
    await d.createEndpoint(s.net, s.endpoint(0));
    await d.createEndpoint(s.net, s.endpoint(1));
    await d.gc(s.net, [{ containerId: 'contract-1', ifname: 'eth0' }]);
    await d.check(s.net, s.endpoint(1));
    await t.throwsAsync(() => d.check(s.net, s.endpoint(0)), { instanceOf: CheckFailedError });
  });

  run('restore after a restart of the agent: ok, reattached to a re-created network, or lost', async (t, c) => {
    const s = setup(t, c, { followsEndpoints: false });
    await s.driver().createNetwork(s.net);
    await s.driver().createEndpoint(s.net, s.endpoint(0));
    const restarted = s.driver();
    await restarted.createNetwork(s.net);
    t.is(await restarted.restore(s.net, s.ref(0)), 'ok');
    // The network's host objects went behind the agent's back (a reboot of the bridge, say).
    const bridge = (c.subject.conf.bridge as string | undefined) ?? '';
    sh('ip', ['link', 'del', bridge]);
    await restarted.createNetwork(s.net);
    t.is(await restarted.restore(s.net, s.ref(0)), 'reattached');
    await restarted.check(s.net, s.endpoint(0));
    sh('ip', ['-n', s.sandboxes[0]!.split('/').pop()!, 'link', 'del', 'eth0']);
    t.is(await restarted.restore(s.net, s.ref(0)), 'lost');
  });
}
