/** The machine a run was made on, as every results file records it. */
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';

export interface Machine {
  readonly kernel: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  /** Debian's containernetworking-plugins, the reference CNI plugins in /usr/lib/cni. */
  readonly referencePlugins: string;
  readonly docker: string;
  readonly iperf3: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : 'not installed';
}

export function machine(): Machine {
  return {
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    referencePlugins: firstLine('dpkg-query', ['-W', '-f', '${Version}', 'containernetworking-plugins']),
    docker: firstLine('dockerd', ['--version']),
    iperf3: firstLine('iperf3', ['--version']),
  };
}
