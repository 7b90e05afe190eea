/**
 * The driver contract suite (drivers/driver.ts), written once against a `ContractTarget`: a
 * driver together with a way to see everything it leaves on its host and to break things behind
 * its back. test/netns/drivers/contract.test.ts runs it for every driver of the catalog on the
 * real kernel; test/unit/daemon/fake-driver.test.ts runs it for the daemon tests' fake driver.
 */
import type test from 'ava';
import type { ExecutionContext } from 'ava';
import { CheckFailedError, KernelError } from '../../core/errors.js';
import type { Driver, EndpointRef, EndpointSpec, NetworkSpec } from '../../drivers/driver.js';
import { FaultPlan } from './host-faults.js';

export interface ContractWorld {
  readonly net: NetworkSpec<unknown>;
  /** A driver as its agent would make it; with a plan, every host port goes through it. */
  driver(plan?: FaultPlan): Driver<unknown>;
  /** Endpoint `i` (0-based) of the world's sandboxes. */
  endpoint(i: number): EndpointSpec;
  ref(i: number): EndpointRef;
  /** Everything the driver can leave on the host, comparable with deepEqual. */
  snapshot(): unknown;
  /** Drift: endpoint `i` loses its sandbox address. */
  dropSandboxAddress(i: number): void;
  /** The network's host objects go (a bridge deleted by hand); endpoints stay. */
  dropNetworkObjects(): void;
  /** False for a driver whose network has nothing on the host (macvlan in VEPA mode): restore then has nothing to reattach. */
  readonly hasNetworkObjects?: boolean;
  /** Endpoint `i`'s interface goes (the container's end deleted). */
  dropEndpoint(i: number): void;
}

export interface ContractTarget {
  /** A world of `pods` sandboxes; `t.teardown` removes it. */
  world(t: ExecutionContext, opts: { followsEndpoints: boolean; pods: number }): Promise<ContractWorld>;
}

/** Registers the suite's tests for the driver `name` (serial: they share the host). */
export function driverContract(it: typeof test, name: string, target: () => Promise<ContractTarget>): void {
  const run = (title: string, fn: (t: ExecutionContext, target: ContractTarget) => Promise<void>) => it.serial(`${name}: ${title}`, async (t) => fn(t, await target()));

  run('create and delete twice; deleting what is gone succeeds; nothing is left', async (t, target) => {
    const s = await target.world(t, { followsEndpoints: false, pods: 1 });
    const before = s.snapshot();
    const d = s.driver();
    await d.createNetwork(s.net);
    await d.createNetwork(s.net);
    const info = await d.createEndpoint(s.net, s.endpoint(0));
    t.truthy(info.interfaces[info.sandboxInterface], 'the result names the sandbox interface');
    await d.check(s.net, s.endpoint(0));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.deleteEndpoint(s.net, { ...s.ref(0), placement: { kind: 'gone' } });
    await d.deleteNetwork(s.net);
    await d.deleteNetwork(s.net);
    t.deepEqual(s.snapshot(), before);
  });

  run('a network that follows its endpoints comes with the first and goes with the last', async (t, target) => {
    const s = await target.world(t, { followsEndpoints: true, pods: 2 });
    const before = s.snapshot();
    const d = s.driver();
    await d.createEndpoint(s.net, s.endpoint(0));
    await d.createEndpoint(s.net, s.endpoint(1));
    await d.deleteEndpoint(s.net, s.ref(0));
    await d.check(s.net, s.endpoint(1));
    await d.deleteEndpoint(s.net, s.ref(1));
    t.deepEqual(s.snapshot(), before);
  });

  run('a create that fails at any one of its steps leaves nothing behind', async (t, target) => {
    for (const follows of [true, false]) {
      const s = await target.world(t, { followsEndpoints: follows, pods: 1 });
      const before = s.snapshot();
      const counting = new FaultPlan();
      const d = s.driver(counting);
      if (!follows) await d.createNetwork(s.net);
      const base = s.snapshot();
      const first = counting.steps;
      await d.createEndpoint(s.net, s.endpoint(0));
      const steps = counting.steps - first;
      await d.deleteEndpoint(s.net, s.ref(0));
      t.true(steps >= 2, `a create takes several steps: ${counting.names.slice(first).join(', ')}`);
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
        t.deepEqual(s.snapshot(), base, `after a fault at ${step}`);
      }
      if (!follows) await s.driver().deleteNetwork(s.net);
      t.deepEqual(s.snapshot(), before);
    }
  });

  run('CHECK sees drift: a missing sandbox address, a missing endpoint', async (t, target) => {
    const s = await target.world(t, { followsEndpoints: true, pods: 1 });
    const d = s.driver();
    const ep = s.endpoint(0);
    await d.createEndpoint(s.net, ep);
    await d.check(s.net, ep);
    s.dropSandboxAddress(0);
    await t.throwsAsync(() => d.check(s.net, ep), { instanceOf: CheckFailedError, message: /lacks address/ });
    await d.deleteEndpoint(s.net, s.ref(0));
    await t.throwsAsync(() => d.check(s.net, ep), { instanceOf: CheckFailedError });
  });

  run('GC removes the endpoints no attachment holds, and keeps the others', async (t, target) => {
    const s = await target.world(t, { followsEndpoints: false, pods: 2 });
    const d = s.driver();
    await d.createNetwork(s.net);
    await d.createEndpoint(s.net, s.endpoint(0));
    await d.createEndpoint(s.net, s.endpoint(1));
    await d.gc(s.net, [{ containerId: s.ref(1).containerId, ifname: s.ref(1).ifname }]);
    await d.check(s.net, s.endpoint(1));
    await t.throwsAsync(() => d.check(s.net, s.endpoint(0)), { instanceOf: CheckFailedError });
  });

  run('restore after a restart of the agent: ok, reattached to a re-created network, or lost', async (t, target) => {
    const s = await target.world(t, { followsEndpoints: false, pods: 1 });
    await s.driver().createNetwork(s.net);
    await s.driver().createEndpoint(s.net, s.endpoint(0));
    const restarted = s.driver();
    await restarted.createNetwork(s.net);
    t.is(await restarted.restore(s.net, s.ref(0)), 'ok');
    s.dropNetworkObjects();
    await restarted.createNetwork(s.net);
    t.is(await restarted.restore(s.net, s.ref(0)), s.hasNetworkObjects === false ? 'ok' : 'reattached');
    await restarted.check(s.net, s.endpoint(0));
    s.dropEndpoint(0);
    t.is(await restarted.restore(s.net, s.ref(0)), 'lost');
  });
}
