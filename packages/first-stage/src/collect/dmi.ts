import type { SysRoot } from './sysfs.js';

export interface DmiFacts {
  serial: { product: string; chassis: string; board: string };
  uuid: string;
  vendor: string;
  productName: string;
  board: string;
  biosVersion: string;
}

const DMI = 'sys/class/dmi/id';

export async function collectDmi(sys: SysRoot): Promise<DmiFacts> {
  const read = async (name: string): Promise<string> => (await sys.text(`${DMI}/${name}`)) ?? '';
  return {
    serial: { product: await read('product_serial'), chassis: await read('chassis_serial'), board: await read('board_serial') },
    uuid: (await read('product_uuid')).toLowerCase(),
    vendor: await read('sys_vendor'),
    productName: await read('product_name'),
    board: await read('board_name'),
    biosVersion: await read('bios_version'),
  };
}

/** UEFI firmware exposes /sys/firmware/efi; legacy BIOS boots do not have it. */
export async function collectFirmware(sys: SysRoot): Promise<'bios' | 'uefi'> {
  return (await sys.exists('sys/firmware/efi')) ? 'uefi' : 'bios';
}
