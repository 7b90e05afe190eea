/**
 * PodAgent: the lab's handle on one pod's agent process (pod-agent.ts), which serves TCP and
 * UDP on the lab's ports and probes other pods on request. The process is started inside the
 * pod's network namespace by a prefix command: `ip netns exec NAME` for a namespace that
 * exists (the conformance lab's, made by the CNI plugin), or `unshare --net` for a new one
 * that lives exactly as long as the agent (the probe lab's).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The compiled agent program, beside this module in dist/labs/policy/. */
export const AGENT_PROGRAM = join(dirname(fileURLToPath(import.meta.url)), 'pod-agent.js');

export type ProbeProtocol = 'TCP' | 'UDP';

export interface ProbeResult {
  readonly ok: boolean;
  /** Why the probe failed: an errno code (`EHOSTUNREACH` is a reject) or `timeout`. */
  readonly error?: string;
}

export interface LoopResult {
  readonly successes: number;
  readonly failures: number;
  readonly errors: Readonly<Record<string, number>>;
}

export class PodAgent {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, (v: unknown) => void>();
  #next = 1;
  /** Resolves once every port listens; rejects when the agent exits first. */
  readonly ready: Promise<void>;

  /** Starts the agent under `prefix` (a command that enters the pod's namespace, then execs). */
  constructor(prefix: readonly string[], ports: readonly number[], what: string) {
    const [cmd, ...args] = prefix;
    if (cmd === undefined) throw new Error('PodAgent: empty command prefix');
    this.#proc = spawn(cmd, [...args, process.execPath, AGENT_PROGRAM, ...ports.map(String)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A dead agent makes its stdin fail with EPIPE; the exit handler reports it.
    this.#proc.stdin.on('error', () => undefined);
    const lines = createInterface({ input: this.#proc.stdout });
    this.ready = new Promise((resolve, reject) => {
      this.#proc.once('error', (err) => reject(new Error(`pod agent for ${what} did not start: ${err.message}`)));
      this.#proc.once('exit', (code, signal) => {
        reject(new Error(`pod agent for ${what} exited (${signal ?? code}): ${stderr.trim()}`));
        // Nobody will answer the probes still waiting: fail them rather than hang.
        for (const done of this.#pending.values()) done({ ok: false, error: 'agent-exited', successes: 0, failures: 0, errors: {} });
        this.#pending.clear();
      });
      lines.on('line', (line) => {
        if (line === 'ready') return resolve();
        const msg = JSON.parse(line) as { id: number };
        this.#pending.get(msg.id)?.(msg);
        this.#pending.delete(msg.id);
      });
    });
    // Callers await `ready` when they need it; an early exit must not be an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** The agent's process id: its /proc/PID/ns/net is the pod's namespace. */
  get pid(): number {
    return this.#proc.pid ?? -1;
  }

  #send(msg: object, id: number): Promise<unknown> {
    return new Promise((resolve) => {
      if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return resolve({ ok: false, error: 'agent-exited', successes: 0, failures: 0, errors: {} });
      this.#pending.set(id, resolve);
      this.#proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** One new connection (TCP) or request/response (UDP) to host:port. */
  probe(protocol: ProbeProtocol, host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
    const id = this.#next++;
    return this.#send({ id, protocol, host, port, timeoutMs }, id) as Promise<ProbeResult>;
  }

  /** Starts back-to-back probes; the returned function stops them and gives the counts. */
  loop(protocol: ProbeProtocol, host: string, port: number, timeoutMs: number): () => Promise<LoopResult> {
    const id = this.#next++;
    const result = this.#send({ id, protocol, host, port, timeoutMs, loop: true }, id) as Promise<LoopResult>;
    return () => {
      this.#proc.stdin.write(`${JSON.stringify({ stop: id })}\n`);
      return result;
    };
  }

  /** Ends the agent (closing stdin is enough; SIGKILL after 2 s if it lingers). */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return resolve();
      this.#proc.once('exit', () => resolve());
      this.#proc.stdin.end();
      setTimeout(() => this.#proc.kill('SIGKILL'), 2000).unref();
    });
  }

  /** Synchronous last resort for exit handlers. */
  kill(): void {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGKILL');
  }
}
