/**
 * `berth ... --help`: every command and subcommand answers -h and --help with its usage on
 * stdout and status 0, and contacts nothing: BERTH_HOST names a socket that does not exist, so
 * a command that went on to berthd would fail with 69. The top-level help lists what the
 * driver catalog ships. And a socket this user may not open is said as such (status 1).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, EXIT_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE, exitCodeOf, isPermissionDenied } from '../../../cli/exit-codes.js';
import { NotAvailableError } from '../../../core/errors.js';
import { CATALOG, CNI_PLUGIN_NAMES } from '../../../drivers/catalog.js';

/** The bundled CLI: dist/test/unit/cli/ → dist/bin/berth. */
const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'berth');

/** A directory nothing may write into: BERTH_HOST, BERTH_RUN_DIR and DOCKER_HOST point inside it. */
const sandbox = mkdtempSync(join(tmpdir(), 'berth-help-'));
const missingSocket = join(sandbox, 'berthd.sock');
test.after.always(() => rmSync(sandbox, { recursive: true, force: true }));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** At most this many CLI processes at once: ava runs this file's tests concurrently. */
const SLOTS = 3;
let running = 0;
const waiting: (() => void)[] = [];

async function berth(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; uid?: number } = {}): Promise<Run> {
  if (running >= SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await runBerth(args, opts);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function runBerth(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; uid?: number }): Promise<Run> {
  const env = { ...process.env, BERTH_HOST: missingSocket, BERTH_RUN_DIR: join(sandbox, 'run'), DOCKER_HOST: `unix://${join(sandbox, 'docker.sock')}`, ...opts.env };
  const ids = opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {};
  const child = spawn(process.execPath, [BERTH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every command and subcommand (aliases too), and the first line its usage starts with. */
const COMMANDS: readonly (readonly [readonly string[], string])[] = [
  [[], 'Usage: berth COMMAND'],
  [['help'], 'Usage: berth COMMAND'],
  [['network'], 'Usage: berth network COMMAND'],
  [['network', 'create'], 'Usage: berth network create'],
  [['network', 'ls'], 'Usage: berth network ls'],
  [['network', 'list'], 'Usage: berth network ls'],
  [['network', 'inspect'], 'Usage: berth network inspect'],
  [['network', 'rm'], 'Usage: berth network rm'],
  [['network', 'remove'], 'Usage: berth network rm'],
  [['status'], 'Usage: berth status'],
  [['ps'], 'Usage: berth ps'],
  [['nat'], 'Usage: berth nat COMMAND'],
  [['nat', 'ls'], 'Usage: berth nat ls'],
  [['nat', 'list'], 'Usage: berth nat ls'],
  [['policy'], 'Usage: berth policy COMMAND'],
  [['policy', 'apply'], 'Usage: berth policy apply'],
  [['policy', 'delete'], 'Usage: berth policy delete'],
  [['policy', 'rm'], 'Usage: berth policy delete'],
  [['policy', 'ls'], 'Usage: berth policy ls'],
  [['policy', 'list'], 'Usage: berth policy ls'],
  [['policy', 'matrix'], 'Usage: berth policy matrix'],
  [['policy', 'explain'], 'Usage: berth policy explain'],
  [['policy', 'sync'], 'Usage: berth policy sync'],
  [['install'], 'Usage: berth install'],
  [['version'], 'Usage: berth version'],
];

for (const [command, usage] of COMMANDS) {
  test(`berth ${[...command, '--help|-h'].join(' ')}: the usage on stdout, status 0, nothing contacted or written`, async (t) => {
    for (const flag of ['--help', '-h']) {
      const r = await berth([...command, flag]);
      t.is(r.code, 0, `berth ${[...command, flag].join(' ')}: ${r.stderr}`);
      t.true(r.stdout.startsWith(usage), `berth ${[...command, flag].join(' ')} printed:\n${r.stdout}`);
      t.is(r.stderr, '');
      // Every usage text says what -h, --help is, but for the lists of commands, which say that
      // every command takes it.
      t.regex(r.stdout, /-h, --help/);
    }
    t.deepEqual(readdirSync(sandbox), [], 'help wrote nothing');
  });
}

test('berth help COMMAND SUBCOMMAND is COMMAND SUBCOMMAND --help', async (t) => {
  const viaHelp = await berth(['help', 'policy', 'matrix']);
  const viaFlag = await berth(['policy', 'matrix', '--help']);
  t.is(viaHelp.code, 0);
  t.is(viaHelp.stdout, viaFlag.stdout);
});

test("every subcommand's help lists the options its parser accepts", async (t) => {
  const expect: readonly (readonly [readonly string[], readonly string[]])[] = [
    [
      ['network', 'create'],
      ['-d, --driver', '--subnet', '--gateway', '-o, --opt', '--internal', '-H, --host'],
    ],
    [
      ['network', 'ls'],
      ['-q, --quiet', '--format', '-H, --host'],
    ],
    [
      ['network', 'inspect'],
      ['-f, --format', '-H, --host'],
    ],
    [['network', 'rm'], ['-H, --host']],
    [['status'], ['--format', '-H, --host']],
    [['ps'], ['--format', '--docker-socket', '-H, --host']],
    [
      ['nat', 'ls'],
      ['--format', '--run-dir', '-H, --host'],
    ],
    [
      ['policy', 'apply'],
      ['-f, --filename', '-H, --host', '--data-dir', '--run-dir'],
    ],
    [
      ['policy', 'delete'],
      ['-f, --filename', '-n, --namespace', '-H, --host', '--data-dir', '--run-dir'],
    ],
    [
      ['policy', 'ls'],
      ['-A, --all-namespaces', '-n, --namespace', '--format', '-H, --host', '--data-dir', '--run-dir'],
    ],
    [
      ['policy', 'matrix'],
      ['--port', '--protocol', '--format', '--svg', '--probe', '-H, --host', '--data-dir', '--run-dir'],
    ],
    [
      ['policy', 'explain'],
      ['-H, --host', '--data-dir', '--run-dir'],
    ],
    [
      ['policy', 'sync'],
      ['-H, --host', '--data-dir', '--run-dir'],
    ],
    [['install'], ['--cni-bin-dir', '--systemd-dir', '--node']],
  ];
  await Promise.all(
    expect.map(async ([command, options]) => {
      const { stdout } = await berth([...command, '--help']);
      for (const o of options) t.true(stdout.includes(o), `berth ${command.join(' ')} --help does not mention ${o}:\n${stdout}`);
    }),
  );
});

test('berth --help lists every CNI plugin and driver of the catalog, in the install line and a Drivers section', async (t) => {
  for (const args of [['--help'], ['help'], []]) {
    const { code, stdout } = await berth(args);
    t.is(code, 0);
    const [commands, drivers] = stdout.split(/^Drivers\b/m);
    t.truthy(drivers, `no Drivers section in:\n${stdout}`);
    const install = /^ {2}install --cni-bin-dir DIR[^\n]*(\n {20,}[^\n]*)*/m.exec(commands ?? '')?.[0] ?? '';
    for (const plugin of CNI_PLUGIN_NAMES) t.true(install.includes(plugin), `the install line misses ${plugin}: ${install}`);
    for (const e of CATALOG) t.regex(drivers ?? '', new RegExp(`^ +${e.name} +${e.plugin} +\\S`, 'm'), `the Drivers section misses ${e.name}`);
    t.true((drivers ?? '').includes('berth-ipam'));
  }
  const install = await berth(['install', '--help']);
  for (const plugin of CNI_PLUGIN_NAMES) t.true(install.stdout.includes(plugin), `berth install --help misses ${plugin}`);
  const create = await berth(['network', 'create', '--help']);
  for (const e of CATALOG) t.regex(create.stdout, new RegExp(`^ +${e.name} +\\S`, 'm'), `berth network create --help misses the driver ${e.name}`);
});

test('an unknown option exits 2, names the option and points at --help', async (t) => {
  const cases: readonly (readonly [readonly string[], string, string])[] = [
    [['network', 'create', '--bogus', 'n'], '--bogus', 'berth network create --help'],
    [['network', 'ls', '-Z'], '-Z', 'berth network ls --help'],
    [['status', '--bogus'], '--bogus', 'berth status --help'],
    [['ps', '--bogus'], '--bogus', 'berth ps --help'],
    [['nat', 'ls', '--bogus'], '--bogus', 'berth nat ls --help'],
    [['policy', 'ls', '--bogus'], '--bogus', 'berth policy ls --help'],
    [['policy', 'matrix', '--bogus'], '--bogus', 'berth policy matrix --help'],
    [['policy', 'explain', '--bogus'], '--bogus', 'berth policy explain --help'],
    [['install', '--bogus'], '--bogus', 'berth install --help'],
    [['version', '--bogus'], '--bogus', 'berth version --help'],
  ];
  await Promise.all(
    cases.map(async ([args, option, pointer]) => {
      const r = await berth(args);
      t.is(r.code, EXIT_USAGE, `berth ${args.join(' ')}: ${r.stderr}`);
      t.true(r.stderr.includes(`unknown option "${option}"`), `berth ${args.join(' ')}: ${r.stderr}`);
      t.true(r.stderr.includes(pointer), `berth ${args.join(' ')}: ${r.stderr}`);
      t.is(r.stdout, '');
    }),
  );
});

test('a command past its help still goes to berthd: unreachable is 69', async (t) => {
  const r = await berth(['status']);
  t.is(r.code, EXIT_UNAVAILABLE, r.stderr);
  t.regex(r.stderr, /is it running\?/);
});

const ACCESS = '/run/berth/berthd.sock';
const systemError = (code: string, syscall = 'connect') => Object.assign(new Error(`${syscall} ${code} ${ACCESS}`), { code, errno: -13, syscall, address: ACCESS });

test('EACCES or EPERM on connecting to berthd is "permission denied", status 1, not 69', (t) => {
  for (const code of ['EACCES', 'EPERM']) {
    const err = systemError(code);
    t.true(isPermissionDenied(err));
    t.is(exitCodeOf(err), EXIT_FAILED);
    const { message, exitCode } = describeFailure(err);
    t.is(exitCode, EXIT_FAILED);
    t.is(message, `permission denied on ${ACCESS}: run as root (or as a member of the socket's group)`);
    t.notRegex(message, /is it running/);
  }
  // What the API client makes of gRPC's UNAVAILABLE: only the text of the errno is left.
  const viaGrpc = new NotAvailableError(`Cannot reach berthd at /x/api.sock: is it running? (No connection established. Last error: Error: connect EACCES /x/api.sock. Resolution note: )`, {
    value: '/x/api.sock',
  });
  t.true(isPermissionDenied(viaGrpc));
  t.deepEqual(describeFailure(viaGrpc), { message: "permission denied on /x/api.sock: run as root (or as a member of the socket's group)", exitCode: EXIT_FAILED });
});

test('ENOENT and ECONNREFUSED on connect stay "unreachable" (69); EACCES elsewhere is no socket matter', (t) => {
  for (const code of ['ENOENT', 'ECONNREFUSED']) {
    const raw = describeFailure(systemError(code));
    t.is(raw.exitCode, EXIT_UNAVAILABLE);
    t.regex(raw.message, /Cannot reach berthd at \/run\/berth\/berthd\.sock: is it running\?/);
    const viaGrpc = new NotAvailableError(`Cannot reach berthd at /x/api.sock: is it running? (No connection established. Last error: Error: connect ${code} /x/api.sock. Resolution note: )`, {
      value: '/x/api.sock',
    });
    t.false(isPermissionDenied(viaGrpc));
    t.deepEqual(describeFailure(viaGrpc), { message: viaGrpc.message, exitCode: EXIT_UNAVAILABLE });
  }
  const open = systemError('EACCES', 'open');
  t.false(isPermissionDenied(open));
  t.is(describeFailure(open).message, open.message);
});

test('end to end: a socket the user may not open is "permission denied", status 1, for every command that asks berthd', async (t) => {
  // Root ignores file modes, so the CLI runs as nobody (65534) when the tests run as root.
  const dir = mkdtempSync(join(tmpdir(), 'berth-denied-'));
  chmodSync(dir, 0o755);
  const socket = join(dir, 'berthd.sock');
  const server: Server = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    chmodSync(socket, 0);
    const uid = process.getuid?.() === 0 ? { uid: 65534 } : {};
    for (const args of [['status'], ['ps'], ['network', 'ls'], ['network', 'rm', 'x', 'y'], ['nat', 'ls'], ['policy', 'ls']]) {
      const r = await berth(args, { env: { BERTH_HOST: socket }, ...uid });
      t.is(r.code, EXIT_FAILED, `berth ${args.join(' ')}: ${r.stderr}`);
      t.is(r.stderr, `berth: permission denied on ${socket}: run as root (or as a member of the socket's group)\n`, `berth ${args.join(' ')}`);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
