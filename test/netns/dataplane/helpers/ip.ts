/**
 * Test helpers for the dataplane's kernel tests: fresh namespaces per test, each with a
 * Netlink handle bound to it, and `ip -j` to check from outside what landed where.
 */
import type { ExecutionContext } from 'ava';
import { openNetlink } from '../../../../dataplane/linux/index.js';
import type { Netlink } from '../../../../dataplane/linux/index.js';
import { makeNetns, sh } from '../../../support/netns.js';

export interface TestNetns {
  readonly name: string;
  readonly path: string;
  readonly nl: Netlink;
}

/** `n` new namespaces, removed (with their handles closed) when the test ends. */
export function namespaces(t: ExecutionContext, n = 1): TestNetns[] {
  const made = makeNetns('bdp', n);
  const out = made.names.map((name, i) => ({ name, path: made.paths[i] as string, nl: openNetlink(made.paths[i]) }));
  t.teardown(() => {
    for (const ns of out) ns.nl.close();
    made.cleanup();
  });
  return out;
}

/** `ip -n NS -j ARGS...` parsed. */
export function ipJson<T = Record<string, unknown>[]>(ns: string, ...args: string[]): T {
  const text = sh('ip', ['-n', ns, '-j', ...args]);
  return (text.trim() === '' ? [] : JSON.parse(text)) as T;
}

/** Link names in a namespace, from `ip -n NS link`. */
export function linkNames(ns: string): string[] {
  return ipJson<{ ifname: string }[]>(ns, 'link', 'show').map((l) => l.ifname);
}

/** Runs a command in a namespace (`ip netns exec`) and returns stdout. */
export function inNs(ns: string, cmd: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** The index of a link that must exist. */
export function indexOf(nl: Netlink, name: string): number {
  const link = nl.getLink(name);
  if (!link) throw new Error(`link ${name} is missing`);
  return link.index;
}
