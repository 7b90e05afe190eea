/**
 * lab: the labs as a program, for `berth lab`. cli/ may not import labs/, so the CLI runs
 * `node dist/labs/bin/lab.js ls` to list them, and `unshare --net --mount -- node
 * dist/labs/bin/lab.js run NAME [--keep] [--svg]` to run one in a namespace made for it. It
 * answers in JSON lines on stdout, in this order:
 *
 *   {"labs": [{"name", "purpose"}]}                       (ls)
 *   {"step": {note?, command, exitCode, output, checks: [{what, ok, reason}]}}   (each step, as it ends)
 *   {"svg": "<svg ...>", "topology": {...}}              (--svg: drawn from the live state)
 *   {"report": {lab, passed, steps, checks, durationMs, error?}}
 *   {"kept": {"pid": N, "places": {"c1": {"exec": ["docker", "exec", "c1"], "shell": ["docker", "exec", "-it", "c1", "sh"]}}}}
 *                                                        (--keep: the lab then stays until SIGTERM)
 *   {"teardown": ["what failed", ...]}                   (only when something could not be removed)
 *
 *   exit  0 every check passed · 1 a check failed (or the teardown did) · 2 bad usage · 69 cannot run here
 *
 * BERTH_LAB_SABOTAGE=1 (test-only): each lab breaks what it teaches before its checks, so a
 * test can see them fail. Without --keep the lab also ends when the CLI that started it dies.
 */
import { asBerthError } from '../../core/errors.js';
import { exitCodeOf } from '../../cli/exit-codes.js';
import { findLab, LABS } from '../catalog.js';
import { LabContext } from '../framework/context.js';
import { assertLabNamespace, prepareLabRun } from '../framework/lab-namespace.js';
import type { LabSession } from '../framework/lab.js';
import { renderTopologySvg } from '../framework/svg.js';
import { captureTopology } from '../framework/topology.js';

const EXIT_USAGE = 2;

function emit(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
process.stdout.on('error', () => undefined);

async function runLab(name: string, keep: boolean, svg: boolean): Promise<number> {
  const lab = findLab(name);
  if (!lab) {
    process.stderr.write(`no lab named ${JSON.stringify(name)}: the labs are ${LABS.map((l) => l.name).join(', ')}\n`);
    return EXIT_USAGE;
  }
  assertLabNamespace();
  const dir = prepareLabRun(name);
  const ctx = new LabContext(name, dir, (step) => emit({ step }), { sabotage: process.env.BERTH_LAB_SABOTAGE === '1' });
  let tornDown: Promise<string[]> | undefined;
  const teardown = () => (tornDown ??= ctx.teardown());
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    void teardown().finally(() => process.exit(code));
  };
  for (const [signal, n] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const)
    process.on(signal, () => stop(keep ? 0 : 128 + n));
  if (!keep) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop(1);
    }, 500).unref();
  }

  let session: LabSession = {};
  let error: unknown;
  try {
    session = await lab.run(ctx);
  } catch (err) {
    error = err;
  }
  const report = ctx.report(error === undefined ? undefined : asBerthError(error).message);
  if (svg) {
    try {
      const topology = await captureTopology(ctx, session.ports);
      emit({ svg: session.picture ? await session.picture() : renderTopologySvg(topology), topology });
    } catch (err) {
      emit({ teardown: [`the topology could not be read: ${(err as Error).message}`] });
    }
  }
  emit({ report });
  if (keep && error === undefined) {
    emit({ kept: { pid: process.pid, places: Object.fromEntries(ctx.places.map((p) => [p.name, { exec: p.exec, shell: p.shell }])) } });
    // Stays until `berth lab down` signals it.
    setInterval(() => undefined, 1 << 30);
    return new Promise<number>(() => undefined);
  }
  const failures = await teardown();
  if (failures.length) emit({ teardown: failures });
  if (error !== undefined) return exitCodeOf(error) === EXIT_USAGE ? 1 : exitCodeOf(error);
  return report.passed && !failures.length ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'ls') {
    emit({ labs: LABS.map((l) => ({ name: l.name, purpose: l.purpose })) });
    return 0;
  }
  if (command === 'run') {
    const name = rest.find((a) => !a.startsWith('--'));
    const unknown = rest.filter((a) => a.startsWith('--') && a !== '--keep' && a !== '--svg');
    if (name === undefined || unknown.length) {
      process.stderr.write(`usage: lab.js run NAME [--keep] [--svg]${unknown.length ? ` (unknown ${unknown.join(' ')})` : ''}\n`);
      return EXIT_USAGE;
    }
    return runLab(name, rest.includes('--keep'), rest.includes('--svg'));
  }
  process.stderr.write('usage: lab.js ls | run NAME [--keep] [--svg]\n');
  return EXIT_USAGE;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${asBerthError(err).message}\n`);
    process.exit(exitCodeOf(err));
  },
);
