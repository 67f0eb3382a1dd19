import type { DiskFacts } from '../facts.js';
import { type SysRoot, toInt } from './sysfs.js';

const BLOCK = 'sys/block';

/**
 * Disks backed by a device (loop, ram, zram, dm and md devices have no `device` link and are not
 * install targets). Optical drives (SCSI type 5) are left out as well.
 */
export async function collectDisks(sys: SysRoot): Promise<DiskFacts[]> {
  const disks: DiskFacts[] = [];
  for (const name of await sys.list(BLOCK)) {
    const dir = `${BLOCK}/${name}`;
    if ((await sys.linkName(`${dir}/device`)) === undefined) continue;
    if ((await sys.text(`${dir}/device/type`)) === '5') continue;
    const sectors = toInt(await sys.text(`${dir}/size`)) ?? 0;
    disks.push({
      name,
      // sysfs counts 512-byte sectors whatever the logical block size.
      sizeBytes: sectors * 512,
      rotational: (await sys.text(`${dir}/queue/rotational`)) === '1',
      removable: (await sys.text(`${dir}/removable`)) === '1',
      model: (await sys.text(`${dir}/device/model`)) ?? '',
      serial: (await sys.text(`${dir}/serial`)) ?? (await sys.text(`${dir}/device/serial`)) ?? '',
      wwn: (await sys.text(`${dir}/wwid`)) ?? (await sys.text(`${dir}/device/wwid`)) ?? '',
    });
  }
  return disks;
}
