import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidObjectError } from '../../../core/errors.js';
import { applyPolicyManifests, deletePolicyObject, loadPolicyObjects, policyStoreKey } from '../../../policy/policy-store.js';
import { FileStore } from '../../../store/file/file-store.js';
import { netpol } from '../../fixtures/policy/conformance-cases.js';
import { namespaceManifest, podManifest } from '../../fixtures/policy/conformance-world.js';

function tempStore(t: { teardown: (fn: () => void) => void }): FileStore {
  const dir = mkdtempSync(join(tmpdir(), 'berth-policy-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new FileStore({ dataDir: dir, fsync: false });
}

test('applied manifests are stored one key each and read back validated', async (t) => {
  const store = tempStore(t);
  const noNamespace = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny' }, spec: { podSelector: {} } };
  const objects = await applyPolicyManifests(store, [namespaceManifest('x'), { apiVersion: 'v1', kind: 'List', items: [podManifest('x/a', '10.9.0.1'), noNamespace] }], { defaultNamespace: 'x' });
  t.deepEqual(
    objects.map((o) => o.kind),
    ['Namespace', 'Pod', 'NetworkPolicy'],
  );
  t.deepEqual(
    (await store.list('policy/')).map((e) => e.key),
    ['policy/namespaces/x', 'policy/networkpolicies/x/deny', 'policy/pods/x/a'],
  );
  const back = await loadPolicyObjects(store);
  t.deepEqual(back.map((o) => o.kind).sort(), ['Namespace', 'NetworkPolicy', 'Pod']);
  const policy = back.find((o) => o.kind === 'NetworkPolicy');
  t.is(policy?.kind === 'NetworkPolicy' ? policy.policy.namespace : '', 'x', 'the defaulted namespace is stored with the manifest');
  t.true(await deletePolicyObject(store, 'NetworkPolicy', 'x', 'deny'));
  t.false(await deletePolicyObject(store, 'NetworkPolicy', 'x', 'deny'));
  t.is(policyStoreKey('Namespace', '', 'x'), 'policy/namespaces/x');
});

test('one invalid manifest stores nothing', async (t) => {
  const store = tempStore(t);
  const good = netpol('x', 'good', { podSelector: {} });
  const bad = netpol('x', 'bad', { podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] });
  await t.throwsAsync(applyPolicyManifests(store, [good, bad]), { instanceOf: InvalidObjectError, message: /document 2: .*ports\[0\]\.port: Invalid value: 0/ });
  t.deepEqual(await store.list('policy/'), []);
});
