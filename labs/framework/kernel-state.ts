/** What the labs read from the kernel to check a step (not shown as steps). */
import { runCommand } from './process.js';

interface IpAddr {
  ifindex: number;
  ifname: string;
  master?: string;
  addr_info?: { local: string; prefixlen: number }[];
}

async function ipJson(args: readonly string[]): Promise<IpAddr[]> {
  const r = await runCommand(['ip', '-j', ...args]);
  return r.code === 0 ? (JSON.parse(r.stdout || '[]') as IpAddr[]) : [];
}

/** The name of the bridge that holds `address`, or ''. */
export async function bridgeHolding(address: string): Promise<string> {
  const links = await ipJson(['addr', 'show', 'type', 'bridge']);
  return links.find((l) => (l.addr_info ?? []).some((a) => a.local === address))?.ifname ?? '';
}

/** The ports of a bridge, by ifindex. */
export async function bridgePorts(bridge: string): Promise<Map<number, string>> {
  return new Map((await ipJson(['link', 'show', 'master', bridge])).map((l) => [l.ifindex, l.ifname]));
}
