/**
 * The policy engine: Kubernetes NetworkPolicies (with the Namespaces and Pods they select)
 * compiled to one intermediate representation, and from it to nftables, to HNS ACLs and to a
 * reachability model. See README.md in this folder for the pipeline and its guarantees.
 *
 * @example
 * ```ts
 * const ir = new PolicyCompiler({ objects: parsePolicyObjects(manifests) }).compile();
 * new NftPolicyDataplane(openNftables()).apply(ir);       // one atomic transaction
 * reachability(ir, { protocol: 'tcp', port: 80 });          // {"x/a": {"y/b": true, ...}}
 * renderHnsAcls(ir).map(modifyEndpointRequest);             // per-endpoint HCN documents
 * ```
 */
export type * from './model/types.js';
export { NAMESPACE_NAME_LABEL, objectKey } from './model/types.js';
export { parseNetworkPolicy, type ReadOptions } from './model/network-policy.js';
export { parseNamespace, namespaceOf } from './model/namespace.js';
export { parsePod } from './model/pod.js';
export { parsePolicyObject, parsePolicyObjects, policyObjectRef, type PolicyObject, type PolicyObjectRef } from './model/policy-object.js';
export { describeSelector, selectorKey, selectorMatches } from './model/label-selector.js';

export type * from './compile/ir.js';
export { rulesOf } from './compile/ir.js';
export { PolicyCompiler, compilePolicies, type PolicyInputs } from './compile/policy-compiler.js';
export { formatPortRange } from './compile/port-ranges.js';

export { evaluateFlow, explainFlow, parseFlowPort, reachability } from './evaluate/evaluate.js';
export type { DirectionVerdict, FlowPort, FlowVerdict, ReachabilityMatrix, RuleMatch } from './evaluate/evaluate.js';

export { NftPolicyDataplane, type ApplyReport } from './nft/nft-policy-dataplane.js';
export { NftRenderer, type DenyVerdict, type NftRenderOptions } from './nft/render-nft.js';
export { deleteNftTable, diffNftState } from './nft/nft-diff.js';
export { POLICY_TABLE, countObjects } from './nft/nft-state.js';
export type { NftChain, NftRule, NftSet, NftState } from './nft/nft-state.js';

export { modifyEndpointRequest, renderHnsAcls } from './hns/render-hns.js';
export type { AclEndpointPolicy, AclPolicySetting, EndpointAcls, HnsRenderOptions, ModifyEndpointAclRequest } from './hns/render-hns.js';

export { POLICY_STORE_PREFIX, applyPolicyManifests, deletePolicyObject, loadPolicyObjects, policyStoreKey, storePolicyManifests, type PolicyKind, type StoredPolicyObject } from './policy-store.js';

export { PolicyEnforcer, type EnforcerOptions, type SyncReport } from './enforce/policy-enforcer.js';
export { withWorkloads } from './enforce/workload-pods.js';
