/**
 * `berth status`: what berthd serves (drivers, sockets, metrics), what it manages, and what
 * its start-up reconcile found.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { connectApi } from '../../daemon/grpc/client.js';
import { EXIT_OK } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { apiSocketPath } from './api-host.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { HELP, HOST, HOST_HELP, parseCommandArgs, showUsage } from './usage.js';
import type { StatusMessage } from '../../daemon/grpc/messages.js';

export const STATUS_USAGE = `Usage: berth status [OPTIONS]

Shows what berthd serves (API, CNI and Docker plugin sockets, metrics), its drivers with their
networks and endpoints, the firewall passages it added, its IPAM pools, and what its start-up
reconcile found.

Options:
      --format FORMAT     table (default) or json
${HOST_HELP}  -h, --help              Show this help
`;

export async function statusCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const { values } = parseCommandArgs('berth status', { args: argv, options: { ...HOST, format: { type: 'string' }, ...HELP } });
  if (values.help) return showUsage(io, STATUS_USAGE);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use table or json`, { field: '--format', value: format });
  const socket = apiSocketPath(values.host);
  const client = connectApi(socket);
  try {
    const s = await client.status();
    if (format === 'json') {
      io.out(`${JSON.stringify(s, null, 2)}\n`);
      return EXIT_OK;
    }
    const lines = [
      `berthd ${s.version}, up ${formatDuration(s.uptimeSeconds)} (since ${s.started})`,
      `API:            ${s.apiSocket}`,
      `CNI:            ${s.cniSocket ? `${s.cniSocket} (the plugins' fast path)` : 'not served (the plugins run in-process)'}`,
      `Docker plugins: ${s.pluginSockets.length ? s.pluginSockets.join(', ') : 'not served'}`,
      `Metrics:        ${s.metricsAddress || 'not served'}`,
      `State:          ${s.dataDir}`,
      `Start-up:       ${s.reconciledNetworks} network(s) restored, ${s.removedEndpoints} stale endpoint(s) removed` +
        (s.lostEndpoints.length ? `, ${s.lostEndpoints.length} endpoint(s) lost their interface: ${s.lostEndpoints.map((e) => e.slice(0, 12)).join(', ')}` : '') +
        (s.failedNetworks.length ? `, could not restore: ${s.failedNetworks.join(', ')}` : ''),
      '',
    ];
    io.out(lines.join('\n'));
    io.out(
      renderTable(
        ['DRIVER', 'DOCKER PLUGIN', 'NETWORKS', 'ENDPOINTS'],
        s.drivers.map((d) => [d.driver, d.plugin, String(d.networks), String(d.endpoints)]),
      ),
    );
    io.out('\n');
    io.out(firewallSection(s));
    if (s.cluster) {
      io.out('\n');
      io.out(clusterSection(s.cluster));
    }
    if (s.ipamPools.length) {
      io.out('\n');
      io.out(
        renderTable(
          ['IPAM POOL', 'SUBNET', 'ADDRESSES'],
          s.ipamPools.map((p) => [p.id, p.pool, String(p.addresses)]),
        ),
      );
    }
    return EXIT_OK;
  } finally {
    client.close();
  }
}

/** Which foreign forward chains berth has added an accept to, and why (exported for its test). */
export function firewallSection(s: StatusMessage): string {
  // An older berthd does not send the field.
  const failed = s.firewallError ? `Firewall:       re-check FAILED, berth's accepts are not known to be in place: ${s.firewallError}\n` : '';
  if (failed && s.firewallPassages.length === 0) return failed;
  if (s.firewallPassages.length === 0) {
    const devices = s.firewallDevices.length ? ` (berth's devices: ${s.firewallDevices.join(', ')})` : '';
    return `Firewall:       no other firewall drops forwarded traffic${devices}\n`;
  }
  const head = `Firewall:       other owners drop forwarded traffic; berth accepts its own devices' traffic (${s.firewallDevices.join(', ')}) in their chains\n`;
  const rows = s.firewallPassages.map((p) => [p.owner, `${p.family} ${p.table} ${p.chain}${p.backend === 'iptables-legacy' ? ' (legacy)' : ''}`, p.present ? 'added' : 'MISSING', p.reason]);
  return failed + head + renderTable(['OWNER', 'CHAIN', "BERTH'S ACCEPT", 'WHY'], rows);
}

/** The nodes this node sees alive in etcd, and the overlay networks it is in with every node's block and VTEP. */
function clusterSection(c: NonNullable<StatusMessage['cluster']>): string {
  const etcd = c.etcdHealthy ? 'healthy' : `UNREACHABLE (${c.etcdError})`;
  let text = `Cluster:        node ${c.node}, underlay ${c.advertiseAddress}; etcd ${c.endpoints.join(',')}: ${etcd}\n`;
  if (c.nodes.length) {
    text += renderTable(
      ['NODE', 'ADDRESS', 'VERSION', 'SINCE'],
      c.nodes.map((n) => [n.name === c.node ? `${n.name} (this node)` : n.name, n.address, n.version, n.since]),
    );
  }
  for (const o of c.overlays) {
    text += `\nOverlay ${o.network}: VNI ${o.vni}, subnet ${o.subnet}, mode ${o.mode}, device ${o.device}\n`;
    text += renderTable(
      ['NODE', 'BLOCK', 'VTEP', 'VTEP MAC', 'STATE'],
      o.nodes.map((n) => [n.node, n.subnet, n.vtep, n.vtepMac, n.released ? 'left (block kept for the grace period)' : 'up']),
    );
  }
  return text;
}

function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
