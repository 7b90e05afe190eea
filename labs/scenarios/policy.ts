/**
 * policy: Kubernetes NetworkPolicies on berth's engine. Pods in two namespaces; the
 * reachability matrix measured with real probes (`berth policy matrix --probe`: the pods
 * rebuilt as namespaces on a bridge, the policies in nftables, every pair probed) before any
 * policy, after a default deny of ingress in `shop`, and after allowing by pod label and by
 * namespace; each time the probes must agree with the model and show the pairs the step is
 * about. The lab's picture is the last matrix, as a heatmap of model and probes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellJoin } from '../framework/context.js';
import { BERTH } from '../framework/lab-namespace.js';
import type { LabDefinition } from '../framework/lab.js';
import { firstLine, type StepRecord } from '../framework/report.js';

const PODS = `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: partners, labels: {team: partners}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.40.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c}]}
status: {podIP: 10.40.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.40.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: partners, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.41.0.10}
`;

const DEFAULT_DENY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;

const ALLOW_BY_LABEL = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
`;

const ALLOW_BY_NAMESPACE = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-partners, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: partners}}}]
`;

/** The measured matrix read from the table `berth policy matrix --probe` prints. */
interface Measured {
  /** from → to → reached (what the probe saw). */
  readonly reached: ReadonlyMap<string, ReadonlyMap<string, boolean>>;
  /** Cells where the probe disagreed with the model (`!`) or was not made (`?`). */
  readonly odd: readonly string[];
}

/**
 * Reads the table: a header `FROM \ TO` and the pods, then a row per pod of `ok`/`X` (the
 * model) marked `!` where the probe disagreed: so the probe saw `ok` and `X!` as reached.
 */
export function readMatrixTable(text: string): Measured {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('FROM \\ TO'));
  if (head < 0) return { reached: new Map(), odd: ['no matrix printed'] };
  const pods = lines[head]!.split(/\s+/).slice(3).filter(Boolean);
  const reached = new Map<string, Map<string, boolean>>();
  const odd: string[] = [];
  for (const line of lines.slice(head + 1)) {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== pods.length + 1 || !pods.includes(cells[0]!)) continue;
    const row = new Map<string, boolean>();
    pods.forEach((to, n) => {
      const cell = cells[n + 1]!;
      if (cell.endsWith('!') || cell.endsWith('?')) odd.push(`${cells[0]} -> ${to} ${cell}`);
      row.set(to, cell === 'ok' || cell === 'X!');
    });
    reached.set(cells[0]!, row);
  }
  return { reached, odd };
}

export const policyLab: LabDefinition = {
  name: 'policy',
  purpose: 'NetworkPolicies: default deny, then allow by label and by namespace; the reachability matrix before and after, measured with real probes and drawn',
  async run(ctx) {
    ctx.addPlace({ kind: 'host', name: 'host', role: 'host', exec: [], shell: ['sh'], netns: '/proc/self/ns/net' });
    // berth policy works directly on an embedded store of the lab's (no berthd), and programs
    // nftables in the lab's namespace; the probes run in a namespace of their own.
    const where = ['--data-dir', join(ctx.dir, 'data'), '--run-dir', join(ctx.dir, 'run')];
    const file = (name: string, text: string): string => {
      const path = join(ctx.dir, name);
      writeFileSync(path, text);
      return path;
    };
    const berth = (args: readonly string[], note?: string, env?: Record<string, string>): Promise<StepRecord> =>
      ctx.step({ show: `berth ${shellJoin(args)}`, argv: [process.execPath, BERTH, ...args], ...(env ? { env } : {}), timeoutMs: 120_000 }, note);
    const apply = async (name: string, text: string, note: string): Promise<void> => {
      (await berth(['policy', 'apply', '-f', file(name, text), ...where], note)).succeeded(`${name} is stored and programmed`);
    };
    const svgFile = join(ctx.dir, 'matrix.svg');
    const matrix = async (note: string): Promise<{ step: StepRecord; reach: (from: string, to: string) => boolean | undefined }> => {
      const env = ctx.sabotage ? { BERTH_LAB_SKIP_POLICY: '1' } : undefined;
      const step = await berth(['policy', 'matrix', '--probe', '--svg', svgFile, ...where], note, env);
      const m = readMatrixTable(step.stdout);
      step.check(
        'the probes agree with the model in every cell',
        step.code === 0 && m.reached.size === 4 && m.odd.length === 0,
        m.odd.length ? `disagreements: ${m.odd.join(', ')}` : step.code === 0 ? `${m.reached.size ** 2} cells measured` : `exit status ${step.code}: ${firstLine(step.ran.stderr)}`,
      );
      return { step, reach: (from, to) => m.reached.get(from)?.get(to) };
    };
    const expect = (s: { step: StepRecord; reach: (from: string, to: string) => boolean | undefined }, from: string, to: string, allowed: boolean, why: string): void => {
      const got = s.reach(from, to);
      s.step.check(
        `${from} ${allowed ? 'reaches' : 'does not reach'} ${to}`,
        got === allowed,
        got === undefined ? 'not measured' : `${got ? 'reached' : 'refused'}${got === allowed ? ': ' : ', though '}${why}`,
      );
    };

    await apply('pods.yaml', PODS, 'Two namespaces, shop (web, api, db) and partners (client), as the API server would hold them: no policy yet.');
    const open = await matrix('Before any policy every pod reaches every pod: the matrix from the model, each cell measured by a real TCP probe to port 80.');
    expect(open, 'partners/client', 'shop/db', true, 'no policy selects shop/db');
    expect(open, 'shop/web', 'shop/api', true, 'no policy selects shop/api');

    await apply('default-deny.yaml', DEFAULT_DENY, 'Default deny: a policy selecting every pod of shop, with no ingress rule.');
    const denied = await matrix('Now nothing reaches shop, from inside it or outside; shop still reaches out.');
    expect(denied, 'partners/client', 'shop/web', false, 'shop admits nothing');
    expect(denied, 'shop/web', 'shop/api', false, 'shop admits nothing, not even its own pods');
    expect(denied, 'shop/api', 'partners/client', true, 'partners has no policy');

    await apply('api-from-web.yaml', ALLOW_BY_LABEL, 'Allow by label: api admits the pods labelled app=web of its namespace.');
    await apply('web-from-partners.yaml', ALLOW_BY_NAMESPACE, 'Allow by namespace: web admits every pod of the namespaces labelled team=partners.');
    const after = await matrix('After: exactly the pairs the policies allow, measured.');
    expect(after, 'shop/web', 'shop/api', true, 'api-from-web admits app=web');
    expect(after, 'shop/db', 'shop/api', false, 'db is not app=web');
    expect(after, 'partners/client', 'shop/web', true, 'web-from-partners admits namespace team=partners');
    expect(after, 'partners/client', 'shop/api', false, 'api admits only app=web of shop');
    expect(after, 'partners/client', 'shop/db', false, 'the default deny still holds for db');

    const ls = await berth(['policy', 'ls', '-n', 'shop', ...where], 'The policies in force.');
    ls.check(
      'three policies in shop',
      ['default-deny-ingress', 'api-from-web', 'web-from-partners'].every((n) => ls.stdout.includes(n)),
      firstLine(ls.stdout) ? `${ls.stdout.trim().split('\n').length - 1} listed` : firstLine(ls.ran.stderr),
    );
    return { picture: async () => readFileSync(svgFile, 'utf8') };
  },
};
