/**
 * The program each lab pod runs (inside its network namespace, started with `ip netns exec`
 * or `unshare --net`): it serves TCP and UDP on the ports given as arguments, and probes other
 * pods on request. Requests are JSON lines on stdin, `{"id":1,"protocol":"TCP","host":"10.x",
 * "port":80,"timeoutMs":1000}`; answers are JSON lines on stdout, `{"id":1,"ok":true}` or
 * `{"id":1,"ok":false,"error":"EHOSTUNREACH"}`. "ready" is printed once every port listens.
 * With `"loop":true` the agent probes back to back until `{"stop":1}` arrives, then answers
 * `{"id":1,"successes":N,"failures":M,"errors":{"EHOSTUNREACH":M}}`.
 *
 * A TCP probe is a new connection that completes its handshake; a UDP probe is a datagram on a
 * new socket (so a new source port and a new conntrack entry) that the server echoes.
 *
 * The agent exits when its stdin closes, so a lab that dies, however it dies, takes its pods
 * (and, for `unshare --net`, their namespaces) with it. Driven through PodAgent (agent.ts).
 */
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

interface ProbeRequest {
  readonly id: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Probe back to back until `{"stop": id}`, then answer with counts. */
  readonly loop?: boolean;
}

interface StopRequest {
  readonly stop: number;
}

const ports = process.argv.slice(2).map(Number);

async function serve(): Promise<void> {
  const listening: Promise<void>[] = [];
  for (const port of ports) {
    const tcp = createServer((s) => {
      s.on('error', () => undefined);
      s.end();
    });
    listening.push(new Promise((resolve) => tcp.listen(port, '0.0.0.0', resolve)));
    const udp = createSocket('udp4');
    udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
    listening.push(new Promise((resolve) => udp.bind(port, '0.0.0.0', resolve)));
  }
  await Promise.all(listening);
}

function probe(req: ProbeRequest): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      resolve(error ? { ok, error } : { ok });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), req.timeoutMs);
    let cleanup = () => undefined as void;
    if (req.protocol === 'TCP') {
      const s = connect({ host: req.host, port: req.port });
      cleanup = () => void s.destroy();
      s.once('connect', () => finish(true));
      s.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    } else {
      const s = createSocket('udp4');
      cleanup = () => {
        try {
          s.close();
        } catch {
          // already closed
        }
      };
      s.once('message', () => finish(true));
      s.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
      // A connected socket also receives the ICMP errors a reject sends back. Each probe has a
      // source port of its own: a random one could repeat the 5-tuple of an earlier probe whose
      // conntrack entry (30 s) still lets replies, and so the probe, through a new policy.
      s.bind(nextUdpPort(), () => s.connect(req.port, req.host, () => s.send('probe')));
    }
  });
}

/** Source ports 10000-31999 in turn: below the kernel's ephemeral range, so never taken by it. */
let udpPort = 10000;
function nextUdpPort(): number {
  udpPort = udpPort >= 31999 ? 10000 : udpPort + 1;
  return udpPort;
}

await serve();
process.stdout.write('ready\n');
const loops = new Map<number, () => void>();

async function probeLoop(req: ProbeRequest): Promise<void> {
  let stopped = false;
  loops.set(req.id, () => (stopped = true));
  let successes = 0;
  let failures = 0;
  const errors: Record<string, number> = {};
  while (!stopped) {
    const r = await probe(req);
    if (r.ok) successes++;
    else {
      failures++;
      errors[r.error ?? '?'] = (errors[r.error ?? '?'] ?? 0) + 1;
    }
  }
  process.stdout.write(`${JSON.stringify({ id: req.id, successes, failures, errors })}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const msg = JSON.parse(line) as ProbeRequest | StopRequest;
  if ('stop' in msg) {
    loops.get(msg.stop)?.();
    loops.delete(msg.stop);
    return;
  }
  if (msg.loop) void probeLoop(msg);
  else void probe(msg).then((r) => process.stdout.write(`${JSON.stringify({ id: msg.id, ...r })}\n`));
});
lines.on('close', () => process.exit(0));
