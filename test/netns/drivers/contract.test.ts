/**
 * The driver contract suite (test/support/driver-contract.ts) for every driver of the catalog,
 * on the real kernel of the test run's private namespace: a world is a run dir, sandboxes as
 * network namespaces, and a snapshot of links, addresses, every nftables table and the state
 * files. Faults are injected through the drivers' host ports (drivers/driver-module.ts intercept).
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { AssignedAddress } from '../../../core/model.js';
import { openNetlink, openNftables } from '../../../dataplane/linux/index.js';
import { CATALOG, type CatalogEntry } from '../../../drivers/catalog.js';
import type { Driver, EndpointRef, EndpointSpec, NetworkSpec } from '../../../drivers/driver.js';
import { driverContract, type ContractTarget, type ContractWorld } from '../../support/driver-contract.js';
import type { FaultPlan } from '../../support/host-faults.js';
import { makeNetns, sh } from '../../support/netns.js';
import { SUBJECTS, type ContractSubject } from './contract-subjects.js';

/** Everything the suite can see of the host: links, addresses, every table, run-dir files. */
function snapshot(runDir: string, sandboxes: readonly string[], persistent?: RegExp): Record<string, unknown> {
  const nl = openNetlink();
  try {
    const links = nl
      .listLinks({})
      .map((l) => `${l.name}:${l.kind}:${l.master ?? ''}`)
      .sort();
    // IPv6 link-local addresses come and go with a link's state, on the kernel's own schedule
    // (an uplink made just before the first snapshot may still be getting its own): not state.
    const addresses = nl
      .listAddresses({})
      .filter((a) => !a.address.address.toString().toLowerCase().startsWith('fe80:'))
      .map((a) => `${a.index}:${a.address.address}/${a.address.length}`)
      .sort();
    const nft = openNftables()
      .list('ruleset')
      .filter((i) => !('metainfo' in i))
      // Handles are renumbered; counters count whatever the kernel sends (an IGMP report when a
      // bridge with an IPv4 address comes up passes another owner's nat chain): not state.
      .map((i) => JSON.stringify(i, (k, v: unknown) => (k === 'handle' ? undefined : k === 'counter' ? {} : v)))
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
    const state = Object.fromEntries(Object.entries(stateFiles(runDir)).filter(([path]) => !persistent?.test(path)));
    return { links, addresses, nft, sandboxLinks, state };
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

/** The catalog entry's driver on this kernel. */
async function linuxTarget(entry: CatalogEntry, subject: ContractSubject): Promise<ContractTarget> {
  const module = await entry.load();
  return {
    async world(t: ExecutionContext, opts): Promise<ContractWorld> {
      const runDir = mkdtempSync(join(tmpdir(), 'berth-contract-'));
      const ns = makeNetns('bkc', opts.pods);
      const subnet = IpPrefix.parse(subject.subnet);
      const gateway = subject.gateway ? { gateway: IpAddress.parse(subject.gateway) } : {};
      const net: NetworkSpec<unknown> = {
        id: 'contract',
        name: 'contract',
        subnets: [{ subnet, rangeStart: subnet.first, rangeEnd: subnet.last, ...gateway }],
        options: module.cniOptions('contract', subject.conf),
        followsEndpoints: opts.followsEndpoints,
      };
      const removeSetup = subject.setup?.(runDir);
      // A driver that gives addresses itself reports them; CHECK and the drift helpers use what it gave.
      const given = new Map<string, AssignedAddress[]>();
      const driver = (plan?: FaultPlan): Driver<unknown> => {
        const d = module.create({ runDir, ...(plan ? { intercept: plan.intercept } : {}) });
        if (subject.addressing !== 'driver') return d;
        const create = d.createEndpoint.bind(d);
        const remove = d.deleteEndpoint.bind(d);
        d.createEndpoint = async (n, ep) => {
          const info = await create(n, ep);
          given.set(ep.containerId, [...info.addresses]);
          return info;
        };
        d.deleteEndpoint = async (n, ep) => {
          await remove(n, ep);
          given.delete(ep.containerId);
        };
        return d;
      };
      const ref = (i: number): EndpointRef => ({ containerId: `contract-${i}`, ifname: 'eth0', placement: { kind: 'netns', path: ns.paths[i]! } });
      const fixed = (i: number): AssignedAddress[] => [{ address: { address: subnet.first.plus(10n + BigInt(i)), length: subnet.length }, ...gateway }];
      // Read when used, not when the spec is made: a spec taken before the create sees what the driver gave.
      const endpoint = (i: number): EndpointSpec => ({
        ...ref(i),
        get addresses() {
          return subject.addressing === 'driver' ? (given.get(ref(i).containerId) ?? []) : fixed(i);
        },
        routes: [],
      });
      t.teardown(async () => {
        const d = driver();
        for (let i = 0; i < opts.pods; i++) await d.deleteEndpoint(net, ref(i));
        await d.deleteNetwork(net);
        ns.cleanup();
        removeSetup?.();
        rmSync(runDir, { recursive: true, force: true });
      });
      const nsName = (i: number) => ns.names[i]!;
      return {
        net,
        driver,
        endpoint,
        ref,
        snapshot: () => snapshot(runDir, ns.paths, subject.persistentState),
        dropSandboxAddress: (i) => {
          const a = endpoint(i).addresses[0]!.address;
          sh('ip', ['-n', nsName(i), 'addr', 'del', `${a.address}/${a.length}`, 'dev', 'eth0']);
        },
        hasNetworkObjects: (subject.networkLinks ?? [subject.conf.bridge]).length > 0,
        dropNetworkObjects: () => {
          for (const link of subject.networkLinks ?? [subject.conf.bridge as string]) sh('ip', ['link', 'del', link]);
        },
        dropEndpoint: (i) => void sh('ip', ['-n', nsName(i), 'link', 'del', 'eth0']),
      };
    },
  };
}

test.serial('every driver of the catalog has a contract subject', (t) => {
  t.deepEqual(
    CATALOG.filter((e) => !SUBJECTS[e.name]).map((e) => e.name),
    [],
  );
});

for (const entry of CATALOG) {
  const subject = SUBJECTS[entry.name];
  if (subject) driverContract(test, entry.name, () => linuxTarget(entry, subject));
}
