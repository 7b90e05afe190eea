/**
 * Pods as the policy engine knows them: the Pod manifests (labels, named ports, status IPs)
 * joined with what berth's CNI plugins recorded (core/workload.ts: namespace, name and the
 * addresses actually given). A recorded pod without a manifest is still a pod: it has no
 * labels but its namespace's, and podSelectors like `{}` select it.
 */
import type { WorkloadRecord } from '../../core/workload.js';
import type { PolicyObject } from '../model/policy-object.js';
import type { Pod } from '../model/types.js';

/** `objects` with each recorded workload's addresses added to its pod (made when missing). */
export function withWorkloads(objects: readonly PolicyObject[], workloads: readonly WorkloadRecord[]): PolicyObject[] {
  if (!workloads.length) return [...objects];
  const ips = new Map<string, Set<string>>();
  for (const w of workloads) {
    const key = `${w.namespace}/${w.name}`;
    const set = ips.get(key) ?? new Set<string>();
    for (const ip of w.ips) set.add(ip);
    ips.set(key, set);
  }
  const out: PolicyObject[] = [];
  for (const o of objects) {
    if (o.kind !== 'Pod') {
      out.push(o);
      continue;
    }
    const key = `${o.pod.namespace}/${o.pod.name}`;
    const recorded = ips.get(key);
    ips.delete(key);
    out.push(recorded ? { kind: 'Pod', pod: { ...o.pod, ips: union(o.pod.ips, recorded) } } : o);
  }
  for (const [key, set] of ips) {
    const slash = key.indexOf('/');
    const pod: Pod = { namespace: key.slice(0, slash), name: key.slice(slash + 1), labels: {}, ips: [...set].sort(), ports: [], hostNetwork: false };
    out.push({ kind: 'Pod', pod });
  }
  return out;
}

function union(a: readonly string[], b: ReadonlySet<string>): string[] {
  return [...new Set([...a, ...b])].sort();
}
