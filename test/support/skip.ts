/**
 * The one way a test skips: only when this kernel lacks a feature (reference/kernel.md,
 * "Missing"), and it says which. A missing real part (the libcni client, dockerd, a tool of
 * the setup) is never a skip: the test fails and says how to get it (`bash scripts/setup.sh`).
 *
 * A skip passes the test in ava (ava cannot skip at run time), logs `skipped: <reason>`, and
 * appends `{file, title, part?, reason}` as one JSON line to the file named by BERTH_SKIP_LOG;
 * scripts/test.sh sets it and prints every recorded skip with its reason after the runs.
 */
import test, { type ExecutionContext } from 'ava';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './netns.js';

export interface SkipRecord {
  readonly file: string;
  readonly title: string;
  /** Set when only part of the test was skipped (the rest ran). */
  readonly part?: string;
  readonly reason: string;
}

/** Kernel features some tests need; each probe answers what is missing, or undefined. */
export const kernelLacks = {
  /** SCTP sockets: listed in /proc/net/protocols when the kernel has them. */
  sctp(): string | undefined {
    const protocols = readText('/proc/net/protocols');
    return protocols !== undefined && /^SCTP\s/m.test(protocols) ? undefined : 'SCTP sockets (no SCTP in /proc/net/protocols)';
  },
  /** br_netfilter: bridged frames through the inet forward hook. */
  brNetfilter(): string | undefined {
    return existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') ? undefined : 'br_netfilter (no /proc/sys/net/bridge/bridge-nf-call-iptables): bridged traffic would bypass the forward hook';
  },
  /** The legacy iptables x_tables (ip_tables), which iptables-legacy needs. */
  legacyXtables(): string | undefined {
    return existsSync('/proc/net/ip_tables_names') ? undefined : 'legacy x_tables (ip_tables, no /proc/net/ip_tables_names): iptables-legacy cannot run';
  },
} as const;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function record(entry: Omit<SkipRecord, 'file'>): void {
  const log = process.env.BERTH_SKIP_LOG;
  if (!log) return;
  const file = test.meta.file.startsWith('file:') ? fileURLToPath(test.meta.file) : test.meta.file;
  // The source file, not its build in dist/.
  const source = relative(ROOT, file)
    .replace(/^dist\//, '')
    .replace(/\.js$/, '.ts');
  appendFileSync(log, `${JSON.stringify({ file: source, ...entry })}\n`);
}

const because = (missingFeature: string) => `this kernel lacks ${missingFeature}`;

/**
 * Skips the running test because this kernel lacks `missingFeature`: logs and records the
 * reason, and ends the test as passed. Call it, then return.
 */
export function skipBecause(t: ExecutionContext<unknown>, missingFeature: string): void {
  const reason = because(missingFeature);
  record({ title: t.title, reason });
  t.log(`skipped: ${reason}`);
  t.pass();
}

/** Skips one part of a running test (the rest of it runs) because this kernel lacks `missingFeature`. */
export function skipPartBecause(t: ExecutionContext<unknown>, part: string, missingFeature: string): void {
  const reason = because(missingFeature);
  record({ title: t.title, part, reason });
  t.log(`skipped ${part}: ${reason}`);
}

type Impl<C> = (t: ExecutionContext<C>) => void | Promise<void>;

/**
 * Declares tests with `declare` (test, test.serial...) that run when `missingFeature` is
 * undefined, and otherwise each skip through skipBecause with it.
 */
export function unlessKernelLacks<C>(declare: (title: string, impl: Impl<C>) => void, missingFeature: string | undefined): (title: string, impl: Impl<C>) => void {
  if (missingFeature === undefined) return declare;
  return (title) => declare(title, (t) => skipBecause(t as ExecutionContext<unknown>, missingFeature));
}
