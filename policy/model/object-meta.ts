/** `apiVersion`, `kind` and `metadata` of a manifest: checked here once for every kind. */
import { invalid, notSupported, required } from './field-errors.js';
import { dns1123LabelErrors } from './k8s-names.js';
import { checkLabels } from './label-selector.js';
import { OBJECT_META_FIELDS, child, type ManifestReader, type PlainObject } from './manifest-reader.js';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface MetaRules {
  /** The only apiVersion accepted for the kind (`networking.k8s.io/v1`, `v1`). */
  readonly apiVersion: string;
  readonly kind: string;
  /** Name rules of the kind: the API server's messages for a bad name. */
  readonly nameErrors: (name: string) => string[];
  /** Whether the kind lives in a namespace (then `metadata.namespace` defaults to `defaultNamespace`). */
  readonly namespaced: boolean;
  readonly defaultNamespace: string;
}

/**
 * Checks apiVersion and kind and reads metadata. Only `name`, `namespace` and `labels` are
 * interpreted; the other ObjectMeta fields are accepted as a real API object carries them.
 */
export function readObjectMeta(r: ManifestReader, top: PlainObject, rules: MetaRules): ObjectMeta {
  const apiVersion = r.string(top.apiVersion, 'apiVersion');
  if (apiVersion === undefined) r.report(required('apiVersion'));
  else if (apiVersion !== rules.apiVersion) r.report(notSupported('apiVersion', apiVersion, [rules.apiVersion]));
  const kind = r.string(top.kind, 'kind');
  if (kind !== undefined && kind !== rules.kind) r.report(notSupported('kind', kind, [rules.kind]));
  const meta = r.object(top.metadata, 'metadata', OBJECT_META_FIELDS);
  const name = r.string(meta?.name, 'metadata.name') ?? '';
  if (name === '') r.report(required('metadata.name', 'name or generateName is required'));
  else for (const msg of rules.nameErrors(name)) r.report(invalid('metadata.name', name, msg));
  let namespace = '';
  if (rules.namespaced) {
    namespace = r.string(meta?.namespace, 'metadata.namespace') || rules.defaultNamespace;
    for (const msg of dns1123LabelErrors(namespace)) r.report(invalid('metadata.namespace', namespace, msg));
  }
  const labels = r.stringMap(meta?.labels, child('metadata', 'labels')) ?? {};
  checkLabels(r, labels, 'metadata.labels');
  r.stringMap(meta?.annotations, child('metadata', 'annotations'));
  return { name, namespace, labels };
}
