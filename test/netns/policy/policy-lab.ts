/**
 * The conformance lab: the nine pods of the conformance world as network namespaces on ONE
 * berth-bridge network, added by the real plugin through libcni, each running labs/policy/pod-agent
 * (servers on TCP/UDP 80 and 81, and a prober). Everything lives inside the test run's
 * private namespace; `close()` removes every process, pod, link and table it made.
 */
import { readFileSync } from 'node:fs';
import { openNftables, type Nftables } from '../../../dataplane/linux/index.js';
import { PodAgent, type LoopResult, type ProbeResult } from '../../../labs/policy/agent.js';
import { tuneForProbes } from '../../../labs/policy/probe-knobs.js';
import { probeAllPairs } from '../../../labs/policy/probe-pairs.js';
import { requireCniclient } from '../../support/netns.js';
import { kernelLacks } from '../../support/skip.js';
import { addressOf, berthBridge, client, conflist, pods, world, type Pod, type World } from '../cni/fixtures.js';
import { POD_KEYS, PORTS, podRef, type CaseWorld } from '../../fixtures/policy/conformance-world.js';

export type { LoopResult, ProbeResult };

export const LAB_SUBNET = '10.211.0.0/24';

/** The kernel feature the lab needs and this kernel lacks (the lab's tests then skip), or undefined. */
export function labKernelLacks(): string | undefined {
  return kernelLacks.brNetfilter();
}

/** Throws, saying what to do, when the lab cannot start for a reason other than the kernel. */
function labPrerequisites(): void {
  const knob = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (readFileSync(knob, 'utf8').trim() !== '1') throw new Error(`${knob} is not 1: run the network tests through bash scripts/test.sh (scripts/in-private-netns.sh sets it)`);
  requireCniclient();
}

export class PolicyLab {
  readonly world: CaseWorld;
  /** libnftables in the test run's namespace: where the bridge, and so the forward hook, is. */
  readonly nft: Nftables;
  readonly #agents: Map<string, PodAgent>;
  readonly #cleanup: () => Promise<void>;

  private constructor(world: CaseWorld, agents: Map<string, PodAgent>, cleanup: () => Promise<void>) {
    this.world = world;
    this.nft = openNftables();
    this.#agents = agents;
    this.#cleanup = cleanup;
  }

  /** Builds the nine pods on one berth-bridge network and starts their agents. */
  static async create(): Promise<PolicyLab> {
    labPrerequisites();
    const w: World = world('policy');
    const p = pods('bpol', POD_KEYS.length);
    const conf = conflist('policy-net', [berthBridge(w, 'policy-net', LAB_SUBNET, { bridge: 'bt-pol' })]);
    const c = client(w);
    const byKey = new Map<string, Pod>(POD_KEYS.map((k, i) => [k, p.pods[i]!]));
    const agents = new Map<string, PodAgent>();
    const added: Pod[] = [];
    // The policy's rejects and the conntrack entries live in this namespace (the test run's own, made by unshare).
    const restoreKnobs = tuneForProbes();
    const cleanup = async () => {
      restoreKnobs();
      await Promise.all([...agents.values()].map((a) => a.stop()));
      for (const pod of added) await c.del(pod, conf);
      p.cleanup();
      w.cleanup();
    };
    try {
      const ips = new Map<string, string>();
      for (const [key, pod] of byKey) {
        const { ns, pod: name } = podRef(key);
        const r = await c.add(pod, conf, { args: `K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name}` });
        if (r.code !== 0) throw new Error(`CNI ADD of ${key} failed: ${r.stdout} ${r.stderr}`);
        added.push(pod);
        ips.set(key, addressOf(r));
      }
      for (const [key, pod] of byKey) agents.set(key, new PodAgent(['/usr/sbin/ip', 'netns', 'exec', pod.netns], PORTS, key));
      await Promise.all([...agents.values()].map((a) => a.ready));
      const caseWorld: CaseWorld = {
        subnet: LAB_SUBNET,
        ip: (key) => {
          const ip = ips.get(key);
          if (!ip) throw new Error(`no pod ${key}`);
          return ip;
        },
      };
      return new PolicyLab(caseWorld, agents, cleanup);
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** One new connection from → to. */
  probe(from: string, to: string, protocol: 'TCP' | 'UDP', port: number, timeoutMs = 1500): Promise<ProbeResult> {
    return this.#agents.get(from)!.probe(protocol, this.world.ip(to), port, timeoutMs);
  }

  /**
   * Probes all 81 pairs at once. A denied connection is answered by the reject at once
   * (EHOSTUNREACH); a refused one means a server is missing, which is a lab failure.
   */
  async probeMatrix(protocol: 'TCP' | 'UDP', port: number): Promise<{ matrix: Record<string, Record<string, boolean>>; odd: string[] }> {
    const agentOf = (key: string) => this.#agents.get(key)!;
    const { matrix, failures } = await probeAllPairs(POD_KEYS, agentOf, (key) => this.world.ip(key), { protocol, port, timeoutMs: 1500 });
    const odd = failures.filter((f) => f.error !== 'EHOSTUNREACH').map((f) => `${f.from} -> ${f.to} ${port}/${protocol}: ${f.error}`);
    return { matrix, odd };
  }

  /** Starts continuous probes from → to; call the result to stop them and get counts. */
  loop(from: string, to: string, protocol: 'TCP' | 'UDP', port: number, timeoutMs = 1000): () => Promise<LoopResult> {
    return this.#agents.get(from)!.loop(protocol, this.world.ip(to), port, timeoutMs);
  }

  async close(): Promise<void> {
    await this.#cleanup();
  }
}
