import test from 'ava';
import { KernelError } from '../../../core/errors.js';
import { PassageKeeper } from '../../../daemon/firewall/passage-keeper.js';
import type { Log } from '../../../daemon/log.js';
import type { ForwardPassage, Passage, PassageReport } from '../../../dataplane/linux/ports.js';

function collectingLog(): Log & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, ...(fields ? { fields } : {}) });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

const dockerUser = (added: boolean): Passage => ({
  owner: 'docker',
  place: { backend: 'nftables', family: 'ip', table: 'filter', chain: 'DOCKER-USER' },
  reason: "Docker's ip filter FORWARD drops forwarded traffic it does not accept (policy drop)",
  present: true,
  added,
  protectedInterfaces: ['docker0'],
});

/** A passage whose next refresh answers what the test put in `next` (a report, or an error to throw). */
function scripted(): ForwardPassage & { next: PassageReport | Error } {
  const p = {
    next: { devices: [], passages: [] } as PassageReport | Error,
    open: () => ({ devices: [], passages: [] }),
    close: () => ({ devices: [], passages: [] }),
    refresh: () => {
      if (p.next instanceof Error) throw p.next;
      return p.next;
    },
  };
  return p;
}

test("a re-check that puts berth's rule back logs a warning naming the owner and the chain; one that finds it in place does not", (t) => {
  const passage = scripted();
  const log = collectingLog();
  const keeper = new PassageKeeper({ passage, log, intervalMs: 0 });
  passage.next = { devices: ['bn-a'], passages: [dockerUser(false)] };
  keeper.check('start');
  t.deepEqual(
    log.lines.filter((l) => l.level === 'warn'),
    [],
  );
  passage.next = { devices: ['bn-a'], passages: [dockerUser(true)] };
  keeper.check('docker engine started');
  const warns = log.lines.filter((l) => l.level === 'warn');
  t.is(warns.length, 1);
  t.regex(warns[0]!.message, /berth's rule was missing .* and was put back/);
  t.like(warns[0]!.fields, { why: 'docker engine started', owner: 'docker', chain: 'ip filter DOCKER-USER', backend: 'nftables' });
});

test('a failed re-check: status shows the passages as not present with the error, health names the problem; both recover', (t) => {
  const passage = scripted();
  const log = collectingLog();
  const keeper = new PassageKeeper({ passage, log, intervalMs: 0, healthFreshMs: 0 });
  passage.next = { devices: ['bn-a'], passages: [dockerUser(true)] };
  keeper.check('start');
  t.is(keeper.problem(), undefined, 'healthy while the re-check works');

  passage.next = new KernelError('nft: Could not process rule: No such file or directory', { operation: 'nft -j -f -' });
  const failed = keeper.check('periodic');
  t.is(failed.error, 'nft: Could not process rule: No such file or directory');
  t.deepEqual(
    failed.passages.map((p) => [p.place.chain, p.present]),
    [['DOCKER-USER', false]],
    'the row no longer says the accept is there',
  );
  t.like(keeper.last(), { error: failed.error });
  const problem = keeper.problem();
  t.regex(problem ?? '', /^firewall passage re-check failed \(berth's accept in docker's ip filter DOCKER-USER may be missing\): nft: Could not process rule/);
  t.is(log.lines.filter((l) => l.message === 'firewall passage: re-check failed').length, 1, 'the same failure is logged once');

  passage.next = { devices: ['bn-a'], passages: [dockerUser(false)] };
  t.is(keeper.problem(), undefined);
  t.is(keeper.last().error, undefined);
  t.true(keeper.last().passages[0]!.present);
  t.true(log.lines.some((l) => l.message === 'firewall passage: re-check works again'));
});

test('a health probe right after a re-check is answered by it, not by another re-check', (t) => {
  const passage = scripted();
  const keeper = new PassageKeeper({ passage, log: collectingLog(), intervalMs: 0 });
  passage.next = { devices: ['bn-a'], passages: [dockerUser(true)] };
  keeper.check('start');
  passage.next = new KernelError('nft: should not be asked', { operation: 'nft -j -f -' });
  t.is(keeper.problem(), undefined, 'the re-check of a moment ago answers');
});
