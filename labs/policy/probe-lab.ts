/**
 * The probe lab behind `berth policy matrix --probe`: the pods of a set of manifests rebuilt as
 * network namespaces on one bridge, the policies compiled and applied to nftables exactly as
 * berth does it, and every ordered pair probed with real traffic. The result is the measured
 * matrix, to compare with the model's.
 *
 * It must run in a network namespace of its own (the CLI starts it under `unshare --net`): it
 * creates a bridge, writes sysctls and installs `inet berth-policy` in the namespace it runs
 * in, and refuses to start in the machine's own. Pods are agent processes started under
 * `unshare --net`, so their namespaces have no name and no file in /run/netns: each dies with
 * its agent, and everything dies with the lab.
 *
 * Topology: each pod holds exactly its IPv4 addresses from the model, as /32s on eth0 with a
 * default route straight out of eth0 (no gateway: every destination is on the link and found
 * by ARP), so pods of unrelated subnets share the one bridge. Bridged frames reach the forward
 * hook of the lab's namespace through br_netfilter, where the policy table filters them. The
 * bridge holds one link-local address and a default route, only so that the reject's ICMP
 * errors can be sent back to the pods.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidConfigError, NotAvailableError } from '../../core/errors.js';
import { openNftables } from '../../dataplane/linux/index.js';
import { NftPolicyDataplane, parsePolicyObjects, PolicyCompiler, type PolicyIR, type PolicyObject } from '../../policy/index.js';
import { PodAgent, type ProbeProtocol } from './agent.js';
import { tuneForProbes } from './probe-knobs.js';
import { probeAllPairs, type MeasuredMatrix, type ProbeFailure } from './probe-pairs.js';

const IP = '/usr/sbin/ip';
const BRIDGE = 'berth-probe';
const BR_NETFILTER = '/proc/sys/net/bridge/bridge-nf-call-iptables';

export interface ProbeLabInput {
  /** Namespace, Pod and NetworkPolicy manifests, validated here (what `berth policy apply` takes). */
  readonly manifests?: readonly unknown[];
  /** Where each manifest came from, for error messages (store keys). */
  readonly sources?: readonly string[];
  /**
   * Objects already read and validated (PolicyObject, as plain JSON): what the CLI knows,
   * including pods that berth's plugins recorded, which have no manifest.
   */
  readonly objects?: readonly PolicyObject[];
  readonly protocol: ProbeProtocol;
  readonly port: number;
  /** How long a probe waits for an answer (a dropped probe costs this much). */
  readonly timeoutMs?: number;
  /**
   * Test-only: build the lab but apply no policy, so the dataplane lets everything through
   * and any denial of the model shows as a disagreement (BERTH_LAB_SKIP_POLICY=1).
   */
  readonly skipPolicy?: boolean;
}

export interface ProbeLabResult {
  /** Measured reachability among the probeable pods, from → to. */
  readonly probe: MeasuredMatrix;
  /** Pods the lab could not build, and why (no IPv4 address, an address another pod holds). */
  readonly notProbed: Readonly<Record<string, string>>;
  /**
   * Probes that failed for a reason other than the policy's reject (EHOSTUNREACH) or a drop
   * (timeout): a sign of a broken lab rather than of the policy.
   */
  readonly odd: readonly ProbeFailure[];
  readonly policyApplied: boolean;
}

function run(cmd: string, args: readonly string[], input?: string): void {
  try {
    execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${cmd} ${args.join(' ')}${input ? ` <<< ${JSON.stringify(input)}` : ''}: ${stderr || (err as Error).message}`);
  }
}

/**
 * Refuses to run in a namespace it was not made for: the lab's must differ from its parent's
 * (the CLI's; `unshare` execs, so the parent is the process that asked for the lab), and from
 * pid 1's when that can be read (some sandboxes hide pid 1).
 */
export function assertPrivateNetns(): void {
  const ns = (pid: string) => readlinkSync(`/proc/${pid}/ns/net`);
  let own: string;
  let parent: string;
  try {
    own = ns('self');
    parent = ns(String(process.ppid));
  } catch (err) {
    throw new NotAvailableError(`the probe lab cannot tell which network namespace it is in: ${(err as Error).message}`);
  }
  let init: string | undefined;
  try {
    init = ns('1');
  } catch {
    init = undefined;
  }
  if (own === parent || own === init) {
    throw new NotAvailableError("the probe lab runs only in a network namespace made for it (start it under unshare --net); it will not touch this machine's network");
  }
}

/** Why bridged traffic cannot be filtered here, or undefined when br_netfilter is on (it turns it on). */
export function enableBrNetfilter(): string | undefined {
  if (!existsSync(BR_NETFILTER)) return 'br_netfilter is not available (the kernel module is not loaded: modprobe br_netfilter), so bridged traffic would bypass the policy';
  if (readFileSync(BR_NETFILTER, 'utf8').trim() !== '1') writeFileSync(BR_NETFILTER, '1');
  return undefined;
}

/** Addresses a pod can hold on a link: not loopback, unspecified, multicast or broadcast. */
function linkUsable(ip: string): boolean {
  const first = Number(ip.split('.')[0]);
  return first !== 0 && first !== 127 && first < 224;
}

/** The pods the lab builds (with their IPv4 addresses), and why the others are left out. */
export function planPods(ir: PolicyIR): { pods: Map<string, string[]>; notProbed: Record<string, string> } {
  const pods = new Map<string, string[]>();
  const notProbed: Record<string, string> = {};
  const holder = new Map<string, string>();
  for (const pod of ir.pods.values()) {
    const v4 = pod.addresses.filter((a) => a.family === 4).map((a) => a.toString());
    if (v4.length === 0) {
      notProbed[pod.key] = pod.addresses.length ? 'no IPv4 address (the lab probes IPv4 only)' : 'no address';
      continue;
    }
    const unusable = v4.find((ip) => !linkUsable(ip));
    const taken = v4.find((ip) => holder.has(ip));
    if (unusable) notProbed[pod.key] = `address ${unusable} cannot be given to an interface`;
    else if (taken) notProbed[pod.key] = `address ${taken} is also pod ${holder.get(taken)}'s`;
    else {
      for (const ip of v4) holder.set(ip, pod.key);
      pods.set(pod.key, v4);
    }
  }
  return { pods, notProbed };
}

/** The lab's pods while it runs; `stop()` ends them (their namespaces go with them). */
export class ProbeLabPods {
  readonly agents = new Map<string, PodAgent>();

  /** Kills every agent at once: for exit handlers, which cannot wait. */
  kill(): void {
    for (const a of this.agents.values()) a.kill();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
  }
}

/** Starts one agent per pod in a new namespace and wires it to the bridge. */
async function buildPods(plan: Map<string, string[]>, port: number, pods: ProbeLabPods): Promise<void> {
  run(IP, ['link', 'set', 'lo', 'up']);
  run(IP, ['link', 'add', BRIDGE, 'type', 'bridge']);
  run(IP, ['link', 'set', BRIDGE, 'up']);
  // The policy's reject is an ICMP error sent from this namespace: it needs an address to
  // send from and a route to the pods, or denied probes would look like drops (timeouts).
  const held = new Set([...plan.values()].flat());
  let last = 254;
  while (held.has(`169.254.99.${last}`)) last--;
  run(IP, ['-batch', '-'], `addr add 169.254.99.${last}/32 dev ${BRIDGE}\nroute add default dev ${BRIDGE}\n`);
  for (const key of plan.keys()) pods.agents.set(key, new PodAgent(['/usr/bin/unshare', '--net', '--'], [port], key));
  // `ready` comes from the agent itself, after unshare has entered the new namespace: only
  // then does /proc/PID/ns/net name the pod's namespace rather than the lab's.
  await Promise.all([...pods.agents.values()].map((a) => a.ready));
  let i = 0;
  for (const [key, ips] of plan) {
    const agent = pods.agents.get(key)!;
    const veth = `bp${i++}`;
    run(IP, ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(agent.pid)]);
    run(IP, ['link', 'set', veth, 'master', BRIDGE, 'up']);
    const batch = ['link set lo up', 'link set eth0 up', ...ips.map((ip) => `addr add ${ip}/32 dev eth0`), 'route add default dev eth0'];
    run('/usr/bin/nsenter', [`--net=/proc/${agent.pid}/ns/net`, IP, '-batch', '-'], `${batch.join('\n')}\n`);
  }
}

/**
 * Before any policy: every pod must reach every pod over TCP (links come up asynchronously,
 * so a few rounds are allowed). Otherwise a denial could be the lab's fault, not the policy's.
 * TCP, whatever is probed later: a later UDP probe that happened to reuse a source port would
 * meet a baseline conntrack entry and pass as established; a TCP SYN after a closed connection
 * starts a new one.
 */
async function baseline(plan: Map<string, string[]>, pods: ProbeLabPods, port: number): Promise<void> {
  const keys = [...plan.keys()];
  let failures: ProbeFailure[] = [];
  for (let round = 0; round < 10; round++) {
    ({ failures } = await probeAllPairs(
      keys,
      (k) => pods.agents.get(k)!,
      (k) => plan.get(k)![0]!,
      { protocol: 'TCP', port, timeoutMs: 1000 },
    ));
    if (failures.length === 0) return;
    await sleep(200);
  }
  const shown = failures.slice(0, 5).map((f) => `${f.from} -> ${f.to}: ${f.error}`);
  throw new Error(`the probe lab's pods cannot reach each other before any policy is applied (${failures.length} pairs, e.g. ${shown.join('; ')})`);
}

/** The shape check of an object that arrived as JSON (its content was validated by whoever read it). */
function checkObject(o: PolicyObject, i: number): PolicyObject {
  const field = { Namespace: 'namespace', Pod: 'pod', NetworkPolicy: 'policy' }[(o as { kind?: string } | null)?.kind ?? ''] as keyof PolicyObject | undefined;
  if (!field || typeof (o as unknown as Record<string, unknown>)[field] !== 'object')
    throw new InvalidConfigError(`objects[${i}] is not a Namespace, Pod or NetworkPolicy object`, { field: `objects[${i}]` });
  return o;
}

/** Builds the lab, applies the policies and probes every pair. Stops its pods before returning. */
export async function runProbeLab(input: ProbeLabInput, pods = new ProbeLabPods()): Promise<ProbeLabResult> {
  if (input.protocol !== 'TCP' && input.protocol !== 'UDP')
    throw new InvalidConfigError(`the probe lab sends TCP and UDP only, not ${String(input.protocol)}`, { field: 'protocol', value: String(input.protocol) });
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)
    throw new InvalidConfigError(`port ${input.port} is not a port from 1 to 65535`, { field: 'port', value: String(input.port) });
  assertPrivateNetns();
  const why = enableBrNetfilter();
  if (why) throw new NotAvailableError(why);

  const objects = [...(input.objects ?? []).map(checkObject), ...parsePolicyObjects(input.manifests ?? [], input.sources ? { sources: input.sources } : {})];
  const ir = new PolicyCompiler({ objects }).compile();
  const { pods: plan, notProbed } = planPods(ir);
  try {
    tuneForProbes(); // no restore: the namespace dies with the lab
    await buildPods(plan, input.port, pods);
    await baseline(plan, pods, input.port);
    if (!input.skipPolicy) new NftPolicyDataplane(openNftables()).apply(ir);
    const keys = [...plan.keys()];
    const { matrix, failures } = await probeAllPairs(
      keys,
      (k) => pods.agents.get(k)!,
      (k) => plan.get(k)![0]!,
      { protocol: input.protocol, port: input.port, timeoutMs: input.timeoutMs ?? 1500 },
    );
    const odd = failures.filter((f) => f.error !== 'EHOSTUNREACH' && f.error !== 'timeout');
    return { probe: matrix, notProbed, odd, policyApplied: !input.skipPolicy };
  } finally {
    await pods.stop();
  }
}
