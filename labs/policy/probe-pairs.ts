/**
 * Probing every ordered pair of pods: one new connection from each pod to each pod (itself
 * included), keyed the way the model's reachability matrix is (`"<ns>/<pod>"`, from → to), so
 * the two compare cell by cell.
 */
import type { PodAgent, ProbeProtocol } from './agent.js';

export type MeasuredMatrix = Record<string, Record<string, boolean>>;

/** A probe that did not get through, and why (`EHOSTUNREACH`: the policy's reject). */
export interface ProbeFailure {
  readonly from: string;
  readonly to: string;
  readonly error: string;
}

export interface PairProbeOptions {
  readonly protocol: ProbeProtocol;
  readonly port: number;
  readonly timeoutMs: number;
  /**
   * Probes in flight at once. All at once is fastest (a reject answers at once, a drop costs
   * one timeout for all), but thousands of pairs would mean thousands of sockets.
   */
  readonly concurrency?: number;
}

/** Probes from each of `pods` to each of `pods`; `agentOf`/`addressOf` locate them. */
export async function probeAllPairs(
  pods: readonly string[],
  agentOf: (pod: string) => PodAgent,
  addressOf: (pod: string) => string,
  options: PairProbeOptions,
): Promise<{ matrix: MeasuredMatrix; failures: ProbeFailure[] }> {
  const matrix: MeasuredMatrix = {};
  // Rows and columns in the order given, whatever order the answers come in.
  for (const from of pods) matrix[from] = Object.fromEntries(pods.map((to) => [to, false]));
  const failures: ProbeFailure[] = [];
  const pairs = pods.flatMap((from) => pods.map((to) => [from, to] as const));
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const [from, to] = pairs[next++]!;
      const r = await agentOf(from).probe(options.protocol, addressOf(to), options.port, options.timeoutMs);
      matrix[from]![to] = r.ok;
      if (!r.ok) failures.push({ from, to, error: r.error ?? 'unknown' });
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 512, pairs.length));
  await Promise.all(Array.from({ length: workers }, worker));
  failures.sort((a, b) => pods.indexOf(a.from) - pods.indexOf(b.from) || pods.indexOf(a.to) - pods.indexOf(b.to));
  return { matrix, failures };
}
