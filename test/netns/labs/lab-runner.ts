/**
 * Runs `berth lab ...` as a user does (the built CLI, which starts the lab under unshare) and
 * reads what the machine's namespace holds before and after: here "the machine" is the test
 * run's private namespace, which a lab must leave as it found it.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, hostLinks, nftTables, runProcess, sh, type Run } from '../../support/netns.js';

export interface Snapshot {
  readonly links: string[];
  readonly netns: string[];
  readonly nft: string[];
  readonly mounts: string[];
  readonly processes: string[];
  readonly cgroups: string[];
}

/** Processes and cgroups a lab would leave are named for it (berth-labrun-NAME-PID). */
function labProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (/berth-labrun-|labs\/bin\/lab\.js/.test(cmd) && Number(pid) !== process.pid) out.push(`${pid} ${cmd.trim()}`);
    } catch {
      // Gone.
    }
  }
  return out.sort();
}

function labCgroups(): string[] {
  const out: string[] = [];
  for (const ctl of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    try {
      for (const d of readdirSync(join('/sys/fs/cgroup', ctl))) if (d.startsWith('berth-labrun-')) out.push(`${ctl}/${d}`);
    } catch {
      // Not a directory.
    }
  }
  return out.sort();
}

export function snapshot(): Snapshot {
  return {
    links: hostLinks().sort(),
    netns: sh('ip', ['netns', 'list'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!)
      .sort(),
    nft: nftTables().sort(),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]!)
      .sort(),
    processes: labProcesses(),
    cgroups: labCgroups(),
  };
}

/** `berth ARGS` with the kept-lab records in `labDir`. */
export function berth(args: string[], labDir: string, env: Record<string, string> = {}): Promise<Run> {
  return runProcess(process.execPath, [join(DIST_BIN, 'berth'), ...args], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', BERTH_LAB_DIR: labDir, ...env });
}

export interface CheckView {
  readonly what: string;
  readonly ok: boolean;
  readonly reason: string;
}

export interface ReportView {
  readonly lab: string;
  readonly passed: boolean;
  readonly steps: { command: string; exitCode: number; output: string; checks: CheckView[] }[];
  readonly checks: { passed: number; failed: number };
  readonly durationMs: number;
  readonly error?: string;
}

/** Every check of a report, "command: what: reason" for failures. */
export function failures(report: ReportView): string[] {
  return report.steps.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `${s.command}: ${c.what}: ${c.reason}`));
}

/**
 * A well-formedness check of the SVGs the labs draw: one root, every tag closed in order,
 * attributes quoted, entities known. (The renderer writes no comments, CDATA or doctype.)
 */
export function wellFormedXml(xml: string): string | undefined {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < body.length) {
    tag.lastIndex = pos;
    m = tag.exec(body);
    if (!m) return `malformed at ${pos}: ${body.slice(pos, pos + 40)}`;
    pos = tag.lastIndex;
    const [, close, name, , self, textRun] = m;
    if (textRun !== undefined) {
      if (!stack.length && textRun.trim()) return 'text outside the root';
      if (/&(?!(lt|gt|amp|quot|apos);)/.test(textRun)) return `bad entity in ${textRun.slice(0, 40)}`;
      continue;
    }
    if (close) {
      if (stack.pop() !== name) return `</${name}> closes nothing open`;
    } else if (!self) {
      if (!stack.length) roots++;
      stack.push(name!);
    } else if (!stack.length) roots++;
  }
  if (stack.length) return `unclosed ${stack.join(' > ')}`;
  if (roots !== 1) return `${roots} root elements`;
  return undefined;
}
