/**
 * Load generator of the policy benchmark, run inside a pod's network namespace:
 *
 *   node policy-load.js serve PORT
 *   node policy-load.js connect HOST PORT MILLISECONDS CONCURRENCY   → prints connections/s
 *
 * Each connection is new (SYN, SYN-ACK, ACK) and is closed with a reset, so no TIME_WAIT piles
 * up and ports can be reused at once: what is measured is the cost of new connections, the
 * packets that meet the policy chains.
 */
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const server = createServer((s) => s.on('error', () => undefined));
  server.listen(Number(args[0]), '0.0.0.0', () => process.stdout.write('ready\n'));
} else if (mode === 'connect') {
  const [host, port, ms, concurrency] = [args[0]!, Number(args[1]), Number(args[2]), Number(args[3])];
  const end = performance.now() + ms;
  let done = 0;
  let failed = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        done++;
        s.resetAndDestroy();
        resolve();
      });
      s.once('error', () => {
        failed++;
        resolve();
      });
    });
  const loop = async () => {
    while (performance.now() < end) await one();
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(`${JSON.stringify({ rate: done / seconds, done, failed })}\n`);
} else {
  process.stderr.write('usage: policy-load serve PORT | connect HOST PORT MS CONCURRENCY\n');
  process.exit(2);
}
