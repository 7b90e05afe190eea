/**
 * Draws a Topology as SVG: one column per host, external host or fabric (its devices, bridges
 * and VXLAN tunnels in a box, its published ports listed under its name), its containers below it, a line for each
 * veth pair (from a container to the bridge its peer is a port of, or between hosts) and a
 * dashed line for each VXLAN tunnel between the hosts whose addresses its FDB names.
 * Every element carries a class and data-* names, so a test can find the topology in it.
 */
import type { TopoIface, TopoNode, Topology } from './topology.js';

const BOX_W = 210;
const GAP = 30;
const LINE_H = 15;
const FONT = 'font-family="monospace" font-size="11"';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function ifaceLines(i: TopoIface): string[] {
  const head = `${i.name} (${i.kind}${i.vni !== undefined ? ` vni ${i.vni}` : ''})${i.up ? '' : ' down'}`;
  return [head, ...i.addresses.map((a) => `  ${a}`), ...(i.mac && i.kind !== 'bridge' ? [`  ${i.mac}`] : [])];
}

function text(x: number, y: number, lines: readonly string[], cls: string): string {
  return lines.map((l, n) => `<text class="${cls}" x="${x}" y="${y + n * LINE_H}" ${FONT}>${escapeXml(l)}</text>`).join('');
}

/** Host-side devices worth a box of their own: bridges, VXLAN, uplinks; not bridge ports. */
function hostDevices(n: TopoNode): TopoIface[] {
  return n.ifaces.filter((i) => !(i.kind === 'veth' && i.master) && !(i.master && i.kind !== 'vxlan'));
}

export function renderTopologySvg(topo: Topology): string {
  const parts: string[] = [];
  const ifaceBox = new Map<string, Box>(); // node/iface -> box
  const hosts = topo.nodes.filter((n) => n.kind !== 'container');
  let x = GAP;
  let maxY = 0;
  for (const h of hosts) {
    const containers = topo.nodes.filter((n) => n.kind === 'container' && n.host === h.name);
    const devices = hostDevices(h);
    const ports = topo.ports.filter((p) => p.host === h.name);
    const cols = Math.max(1, containers.length, Math.min(devices.length, 4));
    const width = cols * (BOX_W + GAP) + GAP;
    const headLines = 1 + ports.length;
    let y = 40 + headLines * LINE_H + 10;
    const devBoxes: string[] = [];
    let rowH = 0;
    devices.forEach((d, n) => {
      const col = n % cols;
      if (col === 0 && n > 0) {
        y += rowH + 15;
        rowH = 0;
      }
      const lines = ifaceLines(d);
      const box = { x: x + GAP + col * (BOX_W + GAP), y, w: BOX_W, h: lines.length * LINE_H + 12 };
      rowH = Math.max(rowH, box.h);
      ifaceBox.set(`${h.name}/${d.name}`, box);
      const cls = d.kind === 'bridge' ? 'bridge' : d.kind === 'vxlan' ? 'vxlan-dev' : 'device';
      const fill = d.kind === 'bridge' ? '#dbeafe' : d.kind === 'vxlan' ? '#fde68a' : '#e5e7eb';
      devBoxes.push(
        `<g class="${cls}" data-node="${escapeXml(h.name)}" data-name="${escapeXml(d.name)}"><rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="6" fill="${fill}" stroke="#334155"/>${text(box.x + 6, box.y + 15, lines, 'iface')}</g>`,
      );
    });
    const hostBox = { x, y: 20, w: width - GAP, h: y + rowH + 15 - 20 };
    ifaceBox.set(`${h.name}/`, hostBox);
    parts.push(
      `<g class="node ${h.kind}" data-name="${escapeXml(h.name)}"><rect x="${hostBox.x}" y="${hostBox.y}" width="${hostBox.w}" height="${hostBox.h}" rx="10" fill="${h.kind === 'host' ? '#f0fdf4' : '#f3f4f6'}" stroke="#166534"/>` +
        `<text class="title" x="${x + 10}" y="38" font-family="sans-serif" font-size="14" font-weight="bold">${escapeXml(h.kind === 'fabric' ? `fabric ${h.name} (underlay)` : `${h.kind === 'external' ? 'external' : 'host'} ${h.name}`)}</text>` +
        ports
          .map(
            (p, n) =>
              `<text class="port" data-port="${p.externalPort}" x="${x + 10}" y="${56 + n * LINE_H}" ${FONT}>${escapeXml(`published ${p.protocol.toLowerCase()} ${p.externalAddress}:${p.externalPort} -> ${p.internalAddress}:${p.internalPort}`)}</text>`,
          )
          .join('') +
        devBoxes.join('') +
        '</g>',
    );
    let cy = hostBox.y + hostBox.h + 70;
    containers.forEach((c, n) => {
      const lines = [`container ${c.name}`, ...c.ifaces.flatMap(ifaceLines)];
      const box = { x: x + GAP + n * (BOX_W + GAP), y: cy, w: BOX_W, h: lines.length * LINE_H + 12 };
      ifaceBox.set(`${c.name}/`, box);
      for (const i of c.ifaces) ifaceBox.set(`${c.name}/${i.name}`, box);
      parts.push(
        `<g class="node container" data-name="${escapeXml(c.name)}"><rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="6" fill="#fff7ed" stroke="#9a3412"/>${text(box.x + 6, box.y + 15, lines, 'iface')}</g>`,
      );
      maxY = Math.max(maxY, box.y + box.h);
    });
    if (!containers.length) cy = hostBox.y + hostBox.h;
    maxY = Math.max(maxY, cy, hostBox.y + hostBox.h);
    x += width;
  }
  const nodeOf = new Map(topo.nodes.map((n) => [n.name, n]));
  const lines: string[] = [];
  for (const l of topo.links) {
    // The end in a container (or the first) goes to the box of what its peer is a port of.
    const [c, h] = nodeOf.get(l.a.node)?.kind === 'container' ? [l.a, l.b] : [l.b, l.a];
    const hostIface = nodeOf.get(h.node)?.ifaces.find((i) => i.name === h.iface);
    const to = ifaceBox.get(`${h.node}/${hostIface?.master ?? h.iface}`) ?? ifaceBox.get(`${h.node}/`);
    const from = ifaceBox.get(`${c.node}/${c.iface}`) ?? ifaceBox.get(`${c.node}/`);
    if (!from || !to) continue;
    const [x1, y1, x2, y2] = [from.x + from.w / 2, from.y, to.x + to.w / 2, to.y + to.h];
    lines.push(
      `<g class="veth" data-a="${escapeXml(`${c.node}/${c.iface}`)}" data-b="${escapeXml(`${h.node}/${h.iface}`)}"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#475569" stroke-width="2"/>` +
        `<text x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2}" ${FONT} fill="#475569">${escapeXml(`${c.iface} = ${h.iface}`)}</text></g>`,
    );
  }
  const done = new Set<string>();
  for (const n of topo.nodes) {
    for (const v of n.ifaces.filter((i) => i.kind === 'vxlan')) {
      for (const remote of v.remotes ?? []) {
        const peer = topo.nodes.find((m) => m !== n && m.ifaces.some((i) => i.addresses.some((a) => a.split('/')[0] === remote)));
        const peerDev = peer?.ifaces.find((i) => i.kind === 'vxlan' && i.vni === v.vni);
        if (!peer || !peerDev) continue;
        const key = [`${n.name}/${v.name}`, `${peer.name}/${peerDev.name}`].sort().join('|');
        if (done.has(key)) continue;
        done.add(key);
        const a = ifaceBox.get(`${n.name}/${v.name}`);
        const b = ifaceBox.get(`${peer.name}/${peerDev.name}`);
        if (!a || !b) continue;
        const [x1, y1, x2, y2] = [a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2];
        lines.push(
          `<g class="vxlan" data-a="${escapeXml(`${n.name}/${v.name}`)}" data-b="${escapeXml(`${peer.name}/${peerDev.name}`)}" data-vni="${v.vni}"><line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#b45309" stroke-width="2" stroke-dasharray="6 4"/>` +
            `<text x="${(x1 + x2) / 2 - 40}" y="${(y1 + y2) / 2 - 5}" ${FONT} fill="#b45309">${escapeXml(`VXLAN vni ${v.vni} udp/${v.port ?? 4789}`)}</text></g>`,
        );
      }
    }
  }
  const width = Math.max(x, 300);
  const height = maxY + 30;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<title>${escapeXml(`berth lab ${topo.lab}`)}</title><rect width="100%" height="100%" fill="white"/>` +
    parts.join('') +
    lines.join('') +
    '</svg>\n'
  );
}
