import path from 'node:path';
import type { NicFacts } from '../facts.js';
import { type SysRoot, toInt } from './sysfs.js';

const NET = 'sys/class/net';
const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/** Physical NICs only: virtual interfaces (lo, bridges, veth, bonds, vlans) have no `device` link. */
export async function collectNics(sys: SysRoot): Promise<NicFacts[]> {
  const nics: NicFacts[] = [];
  for (const name of await sys.list(NET)) {
    const dir = `${NET}/${name}`;
    if ((await sys.linkName(`${dir}/device`)) === undefined) continue;
    const speed = toInt(await sys.text(`${dir}/speed`));
    nics.push({
      name,
      mac: ((await sys.text(`${dir}/address`)) ?? '').toLowerCase(),
      driver: (await sys.linkName(`${dir}/device/driver`)) ?? '',
      pciAddress: await pciAddressOf(sys, `${dir}/device`),
      link: (await sys.text(`${dir}/operstate`)) ?? 'unknown',
      // Drivers report -1 (or refuse the read) when the link is down.
      speedMbps: speed !== undefined && speed > 0 ? speed : null,
    });
  }
  return nics;
}

/**
 * The PCI function a device sits on. A virtio NIC's `device` is a virtio bus device whose parent
 * directory is the PCI function, so walk up from the resolved link until a PCI address appears.
 */
async function pciAddressOf(sys: SysRoot, rel: string): Promise<string> {
  let dir = await sys.resolve(rel);
  for (let i = 0; dir !== undefined && i < 3; i++) {
    const base = path.basename(dir);
    if (PCI_ADDRESS.test(base)) return base.toLowerCase();
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return '';
}

/**
 * The interface of the default route with the lowest metric (/proc/net/route is hex, little
 * endian; a default route has destination and mask 0). "" when the machine has no default route.
 */
export async function collectConnectedNic(sys: SysRoot): Promise<string> {
  const table = await sys.text('proc/net/route');
  if (!table) return '';
  let best: { iface: string; metric: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [iface, dest, , flags, , , metric, mask] = f;
    if (!iface || dest !== '00000000' || mask !== '00000000') continue;
    // RTF_UP (0x1) must be set.
    if ((parseInt(flags ?? '0', 16) & 1) === 0) continue;
    const m = Number(metric ?? 0);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface ?? '';
}
