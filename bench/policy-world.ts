/**
 * A synthetic cluster for the policy benchmark: namespaces of pods with app/tier labels and
 * named ports, and NetworkPolicies of five everyday shapes (pod peers in the namespace,
 * namespace+pod peers across namespaces with a port range, ipBlock with except on a named
 * port, egress to named ports, namespace-wide UDP from other teams). Deterministic.
 */

export interface WorldSize {
  readonly namespaces: number;
  readonly podsPerNamespace: number;
}

const TIERS = ['web', 'api', 'db'];

/** Namespace and Pod manifests; pod addresses are 10.213.<ns>.<pod+1>, on no interface. */
export function clusterManifests(size: WorldSize): object[] {
  if (size.namespaces > 256 || size.podsPerNamespace > 254) throw new RangeError('at most 256 namespaces of 254 pods (addresses 10.213.<ns>.<pod>)');
  const out: object[] = [];
  for (let i = 0; i < size.namespaces; i++) {
    const ns = `ns-${i}`;
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: `team-${i % 5}`, env: i % 2 ? 'prod' : 'dev' } } });
    for (let j = 0; j < size.podsPerNamespace; j++) {
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p-${j}`, namespace: ns, labels: { app: `app-${j % 10}`, tier: TIERS[j % 3] } },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'app',
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'metrics', containerPort: 9090 },
                { name: 'dns', containerPort: 53, protocol: 'UDP' },
              ],
            },
          ],
        },
        status: { podIP: `10.213.${i}.${j + 1}` },
      });
    }
  }
  return out;
}

/** The k-th policy of namespace i (k counts per namespace). */
function policy(i: number, k: number, namespaces: number): object {
  const ns = `ns-${i}`;
  const app = (n: number) => ({ matchLabels: { app: `app-${n % 10}` } });
  let spec: object;
  switch (k % 5) {
    case 0:
      spec = { podSelector: app(k), ingress: [{ from: [{ podSelector: app(k + 1) }], ports: [{ port: 8080 }] }] };
      break;
    case 1:
      spec = {
        podSelector: app(k),
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `team-${k % 5}` } }, podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 8000, endPort: 8100 }] }],
      };
      break;
    case 2:
      spec = { podSelector: { matchLabels: { tier: 'db' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.213.${(i + k) % namespaces}.0/24`] } }], ports: [{ port: 'http' }] }] };
      break;
    case 3:
      spec = { podSelector: app(k), policyTypes: ['Egress'], egress: [{ to: [{ podSelector: app(k + 3) }], ports: [{ port: 'metrics' }, { protocol: 'UDP', port: 53 }] }] };
      break;
    default:
      spec = { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `team-${(k + 1) % 5}` } } }], ports: [{ protocol: 'UDP', port: 53 }] }] };
  }
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `pol-${k}`, namespace: ns }, spec };
}

/** `count` policies spread evenly over the namespaces. */
export function policyManifests(count: number, namespaces: number): object[] {
  const out: object[] = [];
  for (let n = 0; n < count; n++) out.push(policy(n % namespaces, Math.floor(n / namespaces), namespaces));
  return out;
}

/** The same policy with another port: what "change one policy" means in the benchmark. */
export function changedPolicy(round: number): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'pol-0', namespace: 'ns-0' },
    spec: { podSelector: { matchLabels: { app: 'app-0' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'app-1' } } }], ports: [{ port: 8080 + (round % 2) + 1 }] }] },
  };
}
