/**
 * CNI_ARGS: `K=V;K2=V2` pairs (deprecated by the spec in favour of config `args`, but
 * kubelet-style runtimes still send K8S_POD_NAMESPACE and friends this way).
 */
import { EnvError } from '../core/errors.js';

export type CniArgs = ReadonlyMap<string, string>;

export function parseCniArgs(text: string | undefined): CniArgs {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new EnvError(`CNI_ARGS: "${pair}" is not KEY=VALUE`, { field: 'CNI_ARGS', value: text });
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}
