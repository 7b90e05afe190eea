/**
 * `berth lab ls | run NAME [--keep] [--svg FILE] [--format json] | shell NAME PLACE [CMD...] |
 * down NAME`: the labs of labs/, each built in a namespace made for it.
 *
 * cli/ may not import labs/, so the labs run as a separate program (dist/labs/bin/lab.js)
 * under `unshare --net --mount`: all a lab builds (bridges, containers, berthd, dockerd, its
 * /run) exists only in namespaces that die with it. It streams its steps as JSON lines, which
 * this renders; with --keep it stays, and this records where it is (pid and start time, under
 * $BERTH_LAB_DIR or /run/berth/labs) for `shell` and `down`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, IoError, NotAvailableError, NotFoundError } from '../../core/errors.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { renderLabStep, renderLabSummary, type LabReportView, type LabStepView } from './lab-render.js';
import { labProgram } from './lab-program.js';
import { HELP, parseCommandArgs, showUsage } from './usage.js';

export const LAB_USAGE = `Usage: berth lab COMMAND

Runnable, self-checking labs of container networking, each built in a private namespace made
for it (root):

Commands:
  ls                        List the labs with their purpose
  run NAME [OPTIONS]        Build the lab, run and check its steps, remove everything
  shell NAME PLACE [CMD...] Enter a place (host or container) of a lab kept with --keep
  down NAME                 Tear down a lab kept with --keep

Every command takes -h, --help.
`;

const RUN_USAGE = `Usage: berth lab run NAME [OPTIONS]

Builds the lab in a private network and mount namespace, prints each step as the command a
user would type with its output and its checks (✔/✘ with the reason), and removes
everything at the end. Exit status 1 when a check fails.

Options:
      --keep              Leave the lab running; prints how to enter it and tear it down
      --svg FILE          Draw the topology as it is after the run (read from the kernel
                          and berthd) into FILE (policy: the measured matrix's heatmap)
      --format FORMAT     text (default) or json (the steps and verdicts, for scripts)
  -h, --help              Show this help
`;

const SHELL_USAGE = `Usage: berth lab shell NAME PLACE [CMD...]

Opens a shell in PLACE (a host or container of a lab kept with "berth lab run NAME --keep"),
or runs CMD there.
`;

const DOWN_USAGE = `Usage: berth lab down NAME

Tears down a lab kept with "berth lab run NAME --keep": its containers, daemons and
namespaces.
`;

/** Where a kept lab is recorded: $BERTH_LAB_DIR, else /run/berth/labs. */
function recordDir(): string {
  return process.env.BERTH_LAB_DIR || '/run/berth/labs';
}

interface KeptPlace {
  readonly exec: readonly string[];
  readonly shell: readonly string[];
}

interface KeptLab {
  readonly lab: string;
  readonly pid: number;
  /** /proc/PID/stat's start time: a pid reused by another process is not the lab. */
  readonly startTime: string;
  readonly places: Readonly<Record<string, KeptPlace>>;
}

function startTime(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ')[19];
  } catch {
    return undefined;
  }
}

function checkName(name: string | undefined, usage: string): string {
  if (name === undefined) throw new InvalidConfigError(`a lab NAME is required\n\n${usage}`, { field: 'NAME' });
  if (!/^[a-z0-9-]{1,32}$/.test(name)) throw new InvalidConfigError(`lab name ${JSON.stringify(name)} is not a lab name (see "berth lab ls")`, { field: 'NAME', value: name });
  return name;
}

function readKept(name: string): KeptLab {
  const path = join(recordDir(), `${name}.json`);
  let kept: KeptLab;
  try {
    kept = JSON.parse(readFileSync(path, 'utf8')) as KeptLab;
  } catch {
    throw new NotFoundError(`no lab ${name} is kept running (start one with "berth lab run ${name} --keep")`, { field: 'NAME', value: name });
  }
  if (startTime(kept.pid) !== kept.startTime) {
    rmSync(path, { force: true });
    throw new NotFoundError(`the lab ${name} (pid ${kept.pid}) is gone; its record is removed`, { field: 'NAME', value: name });
  }
  return kept;
}

export async function labCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'ls':
    case 'list': {
      const { values } = parseCommandArgs('berth lab ls', { args: rest, options: { format: { type: 'string' }, ...HELP } });
      if (values.help) return showUsage(io, 'Usage: berth lab ls [--format json]\n\nLists the labs with their purpose.\n');
      const labs = (await runProgram(['ls'], false)).labs ?? [];
      if (values.format === 'json') io.out(`${JSON.stringify(labs, null, 2)}\n`);
      else {
        const w = Math.max(...labs.map((l) => l.name.length));
        for (const l of labs) io.out(`${l.name.padEnd(w)}  ${l.purpose}\n`);
      }
      return EXIT_OK;
    }
    case 'run':
      return runCommand(rest, io);
    case 'shell':
      return shellCommand(rest, io);
    case 'down':
      return downCommand(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(LAB_USAGE);
      return sub === undefined ? EXIT_USAGE : EXIT_OK;
    default:
      io.err(`berth lab: unknown command "${sub}"\n\n${LAB_USAGE}`);
      return EXIT_USAGE;
  }
}

async function runCommand(rest: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth lab run', {
    args: rest,
    allowPositionals: true,
    options: { keep: { type: 'boolean' }, svg: { type: 'string' }, format: { type: 'string' }, ...HELP },
  });
  if (values.help) return showUsage(io, RUN_USAGE);
  const name = checkName(positionals[0], RUN_USAGE);
  if (positionals.length > 1) throw new InvalidConfigError(`berth lab run takes one NAME, not ${positionals.length}`, { field: 'NAME' });
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use text or json`, { field: '--format', value: format });
  if (values.keep && existsSync(join(recordDir(), `${name}.json`))) {
    try {
      const kept = readKept(name);
      throw new InvalidConfigError(`the lab ${name} is already kept running (pid ${kept.pid}): "berth lab down ${name}" first`, { field: 'NAME', value: name });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  const json = format === 'json';
  const args = ['run', name, ...(values.keep ? ['--keep'] : []), ...(values.svg ? ['--svg'] : [])];
  const result = await runProgram(args, true, {
    keep: values.keep ?? false,
    onStep: (step) => {
      if (!json) io.out(renderLabStep(step));
    },
    onSvg: (svg) => {
      if (values.svg) writeFileSync(values.svg, svg);
    },
  });
  const report = result.report;
  if (json)
    io.out(
      `${JSON.stringify({ ...report, ...(result.teardown ? { teardown: result.teardown } : {}), ...(result.kept ? { kept: { pid: result.kept.pid, places: Object.keys(result.kept.places) } } : {}) }, null, 2)}\n`,
    );
  else if (report) io.out(renderLabSummary(report));
  for (const t of result.teardown ?? []) io.err(`berth lab: teardown: ${t}\n`);
  if (result.kept) {
    mkdirSync(recordDir(), { recursive: true });
    const record: KeptLab = { lab: name, pid: result.kept.pid, startTime: startTime(result.kept.pid) ?? '', places: result.kept.places };
    writeFileSync(join(recordDir(), `${name}.json`), `${JSON.stringify(record)}\n`);
    if (!json) {
      io.out(`\nThe lab ${name} is kept running (pid ${result.kept.pid}). Enter it:\n`);
      for (const place of Object.keys(result.kept.places)) io.out(`  berth lab shell ${name} ${place}\n`);
      io.out(`Tear it down:\n  berth lab down ${name}\n`);
    }
    return report?.passed ? EXIT_OK : EXIT_FAILED;
  }
  if (result.code === 69) throw new NotAvailableError(`the lab ${name} cannot run here: ${result.stderr.trim()}`);
  if (result.code === EXIT_USAGE) throw new InvalidConfigError(result.stderr.trim(), { field: 'NAME', value: name });
  if (!report) throw new IoError(`the lab ${name} ended (status ${result.code}) without a report: ${result.stderr.trim()}`, { operation: 'lab run' });
  return result.code === 0 && report.passed ? EXIT_OK : EXIT_FAILED;
}

interface ProgramResult {
  code: number;
  stderr: string;
  labs?: { name: string; purpose: string }[] | undefined;
  report?: LabReportView;
  teardown?: string[];
  kept?: { pid: number; places: Record<string, KeptPlace> } | undefined;
}

interface ProgramHooks {
  readonly keep: boolean;
  onStep(step: LabStepView): void;
  onSvg(svg: string): void;
}

/**
 * Runs the lab program (under unshare when `isolated`) and reads its JSON lines. A signal to
 * this process is passed on as SIGTERM, so the lab tears itself down before it ends. With
 * `keep`, the answer comes at the "kept" line and the lab is left running, detached.
 */
function runProgram(args: string[], isolated: boolean, hooks?: ProgramHooks): Promise<ProgramResult> {
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p)) ?? 'unshare';
  const [cmd, argv] = isolated
    ? [unshare, ['--net', '--mount', '--propagation', 'private', '--', process.execPath, labProgram('lab.js'), ...args]]
    : [process.execPath, [labProgram('lab.js'), ...args]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: hooks?.keep ?? false });
  const result: ProgramResult = { code: -1, stderr: '' };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  for (const s of signals) process.on(s, onSignal);
  const done = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  return new Promise((resolve, reject) => {
    let buffer = '';
    let settled = false;
    const finish = (r: ProgramResult) => {
      if (settled) return;
      settled = true;
      done();
      resolve(r);
    };
    child.stderr!.on('data', (d: Buffer) => (result.stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.trim()) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          result.stderr += `${line}\n`;
          continue;
        }
        if (msg.labs) result.labs = msg.labs as ProgramResult['labs'];
        if (msg.step) hooks?.onStep(msg.step as LabStepView);
        if (typeof msg.svg === 'string') hooks?.onSvg(msg.svg);
        if (msg.report) result.report = msg.report as LabReportView;
        if (msg.teardown) result.teardown = [...(result.teardown ?? []), ...(msg.teardown as string[])];
        if (msg.kept) {
          result.kept = msg.kept as ProgramResult['kept'];
          result.code = 0;
          // Detached: the lab lives on after this command, and needs nothing more from it.
          child.stdout!.destroy();
          child.stderr!.destroy();
          child.unref();
          finish(result);
        }
      }
    });
    child.on('error', (err) => {
      done();
      reject(new NotAvailableError(`cannot start the lab program: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      result.code = code ?? (signal ? 128 : -1);
      finish(result);
    });
  });
}

function shellCommand(rest: readonly string[], io: Output): Promise<number> {
  if (rest[0] === '-h' || rest[0] === '--help') return Promise.resolve(showUsage(io, SHELL_USAGE));
  const [nameArg, place, ...cmd] = rest;
  const name = checkName(nameArg, SHELL_USAGE);
  const kept = readKept(name);
  if (place === undefined || !Object.hasOwn(kept.places, place)) {
    throw new InvalidConfigError(`${place === undefined ? 'a PLACE is required' : `the lab ${name} has no place ${JSON.stringify(place)}`}: its places are ${Object.keys(kept.places).join(', ')}`, {
      field: 'PLACE',
      ...(place ? { value: place } : {}),
    });
  }
  const p = kept.places[place]!;
  const inner = cmd.length ? [...p.exec, ...cmd] : [...p.shell];
  const argv = ['--target', String(kept.pid), '--net', '--mount', '--', ...(inner.length ? inner : ['sh'])];
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', argv, { stdio: 'inherit' });
    child.on('error', (err) => reject(new NotAvailableError(`nsenter: ${err.message}`)));
    child.on('close', (code) => resolve(code ?? EXIT_FAILED));
  });
}

async function downCommand(rest: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth lab down', { args: rest, allowPositionals: true, options: { ...HELP } });
  if (values.help) return showUsage(io, DOWN_USAGE);
  const name = checkName(positionals[0], DOWN_USAGE);
  const kept = readKept(name);
  process.kill(kept.pid, 'SIGTERM');
  const deadline = Date.now() + 90_000;
  while (startTime(kept.pid) === kept.startTime) {
    if (Date.now() > deadline) throw new IoError(`the lab ${name} (pid ${kept.pid}) did not end within 90 s`, { operation: 'lab down' });
    await new Promise((r) => setTimeout(r, 100));
  }
  rmSync(join(recordDir(), `${name}.json`), { force: true });
  io.out(`lab ${name} is down\n`);
  return EXIT_OK;
}
