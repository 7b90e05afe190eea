/**
 * Any manifest the policy engine reads, told apart by `kind`: NetworkPolicy, Namespace, Pod,
 * and kubectl's `List` of those. A batch is all or nothing: one invalid object rejects it.
 */
import { InvalidObjectError, type FieldProblem } from '../../core/errors.js';
import { notSupported, required, invalidObject } from './field-errors.js';
import { parseNamespace } from './namespace.js';
import { parseNetworkPolicy, type ReadOptions } from './network-policy.js';
import { parsePod } from './pod.js';
import type { Namespace, NetworkPolicy, Pod } from './types.js';

export type PolicyObject =
  { readonly kind: 'NetworkPolicy'; readonly policy: NetworkPolicy } | { readonly kind: 'Namespace'; readonly namespace: Namespace } | { readonly kind: 'Pod'; readonly pod: Pod };

const KINDS = ['NetworkPolicy', 'Namespace', 'Pod', 'List'];

/** Which object it is: kind, namespace ('' for a Namespace) and name. */
export interface PolicyObjectRef {
  readonly kind: PolicyObject['kind'];
  readonly namespace: string;
  readonly name: string;
}

export function policyObjectRef(o: PolicyObject): PolicyObjectRef {
  if (o.kind === 'Namespace') return { kind: o.kind, namespace: '', name: o.namespace.name };
  const x = o.kind === 'Pod' ? o.pod : o.policy;
  return { kind: o.kind, namespace: x.namespace, name: x.name };
}

/** Reads one manifest of any supported kind (not `List`). Throws InvalidObjectError. */
export function parsePolicyObject(value: unknown, options: ReadOptions = {}): PolicyObject {
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  switch (kind) {
    case 'NetworkPolicy':
      return { kind, policy: parseNetworkPolicy(value, options) };
    case 'Namespace':
      return { kind, namespace: parseNamespace(value) };
    case 'Pod':
      return { kind, pod: parsePod(value, options) };
    default: {
      const name = (value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      const problem = kind === undefined ? required('kind') : notSupported('kind', kind, KINDS.slice(0, 3));
      throw invalidObject('Object', typeof name === 'string' ? name : '', [problem]);
    }
  }
}

/**
 * Reads a batch of manifests (the documents of one or more files; `List` objects are
 * flattened). Every document is checked; if any is invalid, nothing is returned and the
 * InvalidObjectError names each bad document (`document 2: NetworkPolicy... is invalid: ...`).
 */
export function parsePolicyObjects(values: readonly unknown[], options: ReadOptions & { readonly sources?: readonly string[] } = {}): PolicyObject[] {
  const out: PolicyObject[] = [];
  const failures: string[] = [];
  const problems: FieldProblem[] = [];
  const visit = (value: unknown, where: string) => {
    if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'List') {
      const items = (value as { items?: unknown }).items;
      if (!Array.isArray(items)) {
        failures.push(`${where}: items: Required value`);
        problems.push({ field: 'items', message: `${where}: items: Required value` });
        return;
      }
      items.forEach((item, i) => visit(item, `${where} items[${i}]`));
      return;
    }
    try {
      out.push(parsePolicyObject(value, options));
    } catch (err) {
      if (!(err instanceof InvalidObjectError)) throw err;
      failures.push(`${where}: ${err.message}`);
      for (const p of err.problems) problems.push({ field: p.field, message: `${where}: ${p.message}` });
    }
  };
  values.forEach((v, i) => visit(v, options.sources?.[i] ?? `document ${i + 1}`));
  if (failures.length) {
    const head = failures.length === 1 ? 'One object is invalid, nothing was read' : `${failures.length} objects are invalid, nothing was read`;
    throw new InvalidObjectError(`${head}: ${failures.join('; ')}`, problems);
  }
  return out;
}
