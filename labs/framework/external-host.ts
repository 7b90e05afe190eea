/**
 * An external host: an `ip netns` namespace of the lab joined to the lab's host by a veth
 * pair, on a documentation prefix, as a client outside the Docker host would be. Built with
 * the `ip` commands a user would type, shown as steps.
 */
import type { LabContext } from './context.js';
import { runCommand } from './process.js';

export interface ExternalHost {
  readonly name: string;
  /** The lab host's address towards it. */
  readonly hostAddress: string;
  readonly address: string;
}

/** Builds it on `prefix24` (three octets): the host side .1, the external host .2. */
export async function addExternalHost(ctx: LabContext, name: string, prefix24: string): Promise<ExternalHost> {
  const hostSide = `to-${name}`.slice(0, 15);
  const ext = { name, hostAddress: `${prefix24}.1`, address: `${prefix24}.2` };
  ctx.defer(`the external host ${name}`, async () => {
    await runCommand(['ip', 'netns', 'del', name]);
    await runCommand(['ip', 'link', 'del', hostSide]);
  });
  const steps: string[][] = [
    ['ip', 'netns', 'add', name],
    ['ip', 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name],
    ['ip', 'addr', 'add', `${ext.hostAddress}/24`, 'dev', hostSide],
    ['ip', 'link', 'set', hostSide, 'up'],
    ['ip', '-n', name, 'addr', 'add', `${ext.address}/24`, 'dev', 'eth0'],
    ['ip', '-n', name, 'link', 'set', 'eth0', 'up'],
    ['ip', '-n', name, 'link', 'set', 'lo', 'up'],
  ];
  for (const [n, argv] of steps.entries()) {
    const s = await ctx.sh(argv, n === 0 ? `An external host "${name}" (a namespace of the lab) on ${prefix24}.0/24, joined to the host by a veth pair.` : undefined);
    if (s.code !== 0) {
      s.succeeded(`${argv.join(' ')}`);
      throw new Error(`the external host ${name} could not be built: ${s.ran.stderr.trim()}`);
    }
  }
  ctx.addPlace({ kind: 'host', name, role: 'external', exec: ['ip', 'netns', 'exec', name], shell: ['ip', 'netns', 'exec', name, 'sh'], netns: `/run/netns/${name}` });
  return ext;
}
