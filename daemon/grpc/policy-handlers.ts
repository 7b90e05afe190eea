/**
 * The policy calls of the gRPC API: manifests travel as JSON text (they are Kubernetes
 * objects, not berth messages), and the reply carries the sync that programmed them.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { policyObjectRef, type SyncReport } from '../../policy/index.js';
import type { PolicyAgent, PolicyRef } from '../policy/policy-agent.js';
import type { PolicyKind } from '../policy/policy-source.js';
import type { ApplyPoliciesMessage, ApplyPoliciesReply, DeletePoliciesMessage, DeletePoliciesReply, ListPoliciesReply, PolicyObjectRefMessage, PolicySyncMessage } from './messages.js';

const KINDS: readonly PolicyKind[] = ['Namespace', 'Pod', 'NetworkPolicy'];

export function policyHandlers(agent: PolicyAgent) {
  return {
    ApplyPolicies: async (req: ApplyPoliciesMessage): Promise<ApplyPoliciesReply> => {
      const manifests = req.manifestsJson.map((text, i) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new InvalidConfigError(`${req.sources[i] ?? `manifest ${i + 1}`}: not valid JSON`, { field: 'manifestsJson' });
        }
      });
      const { objects, sync } = await agent.apply(manifests, req.sources.length === manifests.length ? req.sources : undefined);
      return { objects: objects.map(policyObjectRef), sync: syncMessage(sync) };
    },
    DeletePolicies: async (req: DeletePoliciesMessage): Promise<DeletePoliciesReply> => {
      const refs = req.objects.map(refFromMessage);
      const { deleted, missing, sync } = await agent.delete(refs, req.mustExist);
      return { deleted, missing, sync: syncMessage(sync) };
    },
    ListPolicies: async (): Promise<ListPoliciesReply> => {
      const { manifests, workloads } = await agent.list();
      return { manifestsJson: manifests.map((m) => JSON.stringify(m)), workloadsJson: workloads.map((w) => JSON.stringify(w)), source: agent.mode };
    },
  };
}

function refFromMessage(m: PolicyObjectRefMessage): PolicyRef {
  if (!KINDS.includes(m.kind as PolicyKind)) throw new InvalidConfigError(`kind ${JSON.stringify(m.kind)} is not one of ${KINDS.join(', ')}`, { field: 'kind', value: m.kind });
  if (!m.name) throw new InvalidConfigError('an object to delete needs a name', { field: 'name' });
  return { kind: m.kind as PolicyKind, namespace: m.kind === 'Namespace' ? '' : m.namespace || 'default', name: m.name };
}

function syncMessage(r: SyncReport | undefined): PolicySyncMessage | null {
  return r ? { mode: r.mode, commands: r.commands, policies: r.policies, pods: r.pods, milliseconds: r.ms } : null;
}
