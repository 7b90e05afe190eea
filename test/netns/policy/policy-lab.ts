/**
 * The conformance lab: the nine pods of the conformance world as network namespaces on ONE
 * berth-bridge network, added by the real plugin through libcni, each running pod-agent
 * (servers on TCP/UDP 80 and 81, and a prober). Everything lives inside the test run's
 * private namespace; `close()` removes every process, pod, link and table it made.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openNftables, type Nftables } from '../../../dataplane/linux/index.js';
import { ROOT } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, pods, world, type Pod, type World } from '../cni/fixtures.js';
import { POD_KEYS, PORTS, podRef, type CaseWorld } from '../../fixtures/policy/conformance-world.js';

export const LAB_SUBNET = '10.211.0.0/24';
const AGENT = join(ROOT, 'dist', 'test', 'netns', 'policy', 'pod-agent.js');

/**
 * The kernel rate-limits the ICMP errors it sends (6 in a burst per destination, then one a
 * second), and a denied connection is answered with one. The lab probes 81 pairs at once, so
 * in the test run's own namespace the limits are lifted; they come back on close.
 */
const ICMP_LIMITS: Record<string, string> = {
  '/proc/sys/net/ipv4/icmp_ratelimit': '0',
  '/proc/sys/net/ipv4/icmp_msgs_per_sec': '100000',
  '/proc/sys/net/ipv4/icmp_msgs_burst': '100000',
};

function liftIcmpLimits(): () => void {
  const saved = Object.keys(ICMP_LIMITS).map((k) => [k, readFileSync(k, 'utf8').trim()] as const);
  for (const [k, v] of Object.entries(ICMP_LIMITS)) writeFileSync(k, v);
  return () => {
    for (const [k, v] of saved) writeFileSync(k, v);
  };
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly error?: string;
}

export interface LoopResult {
  readonly successes: number;
  readonly failures: number;
  readonly errors: Readonly<Record<string, number>>;
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  const knob = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(knob)) return 'br_netfilter is not available: bridged traffic would bypass the forward hook';
  if (readFileSync(knob, 'utf8').trim() !== '1') return `${knob} is not 1 (run the tests through scripts/in-private-netns.sh)`;
  if (!existsSync('/usr/local/bin/cniclient') && !existsSync(join(ROOT, '.tools', 'cniclient'))) return 'cniclient is not built (scripts/setup.sh)';
  return undefined;
}

class Agent {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, (v: unknown) => void>();
  #next = 1;
  readonly ready: Promise<void>;

  constructor(netns: string) {
    this.#proc = spawn('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, AGENT, ...PORTS.map(String)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: this.#proc.stdout });
    this.ready = new Promise((resolve, reject) => {
      this.#proc.once('exit', (code) => reject(new Error(`pod agent in ${netns} exited (${code}): ${stderr}`)));
      lines.on('line', (line) => {
        if (line === 'ready') return resolve();
        const msg = JSON.parse(line) as { id: number };
        this.#pending.get(msg.id)?.(msg);
        this.#pending.delete(msg.id);
      });
    });
  }

  #send(msg: object, id: number): Promise<unknown> {
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  probe(protocol: 'TCP' | 'UDP', host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
    const id = this.#next++;
    return this.#send({ id, protocol, host, port, timeoutMs }, id) as Promise<ProbeResult>;
  }

  /** Starts back-to-back probes; the returned function stops them and gives the counts. */
  loop(protocol: 'TCP' | 'UDP', host: string, port: number, timeoutMs: number): () => Promise<LoopResult> {
    const id = this.#next++;
    const result = this.#send({ id, protocol, host, port, timeoutMs, loop: true }, id) as Promise<LoopResult>;
    return () => {
      this.#proc.stdin.write(`${JSON.stringify({ stop: id })}\n`);
      return result;
    };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#proc.exitCode !== null) return resolve();
      this.#proc.once('exit', () => resolve());
      this.#proc.stdin.end();
      setTimeout(() => this.#proc.kill('SIGKILL'), 2000).unref();
    });
  }
}

export class PolicyLab {
  readonly world: CaseWorld;
  /** libnftables in the test run's namespace: where the bridge, and so the forward hook, is. */
  readonly nft: Nftables;
  readonly #agents: Map<string, Agent>;
  readonly #cleanup: () => Promise<void>;

  private constructor(world: CaseWorld, agents: Map<string, Agent>, cleanup: () => Promise<void>) {
    this.world = world;
    this.nft = openNftables();
    this.#agents = agents;
    this.#cleanup = cleanup;
  }

  /** Builds the nine pods on one berth-bridge network and starts their agents. */
  static async create(): Promise<PolicyLab> {
    const w: World = world('policy');
    const p = pods('bpol', POD_KEYS.length);
    const conf = conflist('policy-net', [berthBridge(w, 'policy-net', LAB_SUBNET, { bridge: 'bt-pol' })]);
    const c = client(w);
    const byKey = new Map<string, Pod>(POD_KEYS.map((k, i) => [k, p.pods[i]!]));
    const agents = new Map<string, Agent>();
    const added: Pod[] = [];
    const restoreIcmp = liftIcmpLimits();
    const cleanup = async () => {
      restoreIcmp();
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
      for (const [key, pod] of byKey) agents.set(key, new Agent(pod.netns));
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
    const matrix: Record<string, Record<string, boolean>> = {};
    const odd: string[] = [];
    await Promise.all(
      POD_KEYS.flatMap((from) =>
        POD_KEYS.map(async (to) => {
          const r = await this.probe(from, to, protocol, port);
          (matrix[from] ??= {})[to] = r.ok;
          if (!r.ok && r.error !== 'EHOSTUNREACH') odd.push(`${from} -> ${to} ${port}/${protocol}: ${r.error}`);
        }),
      ),
    );
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
