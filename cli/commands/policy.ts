/**
 * `berth policy`: NetworkPolicies (with the Namespaces and Pods they select) kept in the
 * embedded store under `--data-dir` (default /var/lib/berth), read and judged without berthd.
 *
 *   apply -f FILE|DIR      store every Namespace, Pod and NetworkPolicy of the files (all or nothing)
 *   delete -f FILE         remove the objects the files name
 *   delete -n NS NAME      remove one NetworkPolicy
 *   ls [-A] [-n NS]        list NetworkPolicies
 *   matrix                 reachability truth table of all known pods, from the model
 *   explain FROM TO PORT   the policies and rules that allow a flow, or the isolation that denies it
 *
 * Direct mode only writes the store; it does not program nftables (berthd's job).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { InvalidConfigError, InvalidObjectError, NotFoundError } from '../../core/errors.js';
import type { Protocol } from '../../core/model.js';
import {
  applyPolicyManifests,
  deletePolicyObject,
  describeSelector,
  explainFlow,
  loadPolicyObjects,
  parseFlowPort,
  parsePolicyObjects,
  PolicyCompiler,
  reachability,
  type PolicyIR,
  type PolicyObject,
} from '../../policy/index.js';
import { FileStore } from '../../store/file/file-store.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { PROCESS_OUTPUT, type Output } from './network.js';

const DEFAULT_DATA_DIR = '/var/lib/berth';

const USAGE = `Usage: berth policy COMMAND [--data-dir DIR]

Commands:
  apply -f FILE|DIR              Store Namespace, Pod and NetworkPolicy manifests (YAML or JSON,
                                 several documents per file); one invalid document applies nothing
  delete -f FILE|DIR             Remove the objects the manifests name
  delete -n NS NAME              Remove one NetworkPolicy
  ls [-A] [-n NS] [--format json]
                                 List NetworkPolicies (namespace "default" unless -n or -A)
  matrix [--port N] [--protocol TCP|UDP|SCTP] [--format json]
                                 Reachability of all known pods (rows: from, columns: to)
  explain FROM TO PORT/PROTO     Which policies and rules allow a flow, or which isolation denies it
                                 (pods as NAMESPACE/NAME, for example x/a y/b 80/TCP)

State is the embedded store under --data-dir (default ${DEFAULT_DATA_DIR}); berthd is not needed.
Direct mode does not program nftables.
`;

const FORMAT = { format: { type: 'string' } } as const;
const DATA_DIR = { 'data-dir': { type: 'string' } } as const;

/** Runs `berth policy ...`; returns the exit status. */
export async function policyCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'apply':
      return apply(rest, io);
    case 'delete':
    case 'rm':
      return remove(rest, io);
    case 'ls':
    case 'list':
      return list(rest, io);
    case 'matrix':
      return matrix(rest, io);
    case 'explain':
      return explain(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return sub === undefined ? EXIT_USAGE : EXIT_OK;
    default:
      io.err(`berth policy: unknown command "${sub}"\n\n${USAGE}`);
      return EXIT_USAGE;
  }
}

function openStore(dataDir: string | undefined): FileStore {
  return new FileStore({ dataDir: dataDir ?? DEFAULT_DATA_DIR });
}

function formatOf(value: string | undefined): 'table' | 'json' {
  const format = value ?? 'table';
  if (format !== 'table' && format !== 'json') throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use table or json`, { field: '--format', value: format });
  return format;
}

/** The files named by -f: a file as is, a directory's .yaml/.yml/.json files in name order. */
function manifestFiles(paths: readonly string[]): string[] {
  if (paths.length === 0) throw new InvalidConfigError('-f FILE|DIR is required', { field: '-f' });
  return paths.flatMap((p) => {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new InvalidConfigError(`${p}: no such file or directory`, { field: '-f', value: p });
    }
    if (!isDir) return [p];
    return readdirSync(p)
      .filter((n) => /\.(ya?ml|json)$/i.test(n))
      .sort()
      .map((n) => join(p, n));
  });
}

/** Every document of the files, with where it came from (`FILE document N`). */
function readManifests(paths: readonly string[]): { manifests: unknown[]; sources: string[] } {
  const manifests: unknown[] = [];
  const sources: string[] = [];
  for (const file of manifestFiles(paths)) {
    const text = readFileSync(file, 'utf8');
    parseAllDocuments(text).forEach((doc, i) => {
      const where = `${file} document ${i + 1}`;
      const error = doc.errors[0];
      if (error) throw new InvalidConfigError(`${where}: not valid YAML or JSON: ${(error.message.split('\n')[0] ?? '').replace(/:$/, '')}`, { field: '-f', value: file });
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) return; // an empty document (`---` at the end)
      manifests.push(value);
      sources.push(where);
    });
  }
  return { manifests, sources };
}

function describeObject(o: PolicyObject): string {
  if (o.kind === 'Namespace') return `namespace/${o.namespace.name}`;
  if (o.kind === 'Pod') return `pod/${o.pod.namespace}/${o.pod.name}`;
  return `networkpolicy/${o.policy.namespace}/${o.policy.name}`;
}

function identity(o: PolicyObject): { kind: PolicyObject['kind']; namespace: string; name: string } {
  if (o.kind === 'Namespace') return { kind: o.kind, namespace: '', name: o.namespace.name };
  const x = o.kind === 'Pod' ? o.pod : o.policy;
  return { kind: o.kind, namespace: x.namespace, name: x.name };
}

async function apply(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { filename: { type: 'string', short: 'f', multiple: true }, ...DATA_DIR } });
  const { manifests, sources } = readManifests(values.filename ?? []);
  if (manifests.length === 0) throw new InvalidConfigError(`berth policy apply: no objects in ${(values.filename ?? []).join(', ')}`, { field: '-f' });
  let objects: PolicyObject[];
  try {
    objects = await applyPolicyManifests(openStore(values['data-dir']), manifests, { sources });
  } catch (err) {
    if (err instanceof InvalidObjectError) throw new InvalidObjectError(err.message.replace('nothing was read', 'nothing was applied'), err.problems);
    throw err;
  }
  for (const o of objects) io.out(`${describeObject(o)} configured\n`);
  return EXIT_OK;
}

async function remove(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: { filename: { type: 'string', short: 'f', multiple: true }, namespace: { type: 'string', short: 'n' }, ...DATA_DIR },
  });
  const store = openStore(values['data-dir']);
  if (values.filename !== undefined) {
    if (positionals.length > 0 || values.namespace !== undefined) throw new InvalidConfigError('berth policy delete: give -f FILE or -n NS NAME, not both', { field: '-f' });
    const { manifests, sources } = readManifests(values.filename);
    for (const o of parsePolicyObjects(manifests, { sources })) {
      const { kind, namespace, name } = identity(o);
      const existed = await deletePolicyObject(store, kind, namespace, name);
      io.out(`${describeObject(o)} ${existed ? 'deleted' : 'not found'}\n`);
    }
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new InvalidConfigError('berth policy delete: give -f FILE or -n NS NAME (one NetworkPolicy name)', { field: 'NAME' });
  const namespace = values.namespace ?? 'default';
  const name = positionals[0]!;
  if (!(await deletePolicyObject(store, 'NetworkPolicy', namespace, name))) {
    throw new NotFoundError(`NetworkPolicy ${namespace}/${name} not found`, { field: 'NAME', value: `${namespace}/${name}` });
  }
  io.out(`networkpolicy/${namespace}/${name} deleted\n`);
  return EXIT_OK;
}

async function list(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: { 'all-namespaces': { type: 'boolean', short: 'A' }, namespace: { type: 'string', short: 'n' }, ...FORMAT, ...DATA_DIR },
  });
  const format = formatOf(values.format);
  if (values['all-namespaces'] && values.namespace !== undefined) throw new InvalidConfigError('berth policy ls: give -A or -n NS, not both', { field: '-n' });
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? 'default');
  const objects = await loadPolicyObjects(openStore(values['data-dir']));
  const policies = objects
    .flatMap((o) => (o.kind === 'NetworkPolicy' ? [o.policy] : []))
    .filter((p) => namespace === undefined || p.namespace === namespace)
    .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  if (format === 'json') {
    const rows = policies.map((p) => ({ namespace: p.namespace, name: p.name, podSelector: describeSelector(p.podSelector), policyTypes: p.policyTypes, ingressRules: p.ingress.length, egressRules: p.egress.length }));
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  io.out(
    renderTable(
      ['NAMESPACE', 'NAME', 'POD-SELECTOR', 'POLICY TYPES', 'INGRESS RULES', 'EGRESS RULES'],
      policies.map((p) => [p.namespace, p.name, describeSelector(p.podSelector), p.policyTypes.join(',') || '-', String(p.ingress.length), String(p.egress.length)]),
    ),
  );
  return EXIT_OK;
}

/** Compiles everything stored. */
async function compileStored(dataDir: string | undefined): Promise<PolicyIR> {
  const compiler = new PolicyCompiler();
  for (const o of await loadPolicyObjects(openStore(dataDir))) {
    if (o.kind === 'Namespace') compiler.setNamespace(o.namespace);
    else if (o.kind === 'Pod') compiler.setPod(o.pod);
    else compiler.setPolicy(o.policy);
  }
  return compiler.compile();
}

async function matrix(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { port: { type: 'string' }, protocol: { type: 'string' }, ...FORMAT, ...DATA_DIR } });
  const format = formatOf(values.format);
  const protocol = (values.protocol ?? 'TCP').toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    throw new InvalidConfigError(`--protocol ${JSON.stringify(values.protocol)} is not supported: use TCP, UDP or SCTP`, { field: '--protocol', value: values.protocol });
  }
  const port = values.port ?? '80';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new InvalidConfigError(`--port ${JSON.stringify(port)} is not a port from 1 to 65535`, { field: '--port', value: port });
  const ir = await compileStored(values['data-dir']);
  const table = reachability(ir, { protocol: protocol.toLowerCase() as Protocol, port: Number(port) });
  if (format === 'json') {
    io.out(`${JSON.stringify(table, null, 2)}\n`);
    return EXIT_OK;
  }
  const pods = Object.keys(table);
  io.out(`${port}/${protocol}: rows from, columns to; ok allowed, X denied\n`);
  io.out(renderTable(['FROM \\ TO', ...pods], pods.map((from) => [from, ...pods.map((to) => (table[from]?.[to] ? 'ok' : 'X'))])));
  return EXIT_OK;
}

async function explain(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: { ...DATA_DIR } });
  if (positionals.length !== 3) throw new InvalidConfigError('Usage: berth policy explain FROM TO PORT/PROTO (for example x/a y/b 80/TCP)', { field: 'FROM' });
  const [from, to, portText] = positionals as [string, string, string];
  const flow = parseFlowPort(portText);
  const ir = await compileStored(values['data-dir']);
  const { lines } = explainFlow(ir, from, to, flow);
  io.out(`${lines.join('\n')}\n`);
  return EXIT_OK;
}
