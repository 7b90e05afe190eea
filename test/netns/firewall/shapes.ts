/**
 * Forward drops the way their owners make them, built with the owners' own tools in the test
 * run's private namespace: Docker's (iptables-nft and iptables-legacy), ufw's, a plain
 * iptables FORWARD policy, and an nftables ruleset. Each shape knows where berth's accept must
 * land and how to take itself away again.
 */
import { spawnSync } from 'node:child_process';

export const IPTABLES = '/usr/sbin/iptables';
export const IPTABLES_LEGACY = '/usr/sbin/iptables-legacy';
export const NFT = '/usr/sbin/nft';

export function run(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export interface FirewallShape {
  readonly name: string;
  /** The chain berth's accept must be in, as `iptables -S CHAIN` / `nft list chain ...` would name it. */
  readonly place: { readonly tool: 'iptables' | 'iptables-legacy' | 'nft'; readonly chain: string };
  setUp(): void;
  /**
   * The admin's own rules in berth's chain, made before berth's (at boot, or by a reload): one
   * that drops forwarding to `dest`, put where that admin would put it (`-I DOCKER-USER`, `-A`
   * elsewhere), and for the plain FORWARD a closing catch-all `-j DROP`.
   */
  adminRules(dest: string): void;
  /** The line of the chain's trailing catch-all berth's rule must stay above, if the chain has one. */
  readonly catchAll?: RegExp;
  /** The rules of berth's chain as text (iptables -S, or nft list chain). */
  placeRules(): string;
  /** Removes berth's rule from the owner's chain behind berth's back (as a reload would). */
  dropBerthRule(): void;
  tearDown(): void;
}

const BERTH_RULE = /berth: accept/;

function iptablesShape(name: string, tool: typeof IPTABLES | typeof IPTABLES_LEGACY, chain: string, setUp: string[][], admin: (dest: string) => string[][], catchAll?: RegExp): FirewallShape {
  const ipt = (...args: string[]) => run(tool, '-w', ...args);
  return {
    name,
    place: { tool: tool === IPTABLES ? 'iptables' : 'iptables-legacy', chain },
    setUp: () => {
      for (const args of setUp) ipt(...args);
    },
    adminRules: (dest) => {
      for (const args of admin(dest)) ipt(...args);
    },
    ...(catchAll ? { catchAll } : {}),
    placeRules: () => ipt('-S', chain),
    dropBerthRule: () => {
      for (const line of ipt('-S', chain).split('\n')) {
        if (BERTH_RULE.test(line)) ipt(...splitRule(line.replace(/^-A /, '-D ')));
      }
    },
    tearDown: () => {
      spawnSync(tool, ['-w', '-P', 'FORWARD', 'ACCEPT']);
      spawnSync(tool, ['-w', '-F']);
      spawnSync(tool, ['-w', '-X']);
      if (tool === IPTABLES) spawnSync(NFT, ['delete', 'table', 'ip', 'filter']);
    },
  };
}

/** `-D DOCKER-USER -m comment --comment "a b" -j ACCEPT` into argv. */
function splitRule(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Docker 20.10's filter chains on a host that booted with forwarding off. */
const DOCKER = [
  ['-N', 'DOCKER'],
  ['-N', 'DOCKER-ISOLATION-STAGE-1'],
  ['-N', 'DOCKER-ISOLATION-STAGE-2'],
  ['-N', 'DOCKER-USER'],
  ['-A', 'DOCKER-ISOLATION-STAGE-1', '-j', 'RETURN'],
  ['-A', 'DOCKER-ISOLATION-STAGE-2', '-j', 'RETURN'],
  ['-A', 'DOCKER-USER', '-j', 'RETURN'],
  ['-A', 'FORWARD', '-j', 'DOCKER-USER'],
  ['-A', 'FORWARD', '-j', 'DOCKER-ISOLATION-STAGE-1'],
  ['-P', 'FORWARD', 'DROP'],
];

/** ufw's forward path with DEFAULT_FORWARD_POLICY="DROP": before-forward accepts replies, then the user's rules. */
const UFW = [
  ['-N', 'ufw-before-forward'],
  ['-N', 'ufw-user-forward'],
  ['-N', 'ufw-after-forward'],
  ['-A', 'FORWARD', '-j', 'ufw-before-forward'],
  ['-A', 'FORWARD', '-j', 'ufw-after-forward'],
  ['-A', 'ufw-before-forward', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
  ['-A', 'ufw-before-forward', '-j', 'ufw-user-forward'],
  ['-P', 'FORWARD', 'DROP'],
];

const NFT_RULESET = 'table inet filter {\n  chain forward {\n    type filter hook forward priority filter; policy drop;\n    ct state established,related accept\n  }\n}\n';

/** Docker documents `iptables -I DOCKER-USER ...` for the admin's rules: above Docker's RETURN. */
const DOCKER_ADMIN = (dest: string) => [['-I', 'DOCKER-USER', '-d', dest, '-j', 'DROP']];
const DOCKER_RETURN = /^-A DOCKER-USER -j RETURN$/;

export const SHAPES: readonly FirewallShape[] = [
  iptablesShape('Docker (iptables-nft)', IPTABLES, 'DOCKER-USER', DOCKER, DOCKER_ADMIN, DOCKER_RETURN),
  iptablesShape('Docker (iptables-legacy)', IPTABLES_LEGACY, 'DOCKER-USER', DOCKER, DOCKER_ADMIN, DOCKER_RETURN),
  // `ufw route deny to DEST` appends to ufw-user-forward.
  iptablesShape('ufw', IPTABLES, 'ufw-user-forward', UFW, (dest) => [['-A', 'ufw-user-forward', '-d', dest, '-j', 'DROP']]),
  iptablesShape(
    'iptables FORWARD policy drop, with a closing -j DROP',
    IPTABLES,
    'FORWARD',
    [['-P', 'FORWARD', 'DROP']],
    (dest) => [
      ['-A', 'FORWARD', '-d', dest, '-j', 'DROP'],
      ['-A', 'FORWARD', '-j', 'DROP'],
    ],
    /^-A FORWARD -j DROP$/,
  ),
  {
    name: 'nftables ruleset (inet filter forward, policy drop)',
    place: { tool: 'nft', chain: 'inet filter forward' },
    setUp: () => {
      const r = spawnSync(NFT, ['-f', '-'], { input: NFT_RULESET, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nft -f: ${r.stderr}`);
    },
    adminRules: (dest) => void run(NFT, 'add', 'rule', 'inet', 'filter', 'forward', 'ip', 'daddr', dest, 'drop'),
    placeRules: () => run(NFT, '-a', 'list', 'chain', 'inet', 'filter', 'forward'),
    dropBerthRule: () => {
      for (const line of run(NFT, '-a', 'list', 'chain', 'inet', 'filter', 'forward').split('\n')) {
        const handle = /comment "berth: .*# handle (\d+)/.exec(line)?.[1];
        if (handle) run(NFT, 'delete', 'rule', 'inet', 'filter', 'forward', 'handle', handle);
      }
    },
    tearDown: () => void spawnSync(NFT, ['delete', 'table', 'inet', 'filter']),
  },
];

export function countBerthRules(text: string): number {
  return text.split('\n').filter((l) => BERTH_RULE.test(l)).length;
}

/**
 * Whether berth's rule sits after the admin's rule about `dest` and before the chain's
 * catch-all: the admin's rules decide first, and berth's rule is still reached.
 */
export function berthRuleAfterAdmin(shape: FirewallShape, dest: string): boolean {
  const lines = shape.placeRules().split('\n');
  const berth = lines.findIndex((l) => BERTH_RULE.test(l));
  const admin = lines.findIndex((l) => l.includes(dest) && !BERTH_RULE.test(l));
  const closing = shape.catchAll ? lines.findIndex((l) => shape.catchAll!.test(l)) : lines.length;
  return berth >= 0 && admin >= 0 && admin < berth && berth < closing;
}
