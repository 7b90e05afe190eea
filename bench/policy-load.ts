/**
 * Load generator of the policy benchmark, run inside a pod's network namespace:
 *
 *   node policy-load.js serve PORT                                   → prints "ready PID"
 *   node policy-load.js connect HOST PORT MILLISECONDS CONCURRENCY   → prints connections/s
 *   node policy-load.js cost HOST PORT CONNECTIONS CONCURRENCY       → prints connections and CPU time
 *
 * Each connection is new (SYN, SYN-ACK, ACK) and is closed with a reset, so no TIME_WAIT piles
 * up and ports can be reused at once: what is measured is the cost of new connections, the
 * packets that meet the policy chains. `cost` makes a fixed number of connections and answers
 * the CPU time this process spent on them (user + system, taken around the loop only): the
 * kernel's work on the packets it sends, the policy chains included, runs on its time slice.
 */
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

const counts = { done: 0, failed: 0 };

/** One new connection, reset as soon as it is up. */
function oneConnection(host: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      counts.done++;
      s.resetAndDestroy();
      resolve();
    });
    s.once('error', () => {
      counts.failed++;
      resolve();
    });
  });
}

/** `concurrency` loops making connections while `more()` holds; answers the seconds taken. */
async function drive(host: string, port: number, concurrency: number, more: () => boolean): Promise<number> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) await oneConnection(host, port);
    }),
  );
  return (performance.now() - start) / 1000;
}

if (mode === 'serve') {
  const server = createServer((s) => s.on('error', () => undefined));
  server.listen(Number(args[0]), '0.0.0.0', () => process.stdout.write(`ready ${process.pid}\n`));
} else if (mode === 'connect') {
  const [host, port, ms, concurrency] = [args[0]!, Number(args[1]), Number(args[2]), Number(args[3])];
  const end = performance.now() + ms;
  const seconds = await drive(host, port, concurrency, () => performance.now() < end);
  process.stdout.write(`${JSON.stringify({ rate: counts.done / seconds, ...counts })}\n`);
} else if (mode === 'cost') {
  const [host, port, count, concurrency] = [args[0]!, Number(args[1]), Number(args[2]), Number(args[3])];
  let started = 0;
  const cpu0 = process.cpuUsage();
  const seconds = await drive(host, port, concurrency, () => started++ < count);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ ...counts, seconds, cpuUs: cpu.user + cpu.system })}\n`);
} else {
  process.stderr.write('usage: policy-load serve PORT | connect HOST PORT MS CONCURRENCY | cost HOST PORT CONNECTIONS CONCURRENCY\n');
  process.exit(2);
}
