/**
 * The commands of libnftables' JSON API that berth sends (`{"nftables":[...]}`, see
 * dataplane/linux/nftables.ts), as types, and the small functions that build them. Pure: no
 * I/O, nothing but data.
 *
 * The command layer is typed here (which verb, which object, which fields); the expressions
 * inside a rule (`match`, `payload`, `vmap`, verdicts, ...) and the values of set elements stay
 * libnftables JSON as the renderers write it (`NftExpr`).
 *
 * Fields come out in one fixed order per object, the order berth has always sent, so that a
 * batch's JSON stays byte for byte what it was (the policy goldens compare it). A rule's
 * `expr` and `comment` keep the order of the body they are given in: libnftables does not
 * care, and the policy table writes `expr` first while the others write `comment` first, as
 * `nft -j list` does.
 */

/** nftables address families. */
export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** A libnftables JSON expression or statement (`{ match: ... }`, `{ accept: null }`, ...). */
export type NftExpr = Readonly<Record<string, unknown>>;

/** A value in a set element or an expression operand: a literal or an expression (`prefix`, `range`, `concat`, a verdict). */
export type NftValue = string | number | NftExpr;

/** A set element (its key), or a map element (`[key, data]`, the data a verdict in verdict maps). */
export type NftElem = NftValue | readonly [NftValue, NftValue];

/** The table an object belongs to. */
export interface NftTableRef {
  readonly family: NftFamily;
  readonly table: string;
}

export interface NftTableSpec {
  readonly family: NftFamily;
  readonly name: string;
}

/** A chain, set or map by name (what `delete` and `flush` need). */
export interface NftObjectRef extends NftTableRef {
  readonly name: string;
}

export type NftChainType = 'filter' | 'nat' | 'route';
export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress';

/** What makes a chain a base chain: `type filter hook forward priority 0; policy accept`. */
export interface NftBaseChain {
  readonly type: NftChainType;
  readonly hook: NftHook;
  readonly prio: number;
  readonly policy: 'accept' | 'drop';
}

/** A regular chain (reached by jump/goto only), or a base chain. */
export type NftChainSpec = NftObjectRef | (NftObjectRef & NftBaseChain);

/** The data types berth's sets and maps are keyed on. */
export type NftDataType = 'ipv4_addr' | 'ipv6_addr' | 'ether_addr' | 'inet_proto' | 'inet_service' | 'ifname' | 'mark';

/** One type, or the types of a concatenation (`ipv4_addr . inet_proto . inet_service`). */
export type NftKeyType = NftDataType | readonly NftDataType[];

export type NftSetFlag = 'interval' | 'constant' | 'timeout' | 'dynamic';

export interface NftSetSpec extends NftObjectRef {
  readonly type: NftKeyType;
  readonly flags?: readonly NftSetFlag[];
}

/** A verdict map (`map: 'verdict'`) or a data map. */
export interface NftMapSpec extends NftObjectRef {
  readonly type: NftKeyType;
  readonly map: NftDataType | 'verdict';
  readonly flags?: readonly NftSetFlag[];
}

/** A rule's content: its expressions, verdict last, and an optional comment. */
export interface NftRuleBody {
  readonly expr: readonly NftExpr[];
  readonly comment?: string;
}

export interface NftRuleSpec extends NftTableRef, NftRuleBody {
  readonly chain: string;
  /** For `insert`: the rule goes just before the rule with this handle (not at the top). */
  readonly handle?: number;
}

/** A rule by handle (what `delete rule` needs). */
export interface NftRuleRef extends NftTableRef {
  readonly chain: string;
  readonly handle: number;
}

export interface NftElementsSpec extends NftObjectRef {
  readonly elem: readonly NftElem[];
}

type Command<Verb extends string, Kind extends string, Body> = { readonly [V in Verb]: { readonly [K in Kind]: Body } };

export type NftAdd =
  | Command<'add', 'table', NftTableSpec>
  | Command<'add', 'chain', NftChainSpec>
  | Command<'add', 'set', NftSetSpec>
  | Command<'add', 'map', NftMapSpec>
  | Command<'add', 'rule', NftRuleSpec>
  | Command<'add', 'element', NftElementsSpec>;

/** A rule at the top of its chain. */
export type NftInsert = Command<'insert', 'rule', NftRuleSpec>;

export type NftDelete =
  | Command<'delete', 'table', NftTableSpec>
  | Command<'delete', 'chain', NftObjectRef>
  | Command<'delete', 'set', NftObjectRef>
  | Command<'delete', 'map', NftObjectRef>
  | Command<'delete', 'rule', NftRuleRef>
  | Command<'delete', 'element', NftElementsSpec>;

export type NftFlush =
  Command<'flush', 'table', NftTableSpec> | Command<'flush', 'chain', NftObjectRef> | Command<'flush', 'set', NftObjectRef> | Command<'flush', 'map', NftObjectRef> | Command<'flush', 'ruleset', null>;

/** One command of a batch. */
export type NftCommand = NftAdd | NftInsert | NftDelete | NftFlush;

// --- builders ---

const tableSpec = (family: NftFamily, name: string): NftTableSpec => ({ family, name });
const objectRef = (t: NftTableRef, name: string): NftObjectRef => ({ family: t.family, table: t.table, name });

/** `expr` and `comment`, in the order `rule` has them (see the top of this file); nothing else of `rule`. */
function ruleSpec(t: NftTableRef, chain: string, rule: NftRuleBody): NftRuleSpec {
  const head = { family: t.family, table: t.table, chain };
  if (rule.comment === undefined) return { ...head, expr: rule.expr };
  return Object.keys(rule)[0] === 'comment' ? { ...head, comment: rule.comment, expr: rule.expr } : { ...head, expr: rule.expr, comment: rule.comment };
}

export function addTable(family: NftFamily, name: string): Command<'add', 'table', NftTableSpec> {
  return { add: { table: tableSpec(family, name) } };
}

/** Deletes the table with everything in it; fails when it is absent (add it first to make that safe). */
export function deleteTable(family: NftFamily, name: string): Command<'delete', 'table', NftTableSpec> {
  return { delete: { table: tableSpec(family, name) } };
}

/** A regular chain, or a base chain with `base`. Adding a chain that exists leaves it (and its rules) alone. */
export function addChain(t: NftTableRef, name: string, base?: NftBaseChain): Command<'add', 'chain', NftChainSpec> {
  const chain: NftChainSpec = base ? { ...objectRef(t, name), type: base.type, hook: base.hook, prio: base.prio, policy: base.policy } : objectRef(t, name);
  return { add: { chain } };
}

export function flushChain(t: NftTableRef, name: string): Command<'flush', 'chain', NftObjectRef> {
  return { flush: { chain: objectRef(t, name) } };
}

export function deleteChain(t: NftTableRef, name: string): Command<'delete', 'chain', NftObjectRef> {
  return { delete: { chain: objectRef(t, name) } };
}

export function addSet(t: NftTableRef, name: string, type: NftKeyType, flags?: readonly NftSetFlag[]): Command<'add', 'set', NftSetSpec> {
  return { add: { set: { ...objectRef(t, name), type, ...(flags ? { flags } : {}) } } };
}

export function deleteSet(t: NftTableRef, name: string): Command<'delete', 'set', NftObjectRef> {
  return { delete: { set: objectRef(t, name) } };
}

/** A map from `type` to `data`: `'verdict'` for a verdict map (elements `[key, { jump: ... }]`). */
export function addMap(t: NftTableRef, name: string, type: NftKeyType, data: NftMapSpec['map'], flags?: readonly NftSetFlag[]): Command<'add', 'map', NftMapSpec> {
  return { add: { map: { ...objectRef(t, name), type, map: data, ...(flags ? { flags } : {}) } } };
}

export function deleteMap(t: NftTableRef, name: string): Command<'delete', 'map', NftObjectRef> {
  return { delete: { map: objectRef(t, name) } };
}

/** Appends a rule; `expr` and `comment` appear in the order `rule` has them. */
export function addRule(t: NftTableRef, chain: string, rule: NftRuleBody): Command<'add', 'rule', NftRuleSpec> {
  return { add: { rule: ruleSpec(t, chain, rule) } };
}

/** Puts a rule at the top of its chain (`nft insert rule`), or just before the rule with handle `before`. */
export function insertRule(t: NftTableRef, chain: string, rule: NftRuleBody, before?: number): NftInsert {
  const spec = ruleSpec(t, chain, rule);
  return { insert: { rule: before === undefined ? spec : { ...spec, handle: before } } };
}

export function deleteRule(t: NftTableRef, chain: string, handle: number): Command<'delete', 'rule', NftRuleRef> {
  return { delete: { rule: { family: t.family, table: t.table, chain, handle } } };
}

/** Adds elements to a set or map (`elem` as libnftables wants it: keys, or `[key, data]` for maps). */
export function addElements(t: NftTableRef, set: string, elem: readonly NftElem[]): Command<'add', 'element', NftElementsSpec> {
  return { add: { element: { ...objectRef(t, set), elem } } };
}

/** Deletes elements of a set or map, each named by its key alone; fails when one is absent. */
export function deleteElements(t: NftTableRef, set: string, keys: readonly NftValue[]): Command<'delete', 'element', NftElementsSpec> {
  return { delete: { element: { ...objectRef(t, set), elem: keys } } };
}
