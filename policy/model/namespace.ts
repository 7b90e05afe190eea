/** `v1` Namespace: its name and labels, with the label the API server always adds. */
import { invalidObject } from './field-errors.js';
import { dns1123LabelErrors } from './k8s-names.js';
import { ManifestReader } from './manifest-reader.js';
import { readObjectMeta } from './object-meta.js';
import { NAMESPACE_NAME_LABEL, type Namespace } from './types.js';

/**
 * Reads one Namespace manifest. `kubernetes.io/metadata.name` is set to the name whatever
 * the manifest says, as the API server does. Throws InvalidObjectError.
 */
export function parseNamespace(value: unknown): Namespace {
  const r = new ManifestReader();
  const top = r.object(value, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']) ?? {};
  const meta = readObjectMeta(r, top, { apiVersion: 'v1', kind: 'Namespace', nameErrors: dns1123LabelErrors, namespaced: false, defaultNamespace: '' });
  r.object(top.spec, 'spec', ['finalizers']);
  r.object(top.status, 'status', ['phase', 'conditions']);
  if (r.errors.length) throw invalidObject('Namespace', meta.name, r.errors);
  return namespaceOf(meta.name, meta.labels);
}

/** A namespace as the API server stores it: the given labels plus the name label. */
export function namespaceOf(name: string, labels: Readonly<Record<string, string>> = {}): Namespace {
  return { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}
