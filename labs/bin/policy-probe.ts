/**
 * policy-probe: the probe lab (labs/policy/probe-lab.ts) as a program, for
 * `berth policy matrix --probe`. cli/ may not import labs/, so the CLI runs this under
 * `unshare --net --mount` (a private, throw-away network namespace) and talks JSON:
 *
 *   stdin   {"objects": [PolicyObject...] and/or "manifests": [...], "sources": [...],
 *            "protocol": "TCP"|"UDP", "port": 80, "timeoutMs": 1500}
 *   stdout  {"probe": {"x/a": {"x/b": true}}, "notProbed": {"x/c": "no address"}, "odd": [...], "policyApplied": true}
 *   exit    0 measured · 2 bad input · 69 cannot run here (br_netfilter, not a private namespace) · 1 failed
 *           (the reason on stderr, one line)
 *
 * BERTH_LAB_SKIP_POLICY=1 (test-only): build the lab but apply no nftables, a deliberately
 * broken dataplane, so the tests can see a disagreement reported.
 *
 * Every exit path ends the pod agents; they also end by themselves when this process dies
 * (their stdin closes), and so does the namespace. When the CLI that started it dies, the lab
 * stops too rather than probing for nobody.
 */
import { asBerthError, InvalidConfigError } from '../../core/errors.js';
import { exitCodeOf } from '../../cli/exit-codes.js';
import { ProbeLabPods, runProbeLab, type ProbeLabInput } from '../policy/probe-lab.js';

const pods = new ProbeLabPods();
process.on('exit', () => pods.kill());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    pods.kill();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 500).unref();

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseInput(text: string): ProbeLabInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidConfigError(`policy-probe: stdin is not JSON: ${(err as Error).message}`, { field: 'stdin' });
  }
  const v = value as Partial<ProbeLabInput> | null;
  if (typeof v !== 'object' || v === null || !(Array.isArray(v.manifests) || Array.isArray(v.objects))) {
    throw new InvalidConfigError('policy-probe: stdin must be {"objects" or "manifests": [...], "protocol": ..., "port": ...}', { field: 'manifests' });
  }
  return {
    ...(Array.isArray(v.manifests) ? { manifests: v.manifests } : {}),
    ...(Array.isArray(v.objects) ? { objects: v.objects } : {}),
    ...(Array.isArray(v.sources) ? { sources: v.sources } : {}),
    protocol: v.protocol as ProbeLabInput['protocol'],
    port: Number(v.port),
    ...(v.timeoutMs !== undefined ? { timeoutMs: Number(v.timeoutMs) } : {}),
    skipPolicy: process.env.BERTH_LAB_SKIP_POLICY === '1',
  };
}

try {
  const result = await runProbeLab(parseInput(await readStdin()), pods);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = 0;
} catch (err) {
  process.stderr.write(`${asBerthError(err).message}\n`);
  process.exitCode = exitCodeOf(err);
} finally {
  pods.kill();
}
