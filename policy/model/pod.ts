/**
 * `v1` Pod, reduced to what policy needs: labels, addresses (`status.podIPs`), named container
 * ports and `hostNetwork`. Every real Pod field is accepted so that real manifests load, but
 * only those are read and validated; keys that no Pod has are rejected.
 */
import { IpAddress } from '../../core/ip.js';
import { invalid, invalidObject, notSupported, required, type FieldError } from './field-errors.js';
import { dns1123SubdomainErrors, portNameErrors, portNumberErrors } from './k8s-names.js';
import { ManifestReader, child, index, type PlainObject } from './manifest-reader.js';
import { readObjectMeta } from './object-meta.js';
import type { ReadOptions } from './network-policy.js';
import type { NamedContainerPort, Pod, PolicyProtocol } from './types.js';

const POD_SPEC_FIELDS = [
  'volumes',
  'initContainers',
  'containers',
  'ephemeralContainers',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsPolicy',
  'nodeSelector',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'nodeName',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'shareProcessNamespace',
  'securityContext',
  'imagePullSecrets',
  'hostname',
  'subdomain',
  'affinity',
  'schedulerName',
  'tolerations',
  'hostAliases',
  'priorityClassName',
  'priority',
  'dnsConfig',
  'readinessGates',
  'runtimeClassName',
  'enableServiceLinks',
  'preemptionPolicy',
  'overhead',
  'topologySpreadConstraints',
  'setHostnameAsFQDN',
  'os',
  'hostUsers',
  'schedulingGates',
  'resourceClaims',
  'resources',
];
const CONTAINER_FIELDS = [
  'name',
  'image',
  'command',
  'args',
  'workingDir',
  'ports',
  'envFrom',
  'env',
  'resources',
  'resizePolicy',
  'restartPolicy',
  'volumeMounts',
  'volumeDevices',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
  'securityContext',
  'stdin',
  'stdinOnce',
  'tty',
];
const POD_STATUS_FIELDS = [
  'phase',
  'conditions',
  'message',
  'reason',
  'nominatedNodeName',
  'hostIP',
  'hostIPs',
  'podIP',
  'podIPs',
  'startTime',
  'initContainerStatuses',
  'containerStatuses',
  'qosClass',
  'ephemeralContainerStatuses',
  'resize',
  'resourceClaimStatuses',
];
const PROTOCOLS: readonly PolicyProtocol[] = ['TCP', 'UDP', 'SCTP'];

/** Reads one Pod manifest. Throws InvalidObjectError listing every problem. */
export function parsePod(value: unknown, options: ReadOptions = {}): Pod {
  const r = new ManifestReader();
  const top = r.object(value, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']) ?? {};
  const meta = readObjectMeta(r, top, {
    apiVersion: 'v1',
    kind: 'Pod',
    nameErrors: dns1123SubdomainErrors,
    namespaced: true,
    defaultNamespace: options.defaultNamespace ?? 'default',
  });
  const spec: PlainObject = r.object(top.spec, 'spec', [], POD_SPEC_FIELDS) ?? {};
  const hostNetwork = r.boolean(spec.hostNetwork, 'spec.hostNetwork') ?? false;
  const ports = readContainerPorts(r, spec.containers, 'spec.containers');
  for (const [key, path] of [
    ['initContainers', 'spec.initContainers'],
    ['ephemeralContainers', 'spec.ephemeralContainers'],
  ] as const) {
    for (const [i, c] of (r.array(spec[key], path) ?? []).entries()) r.object(c, index(path, i), [], [...CONTAINER_FIELDS, 'targetContainerName']);
  }
  const status: PlainObject = r.object(top.status, 'status', [], POD_STATUS_FIELDS) ?? {};
  const ips = readPodIps(r, status);
  if (r.errors.length) throw invalidObject('Pod', meta.name, r.errors);
  return { namespace: meta.namespace, name: meta.name, labels: meta.labels, ips, ports, hostNetwork };
}

function readContainerPorts(r: ManifestReader, value: unknown, path: string): NamedContainerPort[] {
  const out: NamedContainerPort[] = [];
  const names = new Set<string>();
  for (const [i, c] of (r.array(value, path) ?? []).entries()) {
    const cp = index(path, i);
    const container: PlainObject = r.object(c, cp, [], CONTAINER_FIELDS) ?? {};
    for (const [j, p] of (r.array(container.ports, child(cp, 'ports')) ?? []).entries()) {
      const pp = index(child(cp, 'ports'), j);
      const port: PlainObject = r.object(p, pp, ['name', 'containerPort', 'protocol', 'hostPort', 'hostIP']) ?? {};
      const number = r.integer(port.containerPort, child(pp, 'containerPort'));
      if (number === undefined) r.report(required(child(pp, 'containerPort')));
      else for (const msg of portNumberErrors(number)) r.report(invalid(child(pp, 'containerPort'), number, msg));
      r.integer(port.hostPort, child(pp, 'hostPort'));
      r.string(port.hostIP, child(pp, 'hostIP'));
      const protocolText = r.string(port.protocol, child(pp, 'protocol')) ?? 'TCP';
      if (!PROTOCOLS.includes(protocolText as PolicyProtocol)) r.report(notSupported(child(pp, 'protocol'), protocolText, PROTOCOLS));
      const name = r.string(port.name, child(pp, 'name'));
      if (name === undefined || name === '') continue;
      const errs: FieldError[] = portNameErrors(name).map((msg) => invalid(child(pp, 'name'), name, msg));
      // Names are unique per pod, across containers (validateContainerPorts' allNames).
      if (names.has(name)) errs.push({ field: child(pp, 'name'), message: `${child(pp, 'name')}: Duplicate value: ${JSON.stringify(name)}` });
      names.add(name);
      r.report(...errs);
      if (errs.length === 0 && number !== undefined) out.push({ name, port: number, protocol: protocolText as PolicyProtocol });
    }
  }
  return out;
}

function readPodIps(r: ManifestReader, status: PlainObject): string[] {
  const ips: string[] = [];
  const add = (text: string | undefined, path: string) => {
    if (text === undefined || text === '') return;
    const ip = IpAddress.tryParse(text);
    if (!ip) r.report(invalid(path, text, 'must be a valid IP address'));
    else if (!ips.includes(ip.toString())) ips.push(ip.toString());
  };
  add(r.string(status.podIP, 'status.podIP'), 'status.podIP');
  for (const [i, entry] of (r.array(status.podIPs, 'status.podIPs') ?? []).entries()) {
    const p = index('status.podIPs', i);
    const o = r.object(entry, p, ['ip']);
    add(r.string(o?.ip, child(p, 'ip')), child(p, 'ip'));
  }
  return ips;
}
