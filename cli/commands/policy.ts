/**
 * `berth policy`: NetworkPolicies (with the Namespaces and Pods they select), applied through
 * berthd when it runs, else directly: kept in the embedded store under `--data-dir` (default
 * /var/lib/berth) and programmed into nftables by this process (policy-backend.ts).
 *
 *   apply -f FILE|DIR      store every Namespace, Pod and NetworkPolicy of the files (all or nothing)
 *   delete -f FILE         remove the objects the files name
 *   delete -n NS NAME      remove one NetworkPolicy
 *   ls [-A] [-n NS]        list NetworkPolicies
 *   matrix                 reachability truth table of all known pods, from the model
 *   explain FROM TO PORT   the policies and rules that allow a flow, or the isolation that denies it
 *   sync                   program what is stored (direct mode)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { InvalidConfigError, NotFoundError } from '../../core/errors.js';
import { describeSelector, explainFlow, parseFlowPort, parsePolicyObjects, policyObjectRef, PolicyCompiler, type PolicyIR } from '../../policy/index.js';
import { choosePolicyBackend, type BackendChoice, type PolicyBackend, type PolicyRef, type SyncInfo } from './policy-backend.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { matrixCommand } from './policy-matrix.js';
import { HELP, parseCommandArgs, showUsage } from './usage.js';

const DEFAULT_DATA_DIR = '/var/lib/berth';
const DEFAULT_RUN_DIR = '/run/berth';
const DEFAULT_SOCKET = '/run/berth/berthd.sock';

const USAGE = `Usage: berth policy COMMAND [OPTIONS]

Commands:
  apply -f FILE|DIR              Store Namespace, Pod and NetworkPolicy manifests (YAML or JSON,
                                 several documents per file); one invalid document applies nothing
  delete -f FILE|DIR             Remove the objects the manifests name (also: rm)
  delete [-n NS] NAME            Remove one NetworkPolicy
  ls [-A] [-n NS] [--format json]
                                 List NetworkPolicies (namespace "default" unless -n or -A)
                                 (also: list)
  matrix [--port N] [--protocol TCP|UDP|SCTP] [--format json] [--svg FILE] [--probe]
                                 Reachability of all known pods (rows: from, columns: to);
                                 --svg draws it, --probe measures it in a lab (root) and flags
                                 where the dataplane disagrees (exit status 1)
  explain FROM TO PORT/PROTO     Which policies and rules allow a flow, or which isolation denies it
                                 (pods as NAMESPACE/NAME, for example x/a y/b 80/TCP)
  sync                           Program the stored policies into nftables (direct mode)

Every command takes -H, --host SOCKET | --data-dir DIR [--run-dir DIR], and -h, --help.
Through berthd when it listens on --host (default ${DEFAULT_SOCKET}, or BERTH_HOST): its policy
agent stores and programs, and opens new pods as they start. Otherwise, or with --data-dir,
directly: the embedded store under --data-dir (default ${DEFAULT_DATA_DIR}) and nftables
programmed by this command (root); pods recorded under --run-dir (default ${DEFAULT_RUN_DIR})
that start later stay closed until \`berth policy sync\` runs.
Run "berth policy COMMAND --help" for a command's options.
`;

/** How the usage texts describe WHERE's options. */
const WHERE_HELP = `  -H, --host SOCKET       berthd's API socket (default $BERTH_HOST, else ${DEFAULT_SOCKET});
                          used when berthd listens there, else the command works directly
      --data-dir DIR      Work directly on the embedded store under DIR (default
                          ${DEFAULT_DATA_DIR}), not through berthd
      --run-dir DIR       Direct mode: where berth's plugins record pods (default
                          $BERTH_RUN_DIR, else ${DEFAULT_RUN_DIR})
  -h, --help              Show this help
`;

const APPLY_USAGE = `Usage: berth policy apply -f FILE|DIR [OPTIONS]

Stores every Namespace, Pod and NetworkPolicy of the manifests: YAML or JSON, several documents
per file; of a directory, its .yaml, .yml and .json files in name order. One invalid document
applies nothing. Prints each object configured; what the dataplane now does goes to stderr.

Options:
  -f, --filename FILE|DIR A manifest file or directory (required; repeatable)
${WHERE_HELP}`;

const DELETE_USAGE = `Usage: berth policy delete -f FILE|DIR [OPTIONS]
       berth policy delete [-n NS] NAME [OPTIONS]

Removes the objects the manifests name, or one NetworkPolicy by name (alias: rm).

Options:
  -f, --filename FILE|DIR A manifest file or directory (repeatable)
  -n, --namespace NS      The NetworkPolicy's namespace (default "default"); not with -f
${WHERE_HELP}`;

const LS_USAGE = `Usage: berth policy ls [OPTIONS]

Lists the stored NetworkPolicies (alias: list).

Options:
  -n, --namespace NS      Only this namespace (default "default")
  -A, --all-namespaces    Every namespace; not with -n
      --format FORMAT     table (default) or json
${WHERE_HELP}`;

const EXPLAIN_USAGE = `Usage: berth policy explain [OPTIONS] FROM TO PORT/PROTO

Says which policies and rules allow a flow from pod FROM to pod TO, or which isolation denies
it. Pods are NAMESPACE/NAME; for example: berth policy explain x/a y/b 80/TCP

Options:
${WHERE_HELP}`;

const SYNC_USAGE = `Usage: berth policy sync [OPTIONS]

Programs the stored policies into nftables (direct mode, root); berthd keeps itself in sync,
so through berthd there is nothing to do.

Options:
${WHERE_HELP}`;

const FORMAT = { format: { type: 'string' } } as const;
/** Where to apply and read: berthd (`--host`) or the embedded store (`--data-dir`, `--run-dir`). */
const WHERE = { 'data-dir': { type: 'string' }, 'run-dir': { type: 'string' }, host: { type: 'string', short: 'H' } } as const;
type Where = { readonly 'data-dir'?: string | undefined; readonly 'run-dir'?: string | undefined; readonly host?: string | undefined };

function whereOf(v: Where): BackendChoice {
  return { dataDir: v['data-dir'], runDir: v['run-dir'], host: v.host };
}

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
    case 'sync':
      return syncCommand(rest, io);
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

async function apply(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseCommandArgs('berth policy apply', { args: argv, options: { filename: { type: 'string', short: 'f', multiple: true }, ...WHERE, ...HELP } });
  if (values.help) return showUsage(io, APPLY_USAGE);
  const { manifests, sources } = readManifests(values.filename ?? []);
  if (manifests.length === 0) throw new InvalidConfigError(`berth policy apply: no objects in ${(values.filename ?? []).join(', ')}`, { field: '-f' });
  await withBackend(values, async (backend) => {
    const { objects, sync } = await backend.apply(manifests, sources);
    for (const o of objects) io.out(`${describeRef(o)} configured\n`);
    reportSync(backend, sync, io);
  });
  return EXIT_OK;
}

async function remove(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth policy delete', {
    args: argv,
    allowPositionals: true,
    options: { filename: { type: 'string', short: 'f', multiple: true }, namespace: { type: 'string', short: 'n' }, ...WHERE, ...HELP },
  });
  if (values.help) return showUsage(io, DELETE_USAGE);
  let refs: PolicyRef[];
  const byName = values.filename === undefined;
  if (!byName) {
    if (positionals.length > 0 || values.namespace !== undefined) throw new InvalidConfigError('berth policy delete: give -f FILE or -n NS NAME, not both', { field: '-f' });
    const { manifests, sources } = readManifests(values.filename ?? []);
    refs = parsePolicyObjects(manifests, { sources }).map(policyObjectRef);
  } else {
    if (positionals.length !== 1) throw new InvalidConfigError('berth policy delete: give -f FILE or -n NS NAME (one NetworkPolicy name)', { field: 'NAME' });
    refs = [{ kind: 'NetworkPolicy', namespace: values.namespace ?? 'default', name: positionals[0]! }];
  }
  await withBackend(values, async (backend) => {
    const { deleted, missing, sync } = await backend.delete(refs, byName);
    if (byName && deleted.length === 0) {
      const r = refs[0]!;
      throw new NotFoundError(`NetworkPolicy ${r.namespace}/${r.name} not found`, { field: 'NAME', value: `${r.namespace}/${r.name}` });
    }
    for (const r of deleted) io.out(`${describeRef(r)} deleted\n`);
    for (const r of missing) io.out(`${describeRef(r)} not found\n`);
    reportSync(backend, sync, io);
  });
  return EXIT_OK;
}

/** `berth policy sync`: programs what is stored (direct mode; berthd keeps itself in sync). */
async function syncCommand(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseCommandArgs('berth policy sync', { args: argv, options: { ...WHERE, ...HELP } });
  if (values.help) return showUsage(io, SYNC_USAGE);
  await withBackend(values, async (backend) => {
    const sync = await backend.sync();
    if (backend.via === 'berthd') io.out('berthd programs policies as they change; nothing to do\n');
    else if (sync) io.out(`${describeSync(sync)}\n`);
  });
  return EXIT_OK;
}

function describeRef(r: PolicyRef): string {
  return r.kind === 'Namespace' ? `namespace/${r.name}` : `${r.kind.toLowerCase()}/${r.namespace}/${r.name}`;
}

function describeSync(s: SyncInfo): string {
  if (s.mode === 'cleared') return 'no NetworkPolicy left: policy filtering is off';
  return `programmed ${s.policies} NetworkPolicies over ${s.pods} pods (${s.mode}, ${s.ms.toFixed(1)} ms)`;
}

/** What the dataplane now does, on stderr so that stdout stays kubectl-like. */
function reportSync(backend: PolicyBackend, sync: SyncInfo | undefined, io: Output): void {
  if (!sync) return;
  io.err(`${describeSync(sync)}${backend.via === 'berthd' ? ' by berthd' : ''}\n`);
  if (backend.via === 'direct' && sync.mode !== 'cleared') {
    io.err('berthd is not running: pods started from now on stay closed until `berth policy sync` (or berthd) programs them\n');
  }
}

async function list(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseCommandArgs('berth policy ls', {
    args: argv,
    options: { 'all-namespaces': { type: 'boolean', short: 'A' }, namespace: { type: 'string', short: 'n' }, ...FORMAT, ...WHERE, ...HELP },
  });
  if (values.help) return showUsage(io, LS_USAGE);
  const format = formatOf(values.format);
  if (values['all-namespaces'] && values.namespace !== undefined) throw new InvalidConfigError('berth policy ls: give -A or -n NS, not both', { field: '-n' });
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? 'default');
  const objects = await withBackend(values, (backend) => backend.stored());
  const policies = objects
    .flatMap((o) => (o.kind === 'NetworkPolicy' ? [o.policy] : []))
    .filter((p) => namespace === undefined || p.namespace === namespace)
    .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  if (format === 'json') {
    const rows = policies.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      podSelector: describeSelector(p.podSelector),
      policyTypes: p.policyTypes,
      ingressRules: p.ingress.length,
      egressRules: p.egress.length,
    }));
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

/** Compiles every known object: what was applied, and the pods berth's plugins recorded. */
async function compileStored(where: Where): Promise<PolicyIR> {
  return new PolicyCompiler({ objects: await withBackend(where, (backend) => backend.known()) }).compile();
}

async function matrix(argv: readonly string[], io: Output): Promise<number> {
  return matrixCommand(argv, io, { options: WHERE, optionsHelp: WHERE_HELP, known: (values) => withBackend(values as Where, (b) => b.known()) });
}

/** Runs `fn` on berthd or the direct backend, and closes it whatever happens. */
async function withBackend<T>(where: Where, fn: (backend: PolicyBackend) => Promise<T>): Promise<T> {
  const backend = await choosePolicyBackend(whereOf(where));
  try {
    return await fn(backend);
  } finally {
    backend.close();
  }
}

async function explain(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth policy explain', { args: argv, allowPositionals: true, options: { ...WHERE, ...HELP } });
  if (values.help) return showUsage(io, EXPLAIN_USAGE);
  if (positionals.length !== 3) throw new InvalidConfigError('Usage: berth policy explain FROM TO PORT/PROTO (for example x/a y/b 80/TCP)', { field: 'FROM' });
  const [from, to, portText] = positionals as [string, string, string];
  const flow = parseFlowPort(portText);
  const ir = await compileStored(values);
  const { lines } = explainFlow(ir, from, to, flow);
  io.out(`${lines.join('\n')}\n`);
  return EXIT_OK;
}
