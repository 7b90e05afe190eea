/**
 * Label selectors (`metav1.LabelSelector`): reading and validating them as the API server does
 * (`ValidateLabelSelector`), matching label sets, and a canonical key so that equal selectors
 * written differently share one compiled address set.
 */
import { forbidden, invalid, required } from './field-errors.js';
import { qualifiedNameErrors, labelValueErrors } from './k8s-names.js';
import { child, index, type ManifestReader } from './manifest-reader.js';
import type { LabelSelector, SelectorOperator, SelectorRequirement } from './types.js';

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** The selector that matches everything (`{}`). */
export const EVERYTHING: LabelSelector = Object.freeze({ matchLabels: Object.freeze({}), matchExpressions: Object.freeze([]) });

/** Validates label keys and values of a label map (`metadata.labels`, `matchLabels`). */
export function checkLabels(r: ManifestReader, labels: Readonly<Record<string, string>>, path: string): void {
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of qualifiedNameErrors(k)) r.report(invalid(path, k, msg));
    for (const msg of labelValueErrors(v)) r.report(invalid(path, v, msg));
  }
}

/** Reads a selector at `path`; undefined when absent (the caller decides what absent means). */
export function readLabelSelector(r: ManifestReader, value: unknown, path: string): LabelSelector | undefined {
  const o = r.object(value, path, ['matchLabels', 'matchExpressions']);
  if (!o) return undefined;
  const matchLabels = r.stringMap(o.matchLabels, child(path, 'matchLabels')) ?? {};
  checkLabels(r, matchLabels, child(path, 'matchLabels'));
  const matchExpressions: SelectorRequirement[] = [];
  const exprs = r.array(o.matchExpressions, child(path, 'matchExpressions')) ?? [];
  exprs.forEach((e, i) => {
    const p = index(child(path, 'matchExpressions'), i);
    const req = readRequirement(r, e, p);
    if (req) matchExpressions.push(req);
  });
  return { matchLabels, matchExpressions };
}

function readRequirement(r: ManifestReader, value: unknown, path: string): SelectorRequirement | undefined {
  const o = r.object(value, path, ['key', 'operator', 'values']);
  if (!o) {
    if (value === undefined || value === null) r.report(required(path));
    return undefined;
  }
  const key = r.string(o.key, child(path, 'key')) ?? '';
  const operator = r.string(o.operator, child(path, 'operator'));
  const valuesRaw = r.array(o.values, child(path, 'values')) ?? [];
  const values: string[] = [];
  valuesRaw.forEach((v, i) => {
    const s = r.string(v, index(child(path, 'values'), i));
    if (s !== undefined) values.push(s);
  });
  let ok = true;
  if (operator === 'In' || operator === 'NotIn') {
    if (values.length === 0) {
      r.report(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      ok = false;
    }
  } else if (operator === 'Exists' || operator === 'DoesNotExist') {
    if (values.length > 0) {
      r.report(forbidden(child(path, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      ok = false;
    }
  } else {
    r.report(invalid(child(path, 'operator'), operator ?? '', 'not a valid selector operator'));
    ok = false;
  }
  for (const msg of qualifiedNameErrors(key)) r.report(invalid(child(path, 'key'), key, msg));
  values.forEach((v, i) => {
    for (const msg of labelValueErrors(v)) r.report(invalid(index(child(path, 'values'), i), v, msg));
  });
  return ok && OPERATORS.includes(operator as SelectorOperator) ? { key, operator: operator as SelectorOperator, values } : undefined;
}

/** Whether `labels` satisfy the selector. `NotIn` and `DoesNotExist` hold when the key is absent. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels)) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !req.values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && req.values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** True for `{}`: no labels and no expressions. */
export function selectsEverything(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0;
}

/**
 * A canonical text form: equal for selectors that mean the same (key order, value order and
 * duplicate requirements do not matter). Used as a cache and set key, and in explanations.
 */
export function selectorKey(selector: LabelSelector): string {
  const parts = new Set<string>();
  for (const [k, v] of Object.entries(selector.matchLabels)) parts.add(`${k}=${v}`);
  for (const r of selector.matchExpressions) {
    const values = [...new Set(r.values)].sort();
    switch (r.operator) {
      case 'In':
        // `k in (v)` is `k=v`: one spelling for one meaning.
        parts.add(values.length === 1 ? `${r.key}=${values[0]}` : `${r.key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        parts.add(`${r.key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.add(r.key);
        break;
      case 'DoesNotExist':
        parts.add(`!${r.key}`);
        break;
    }
  }
  return [...parts].sort().join(',');
}

/** The selector as kubectl prints it (`pod=a,tier in (web,db)`), or `{}` for everything. */
export function describeSelector(selector: LabelSelector): string {
  return selectsEverything(selector) ? '{}' : selectorKey(selector);
}
