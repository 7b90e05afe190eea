/**
 * `berth policy matrix [--port N] [--protocol P] [--format json] [--svg FILE] [--probe]`: who
 * may reach whom, from the model; with --probe also measured with real traffic in a lab, and
 * every cell where the dataplane disagrees is flagged (exit status 1 when there is one).
 *
 * The lab lives in labs/ (labs/bin/policy-probe.ts), which cli/ may not import: it runs as a
 * separate program under `unshare --net --mount`, so all it builds (bridge, pod namespaces,
 * nftables, sysctls) exists only in a namespace that dies with it. It takes the known objects
 * (as validated JSON) on stdin and answers with the measured matrix on stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { BerthError, InvalidConfigError, IoError, NotAvailableError } from '../../core/errors.js';
import type { Protocol } from '../../core/model.js';
import { PolicyCompiler, reachability, type PolicyObject, type ReachabilityMatrix } from '../../policy/index.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { renderHeatmapSvg } from '../output/heatmap-svg.js';
import { renderTable } from '../output/table.js';
import type { Output } from '../output/streams.js';
import { labProgram } from './lab-program.js';
import { HELP, parseCommandArgs, showUsage } from './usage.js';

/**
 * Where the objects come from, owned by `berth policy` (berthd or the embedded store): the
 * options that choose it, and every known object (applied, and pods berth's plugins recorded).
 */
export interface MatrixSource {
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** How the usage text describes those options (and -h, --help). */
  readonly optionsHelp: string;
  known(values: Readonly<Record<string, unknown>>): Promise<PolicyObject[]>;
}

/** What the lab measured (labs/policy/probe-lab.ts, ProbeLabResult). */
interface LabResult {
  readonly probe: ReachabilityMatrix;
  readonly notProbed: Readonly<Record<string, string>>;
  readonly odd: readonly { from: string; to: string; error: string }[];
}

export interface Disagreement {
  readonly from: string;
  readonly to: string;
  readonly model: boolean;
  readonly probe: boolean;
}

/**
 * Runs the lab and returns what it measured. The child is killed on every way out of this
 * process (signals included); the lab in turn ends its pods, and the namespace goes with it.
 */
async function runLab(input: object): Promise<LabResult> {
  const unshare = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p)) ?? 'unshare';
  const child = spawn(unshare, ['--net', '--mount', '--propagation', 'private', '--', process.execPath, labProgram('policy-probe.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    kill();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  process.on('exit', kill);
  for (const s of signals) process.on(s, onSignal);
  try {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined); // a lab that failed at once: its exit status says why
    child.stdin.end(JSON.stringify(input));
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new NotAvailableError(`berth policy matrix --probe: cannot start the lab with ${unshare}: ${err.message}`)));
      child.once('close', (c, signal) => resolve(c ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
    });
    const why = stderr.trim() || `the lab exited with status ${code}`;
    if (code === 69) throw new NotAvailableError(`berth policy matrix --probe: ${why}`);
    if (code === 2) throw new InvalidConfigError(`berth policy matrix --probe: ${why}`);
    if (code !== 0) throw new BerthError('internal', `berth policy matrix --probe: the lab failed: ${why}`);
    try {
      return JSON.parse(stdout) as LabResult;
    } catch {
      throw new BerthError('internal', `berth policy matrix --probe: the lab answered something that is not JSON: ${stdout.slice(0, 200)}`);
    }
  } finally {
    kill();
    process.off('exit', kill);
    for (const s of signals) process.off(s, onSignal);
  }
}

/** Cells where both have a verdict and they differ, in row/column order. */
export function disagreements(pods: readonly string[], model: ReachabilityMatrix, probe: ReachabilityMatrix): Disagreement[] {
  return pods.flatMap((from) =>
    pods.flatMap((to) => {
      const p = probe[from]?.[to];
      const m = model[from]?.[to] ?? false;
      return p === undefined || p === m ? [] : [{ from, to, model: m, probe: p }];
    }),
  );
}

/** The table: `ok` allowed, `X` denied; with probes `!` flags a disagreement, `?` not probed. */
function renderMatrixTable(pods: readonly string[], model: ReachabilityMatrix, probe: ReachabilityMatrix | undefined): string {
  const cell = (from: string, to: string) => {
    const m = model[from]?.[to] ?? false;
    const mark = m ? 'ok' : 'X';
    if (!probe) return mark;
    const p = probe[from]?.[to];
    return p === undefined ? `${mark}?` : p === m ? mark : `${mark}!`;
  };
  return renderTable(
    ['FROM \\ TO', ...pods],
    pods.map((from) => [from, ...pods.map((to) => cell(from, to))]),
  );
}

const OPTIONS = { port: { type: 'string' }, protocol: { type: 'string' }, format: { type: 'string' }, svg: { type: 'string' }, probe: { type: 'boolean' } } as const;

/** `berth policy matrix --help`: these options, then the source's. */
export function matrixUsage(source: Pick<MatrixSource, 'optionsHelp'>): string {
  return `Usage: berth policy matrix [OPTIONS]

Shows who may reach whom among all known pods (rows: from, columns: to), from the model:
ok allowed, X denied. With --probe also measured with real traffic in a lab of network
namespaces (root), flagging every cell where the dataplane disagrees (then exit status 1).

Options:
      --port N            The destination port (default 80)
      --protocol PROTO    TCP (default), UDP or SCTP (SCTP cannot be probed)
      --format FORMAT     table (default) or json
      --svg FILE          Also draw the matrix as an SVG heatmap into FILE
      --probe             Measure it in a lab and compare (root)
${source.optionsHelp}`;
}

/** Runs `berth policy matrix`. */
export async function matrixCommand(argv: readonly string[], io: Output, source: MatrixSource): Promise<number> {
  const parsed = parseCommandArgs('berth policy matrix', { args: argv, options: { ...source.options, ...OPTIONS, ...HELP } });
  const all = parsed.values as Readonly<Record<string, unknown>>;
  if (all.help === true) return showUsage(io, matrixUsage(source));
  const values = all as { port?: string; protocol?: string; format?: string; svg?: string; probe?: boolean };
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use table or json`, { field: '--format', value: format });
  const protocol = (values.protocol ?? 'TCP').toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    throw new InvalidConfigError(`--protocol ${JSON.stringify(values.protocol)} is not supported: use TCP, UDP or SCTP`, { field: '--protocol', value: values.protocol ?? '' });
  }
  const port = values.port ?? '80';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new InvalidConfigError(`--port ${JSON.stringify(port)} is not a port from 1 to 65535`, { field: '--port', value: port });
  if (values.svg === '') throw new InvalidConfigError('--svg needs a file name', { field: '--svg' });
  if (values.probe && protocol === 'SCTP') {
    // Not a skip dressed as a result: nothing here can send SCTP (this kernel has no SCTP
    // sockets, and Node has no SCTP API), so there is nothing to measure.
    throw new NotAvailableError("berth policy matrix --probe: SCTP cannot be probed here (this kernel has no SCTP sockets); without --probe the model's SCTP matrix is shown", {
      field: '--protocol',
      value: 'SCTP',
    });
  }
  if (values.probe && process.getuid?.() !== 0) {
    throw new NotAvailableError('berth policy matrix --probe needs root: it builds a lab of network namespaces, a bridge and nftables rules (all inside a private namespace that dies with it)');
  }

  const objects = await source.known(all);
  const model = reachability(new PolicyCompiler({ objects }).compile(), { protocol: protocol.toLowerCase() as Protocol, port: Number(port) });
  const pods = Object.keys(model);
  const flow = `${port}/${protocol}`;

  const lab = values.probe ? await runLab({ objects, protocol, port: Number(port) }) : undefined;
  const diff = lab ? disagreements(pods, model, lab.probe) : [];

  if (values.svg !== undefined) {
    const svg = renderHeatmapSvg({ pods, model, flow, ...(lab ? { probe: lab.probe } : {}) });
    try {
      writeFileSync(values.svg, svg);
    } catch (err) {
      throw new IoError(`Cannot write ${values.svg}: ${(err as Error).message}`, { operation: `write ${values.svg}` }, { cause: err });
    }
  }

  if (format === 'json') {
    const notProbed = lab && Object.keys(lab.notProbed).length ? { notProbed: lab.notProbed } : {};
    io.out(`${JSON.stringify(lab ? { model, probe: lab.probe, disagreements: diff, ...notProbed } : model, null, 2)}\n`);
  } else {
    io.out(lab ? `${flow}: rows from, columns to; ok allowed, X denied (model); ! the dataplane disagrees, ? not probed\n` : `${flow}: rows from, columns to; ok allowed, X denied\n`);
    io.out(renderMatrixTable(pods, model, lab?.probe));
    if (lab) {
      for (const d of diff) io.out(`! ${d.from} -> ${d.to}: the model says ${d.model ? 'allowed' : 'denied'}, the dataplane ${d.probe ? 'let it through' : 'refused it'}\n`);
      for (const [pod, why] of Object.entries(lab.notProbed)) io.out(`? ${pod}: not probed: ${why}\n`);
      io.out(diff.length ? `the dataplane disagrees with the model in ${diff.length} of ${pods.length ** 2} cells\n` : 'the dataplane agrees with the model\n');
    }
  }
  if (values.svg !== undefined) io.err(`heatmap written to ${values.svg}\n`);
  // Probes that failed oddly (not the policy's reject, not a drop) mean the lab, not the policy.
  for (const o of lab?.odd ?? []) io.err(`berth: warning: probe ${o.from} -> ${o.to} failed with ${o.error}, not with the policy's reject\n`);
  return diff.length ? EXIT_FAILED : EXIT_OK;
}
