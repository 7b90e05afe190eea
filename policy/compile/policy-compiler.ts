/**
 * The compiler: Namespaces, Pods and NetworkPolicies in, PolicyIR out.
 *
 * It is incremental in the way felix's calculation graph is: `set*`/`delete*` only record the
 * change and mark what it can affect; `compile()` redoes just that and hands back an IR that
 * reuses every object the change did not touch. The output depends only on the current
 * objects, never on the order of the changes that led there.
 *
 * What a change invalidates:
 * - a policy: that policy (its selection and rules);
 * - a pod: the policies of its namespace (selection, ingress named ports), the policies with
 *   egress named ports (resolved on peer pods anywhere), and the pod address sets it enters
 *   or leaves (or whose addresses it changes);
 * - a namespace: everything that involves namespace labels (rare, so: everything).
 */
import { IpAddress } from '../../core/ip.js';
import { namespaceOf } from '../model/namespace.js';
import { selectorMatches } from '../model/label-selector.js';
import { objectKey, type Namespace, type NetworkPolicy, type Pod, type PolicyRule } from '../model/types.js';
import type { PolicyObject, PolicyObjectRef } from '../model/policy-object.js';
import { rangesContain } from './address-ranges.js';
import type { AddressSet, AddressSetId, CidrAddressSet, CompiledPolicy, CompiledRule, Direction, PodAddressSet, PodEntry, PodKey, PolicyIR, PolicyKey, PortRange } from './ir.js';
import { cidrSetOf, ipBlockId, podSelectionOf, selectionMatches, type PodSelection } from './peer-sets.js';
import { hasNamedPorts, numericPortRanges, resolveNamedPorts } from './port-ranges.js';

/** Everything the compiler reads, for a whole-state load. */
export interface PolicyInputs {
  readonly namespaces?: readonly Namespace[];
  readonly pods?: readonly Pod[];
  readonly policies?: readonly NetworkPolicy[];
  /** Objects of any kind, as parsed from manifests or the store (after the typed lists). */
  readonly objects?: readonly PolicyObject[];
}

interface CachedPodSet {
  readonly selection: PodSelection;
  set: PodAddressSet | undefined;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class PolicyCompiler {
  readonly #namespaces = new Map<string, Namespace>();
  readonly #policies = new Map<PolicyKey, NetworkPolicy>();
  readonly #pods = new Map<PodKey, PodEntry>();
  readonly #podsByNamespace = new Map<string, Set<PodKey>>();
  readonly #podSets = new Map<AddressSetId, CachedPodSet>();
  readonly #cidrSets = new Map<AddressSetId, CidrAddressSet>();
  readonly #compiled = new Map<PolicyKey, CompiledPolicy>();
  readonly #dirty = new Set<PolicyKey>();
  /** Policies whose egress rules name ports: any pod change may change their resolution. */
  readonly #egressNamed = new Set<PolicyKey>();
  /** Per direction, pod → the policies that isolate it (sorted); arrays are replaced, never changed. */
  readonly #isolation: Record<Direction, Map<PodKey, readonly PolicyKey[]>> = { ingress: new Map(), egress: new Map() };
  readonly #isolationChanged: Record<Direction, boolean> = { ingress: true, egress: true };
  /** Lists made during the current compile: not handed out yet, so still growable, then sorted. */
  readonly #fresh = new Set<readonly PolicyKey[]>();
  /** How many rules refer to each address set; a set at zero is forgotten. */
  readonly #setRefs = new Map<AddressSetId, number>();
  #everythingDirty = false;
  #podsChanged = true;
  #last: PolicyIR | undefined;

  /** A compiler holding `inputs` (nothing compiled until `compile()`). */
  constructor(inputs: PolicyInputs = {}) {
    for (const n of inputs.namespaces ?? []) this.setNamespace(n);
    for (const p of inputs.pods ?? []) this.setPod(p);
    for (const p of inputs.policies ?? []) this.setPolicy(p);
    for (const o of inputs.objects ?? []) this.setObject(o);
  }

  /** Adds or replaces a namespace (its labels feed namespaceSelectors). */
  setNamespace(ns: Namespace): void {
    this.#namespaces.set(ns.name, namespaceOf(ns.name, ns.labels));
    this.#everythingDirty = true;
  }

  /** Removes a namespace's labels; its pods stay, with only the name label left. Idempotent. */
  deleteNamespace(name: string): void {
    if (this.#namespaces.delete(name)) this.#everythingDirty = true;
  }

  /** Adds or replaces a pod. Host-network pods are outside policy and are dropped. */
  setPod(pod: Pod): void {
    const key = objectKey(pod);
    const before = this.#pods.get(key);
    const after = pod.hostNetwork ? undefined : podEntryOf(pod);
    this.#replacePod(key, before, after);
  }

  /** Removes a pod. Idempotent. */
  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const before = this.#pods.get(key);
    if (before) this.#replacePod(key, before, undefined);
  }

  /** Adds or replaces a NetworkPolicy. */
  setPolicy(policy: NetworkPolicy): void {
    const key = objectKey(policy);
    this.#policies.set(key, policy);
    this.#dirty.add(key);
  }

  /** Removes a NetworkPolicy. Idempotent. */
  deletePolicy(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (this.#policies.delete(key)) this.#dirty.add(key);
  }

  /** Adds or replaces an object of any kind. */
  setObject(o: PolicyObject): void {
    if (o.kind === 'Namespace') this.setNamespace(o.namespace);
    else if (o.kind === 'Pod') this.setPod(o.pod);
    else this.setPolicy(o.policy);
  }

  /** Removes an object of any kind. Idempotent. */
  deleteObject(ref: PolicyObjectRef): void {
    if (ref.kind === 'Namespace') this.deleteNamespace(ref.name);
    else if (ref.kind === 'Pod') this.deletePod(ref.namespace, ref.name);
    else this.deletePolicy(ref.namespace, ref.name);
  }

  /** The objects currently held, for listing. */
  get policies(): readonly NetworkPolicy[] {
    return [...this.#policies.values()];
  }

  /**
   * The IR of the current objects. Objects that the changes since the last call did not touch
   * are the same objects as in the previous IR.
   */
  compile(): PolicyIR {
    if (this.#everythingDirty) {
      for (const c of this.#podSets.values()) c.set = undefined;
      for (const k of this.#policies.keys()) this.#dirty.add(k);
      for (const k of this.#compiled.keys()) this.#dirty.add(k);
      this.#everythingDirty = false;
    }
    const policiesChanged = this.#dirty.size > 0;
    for (const key of this.#dirty) {
      const policy = this.#policies.get(key);
      const before = this.#compiled.get(key);
      this.#egressNamed.delete(key);
      const after = policy ? this.#compilePolicy(key, policy) : undefined;
      if (after) this.#compiled.set(key, after);
      else this.#compiled.delete(key);
      if (policy?.policyTypes.includes('Egress') && policy.egress.some((r) => hasNamedPorts(r.ports))) this.#egressNamed.add(key);
      this.#isolate('ingress', key, before?.ingress ? before.selected : [], after?.ingress ? after.selected : []);
      this.#isolate('egress', key, before?.egress ? before.selected : [], after?.egress ? after.selected : []);
      // References are counted up before down, so a set both versions use stays cached.
      for (const id of setIdsOf(after)) this.#setRefs.set(id, (this.#setRefs.get(id) ?? 0) + 1);
      for (const id of setIdsOf(before)) this.#unref(id);
    }
    this.#dirty.clear();
    const ir = this.#assemble(policiesChanged);
    this.#last = ir;
    return ir;
  }

  /** Moves `policy` from the lists of the pods it selected to those it selects now. */
  #isolate(direction: Direction, policy: PolicyKey, before: readonly PodKey[], after: readonly PodKey[]): void {
    if (before === after || (before.length === after.length && before.every((k, i) => k === after[i]))) return;
    const lists = this.#isolation[direction];
    const now = new Set(after);
    const was = new Set(before);
    for (const pod of before) {
      if (now.has(pod)) continue;
      const list = lists.get(pod)!.filter((k) => k !== policy);
      if (list.length) {
        this.#fresh.add(list);
        lists.set(pod, list);
      } else lists.delete(pod);
    }
    for (const pod of after) {
      if (was.has(pod)) continue;
      const list = lists.get(pod);
      // An array made in this round is not in any IR yet and may grow in place; any other is
      // copied (the last IR holds it). Sorting waits for the end of the round.
      if (list && this.#fresh.has(list)) (list as PolicyKey[]).push(policy);
      else {
        const copy = [...(list ?? []), policy];
        this.#fresh.add(copy);
        lists.set(pod, copy);
      }
    }
    this.#isolationChanged[direction] = true;
  }

  #unref(id: AddressSetId): void {
    const n = (this.#setRefs.get(id) ?? 0) - 1;
    if (n > 0) {
      this.#setRefs.set(id, n);
      return;
    }
    // No policy refers to the set any more: forget it (a later reference rebuilds it).
    this.#setRefs.delete(id);
    this.#podSets.delete(id);
    this.#cidrSets.delete(id);
  }

  #replacePod(key: PodKey, before: PodEntry | undefined, after: PodEntry | undefined): void {
    if (!before && !after) return;
    this.#podsChanged = true;
    if (before) this.#podsByNamespace.get(before.namespace)?.delete(key);
    if (after) {
      this.#pods.set(key, after);
      let keys = this.#podsByNamespace.get(after.namespace);
      if (!keys) this.#podsByNamespace.set(after.namespace, (keys = new Set()));
      keys.add(key);
    } else {
      this.#pods.delete(key);
    }
    const ns = (after ?? before)!.namespace;
    for (const [pk, p] of this.#policies) if (p.namespace === ns) this.#dirty.add(pk);
    for (const pk of this.#egressNamed) this.#dirty.add(pk);
    // A set the pod was in, or is now in, gets new members or new addresses.
    for (const cached of this.#podSets.values()) {
      if (!cached.set) continue;
      const was = before !== undefined && cached.set.members.includes(key);
      const is = after !== undefined && selectionMatches(cached.selection, after, this.#namespaceLabels(after.namespace));
      if (was || is) cached.set = this.#withMember(cached, key, is);
    }
  }

  /** A set's members with one pod added or removed, addresses recomputed. */
  #withMember(cached: CachedPodSet, key: PodKey, present: boolean): PodAddressSet {
    const members = cached.set!.members.filter((m) => m !== key);
    if (present) members.push(key);
    members.sort(byText);
    return this.#podSetOf(cached.selection, members);
  }

  #namespaceLabels(name: string): Readonly<Record<string, string>> {
    return (this.#namespaces.get(name) ?? namespaceOf(name)).labels;
  }

  /** Namespaces that exist for matching: declared ones and those that hold pods. */
  #namespaceNames(): string[] {
    const names = new Set<string>(this.#namespaces.keys());
    for (const [ns, keys] of this.#podsByNamespace) if (keys.size) names.add(ns);
    return [...names];
  }

  #podSet(selection: PodSelection): PodAddressSet {
    let cached = this.#podSets.get(selection.id);
    if (!cached) this.#podSets.set(selection.id, (cached = { selection, set: undefined }));
    if (!cached.set) {
      const namespaces = selection.namespace !== undefined ? [selection.namespace] : this.#namespaceNames().filter((n) => selectorMatches(selection.namespaceSelector!, this.#namespaceLabels(n)));
      const members: PodKey[] = [];
      for (const ns of namespaces) {
        for (const key of this.#podsByNamespace.get(ns) ?? []) {
          const pod = this.#pods.get(key)!;
          if (!selection.podSelector || selectorMatches(selection.podSelector, pod.labels)) members.push(key);
        }
      }
      cached.set = this.#podSetOf(selection, members.sort(byText));
    }
    return cached.set;
  }

  #podSetOf(selection: PodSelection, members: PodKey[]): PodAddressSet {
    const v4: string[] = [];
    const v6: string[] = [];
    for (const m of members) {
      for (const a of this.#pods.get(m)?.addresses ?? []) (a.family === 4 ? v4 : v6).push(a.toString());
    }
    return { kind: 'pods', id: selection.id, description: selection.description, members, v4: v4.sort(byText), v6: v6.sort(byText) };
  }

  #cidrSet(block: Parameters<typeof cidrSetOf>[0]): CidrAddressSet {
    const id = ipBlockId(block);
    let set = this.#cidrSets.get(id);
    if (!set) this.#cidrSets.set(id, (set = cidrSetOf(block)));
    return set;
  }

  #compilePolicy(key: PolicyKey, policy: NetworkPolicy): CompiledPolicy {
    const selected: PodKey[] = [];
    for (const podKey of this.#podsByNamespace.get(policy.namespace) ?? []) {
      if (selectorMatches(policy.podSelector, this.#pods.get(podKey)!.labels)) selected.push(podKey);
    }
    selected.sort(byText);
    const out: { -readonly [K in keyof CompiledPolicy]: CompiledPolicy[K] } = { key, namespace: policy.namespace, name: policy.name, source: policy, selected };
    if (policy.policyTypes.includes('Ingress')) out.ingress = policy.ingress.map((rule, i) => this.#compileRule(policy, rule, i, 'ingress', selected));
    if (policy.policyTypes.includes('Egress')) out.egress = policy.egress.map((rule, i) => this.#compileRule(policy, rule, i, 'egress', selected));
    return out;
  }

  #compileRule(policy: NetworkPolicy, rule: PolicyRule, index: number, direction: Direction, selected: readonly PodKey[]): CompiledRule {
    const sets: AddressSet[] = rule.peers.map((peer) => (peer.ipBlock ? this.#cidrSet(peer.ipBlock) : this.#podSet(podSelectionOf(peer, policy.namespace))));
    const named = new Map<PodKey, readonly PortRange[]>();
    if (hasNamedPorts(rule.ports)) {
      // Named ports are looked up on the destination: the selected pod for ingress, the peer for egress.
      const destinations = direction === 'ingress' ? selected : rule.peers.length === 0 ? [...this.#pods.keys()] : this.#podsIn(sets);
      for (const d of destinations) {
        const ranges = resolveNamedPorts(rule.ports, this.#pods.get(d)?.namedPorts ?? []);
        if (ranges.length) named.set(d, ranges);
      }
    }
    return {
      index,
      peers: rule.peers.length === 0 ? 'any' : sets.map((s) => s.id),
      ports: rule.ports.length === 0 ? 'any' : numericPortRanges(rule.ports),
      named,
      source: { peers: rule.peers, ports: rule.ports },
    };
  }

  /** The known pods that one of the sets covers (by membership, or by address for ipBlocks). */
  #podsIn(sets: readonly AddressSet[]): PodKey[] {
    const out = new Set<PodKey>();
    for (const s of sets) {
      if (s.kind === 'pods') for (const m of s.members) out.add(m);
      else for (const [key, pod] of this.#pods) if (pod.addresses.some((a) => rangesContain(s.ranges, a))) out.add(key);
    }
    return [...out].sort(byText);
  }

  #assemble(policiesChanged: boolean): PolicyIR {
    const prev = this.#last;
    const sets = new Map<AddressSetId, AddressSet>();
    for (const id of this.#setRefs.keys()) {
      const cached = this.#podSets.get(id);
      sets.set(id, cached ? this.#podSet(cached.selection) : this.#cidrSets.get(id)!);
    }
    const policies = !policiesChanged && prev ? prev.policies : new Map([...this.#compiled.entries()].sort((a, b) => byText(a[0], b[0])));
    const pods = !this.#podsChanged && prev ? prev.pods : new Map([...this.#pods.entries()].sort((a, b) => byText(a[0], b[0])));
    this.#podsChanged = false;
    for (const list of this.#fresh) (list as PolicyKey[]).sort(byText);
    this.#fresh.clear();
    const isolation = (d: Direction) => {
      if (prev && !this.#isolationChanged[d]) return prev[d];
      this.#isolationChanged[d] = false;
      return new Map([...this.#isolation[d].entries()].sort((a, b) => byText(a[0], b[0])));
    };
    return { pods, sets, policies, ingress: isolation('ingress'), egress: isolation('egress') };
  }
}

/** The address sets a compiled policy's rules refer to (with repeats, as counted). */
function setIdsOf(p: CompiledPolicy | undefined): AddressSetId[] {
  const out: AddressSetId[] = [];
  for (const rules of [p?.ingress, p?.egress]) for (const r of rules ?? []) if (r.peers !== 'any') out.push(...r.peers);
  return out;
}

function podEntryOf(pod: Pod): PodEntry {
  return {
    key: objectKey(pod),
    namespace: pod.namespace,
    name: pod.name,
    labels: pod.labels,
    addresses: pod.ips.map((ip) => IpAddress.parse(ip)),
    namedPorts: pod.ports,
  };
}

/** Compiles a whole state at once (a fresh compiler, one pass). */
export function compilePolicies(inputs: PolicyInputs): PolicyIR {
  return new PolicyCompiler(inputs).compile();
}
