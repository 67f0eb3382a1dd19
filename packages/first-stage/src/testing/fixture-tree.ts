import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fake root: files with contents, and symlinks (target relative to the link, as in sysfs). */
export interface TreeSpec {
  files: Record<string, string>;
  links?: Record<string, string>;
  dirs?: string[];
}

export async function writeTree(spec: TreeSpec, root?: string): Promise<string> {
  const dir = root ?? (await mkdtemp(path.join(tmpdir(), 'cocoon-sysfs-')));
  for (const d of spec.dirs ?? []) await mkdir(path.join(dir, d), { recursive: true });
  for (const [rel, content] of Object.entries(spec.files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  for (const [rel, target] of Object.entries(spec.links ?? {})) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    // sysfs links are relative; create the target directory so realpath resolves.
    await mkdir(path.resolve(path.dirname(p), target), { recursive: true });
    await symlink(target, p);
  }
  return dir;
}

const PCI = 'sys/devices/pci0000:00';

function nic(name: string, pci: string, driver: string, mac: string, operstate: string, speed: string): TreeSpec {
  const dev = `${PCI}/${pci}`;
  return {
    files: {
      [`${dev}/net/${name}/address`]: `${mac}\n`,
      [`${dev}/net/${name}/operstate`]: `${operstate}\n`,
      [`${dev}/net/${name}/speed`]: `${speed}\n`,
    },
    links: {
      [`sys/class/net/${name}`]: `../../devices/pci0000:00/${pci}/net/${name}`,
      [`${dev}/net/${name}/device`]: '../../../' + pci,
      [`${dev}/driver`]: `../../../bus/pci/drivers/${driver}`,
    },
  };
}

function merge(...specs: TreeSpec[]): TreeSpec {
  return {
    files: Object.assign({}, ...specs.map((s) => s.files)),
    links: Object.assign({}, ...specs.map((s) => s.links ?? {})),
    dirs: specs.flatMap((s) => s.dirs ?? []),
  };
}

function cpuinfo(model: string, layout: { socket?: number; core?: number }[]): string {
  return layout
    .map((l, i) => {
      const lines = [`processor\t: ${i}`, 'vendor_id\t: GenuineIntel', `model name\t: ${model}`];
      if (l.socket !== undefined) lines.push(`physical id\t: ${l.socket}`);
      if (l.core !== undefined) lines.push(`core id\t\t: ${l.core}`);
      lines.push('flags\t\t: fpu vme de pse');
      return lines.join('\n') + '\n';
    })
    .join('\n');
}

/** A BIOS rack server: 4 physical NICs (2 onboard tg3, 2 ixgbe), a bridge, 2 disks, a loop and a CD drive. */
export function biosServerTree(): TreeSpec {
  const dmi = 'sys/class/dmi/id';
  return merge(
    {
      files: {
        [`${dmi}/product_serial`]: 'CZ2D1234XY\n',
        [`${dmi}/chassis_serial`]: 'CZ2D1234XY-CH\n',
        [`${dmi}/board_serial`]: '.7ABCD12.CN1234567890AB.\n',
        [`${dmi}/product_uuid`]: '4C4C4544-0042-3510-8052-B4C04F4E3132\n',
        [`${dmi}/sys_vendor`]: 'Dell Inc.\n',
        [`${dmi}/product_name`]: 'PowerEdge R640\n',
        [`${dmi}/board_name`]: '0H28RR\n',
        [`${dmi}/bios_version`]: '2.17.1\n',
        'proc/net/route': [
          'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
          'eno1\t00000000\t01004D0A\t0003\t0\t0\t200\t00000000\t0\t0\t0',
          'ens1f0\t00000000\t01004D0A\t0003\t0\t0\t100\t00000000\t0\t0\t0',
          'ens1f0\t00004D0A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0',
          '',
        ].join('\n'),
        'proc/cpuinfo': cpuinfo('Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz', [
          { socket: 0, core: 0 }, { socket: 0, core: 1 }, { socket: 1, core: 0 }, { socket: 1, core: 1 },
          { socket: 0, core: 0 }, { socket: 0, core: 1 }, { socket: 1, core: 0 }, { socket: 1, core: 1 },
        ]),
        'proc/meminfo': 'MemTotal:       196608000 kB\nMemFree:        190000000 kB\n',
        'proc/sys/kernel/osrelease': '6.1.0-26-amd64\n',
        'sys/devices/virtual/net/lo/address': '00:00:00:00:00:00\n',
        'sys/devices/virtual/net/br0/address': '02:42:ac:11:00:01\n',
        // Disks: a SATA HDD and an NVMe SSD; sizes in 512-byte sectors.
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/size`]: '7814037168\n',
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/removable`]: '0\n',
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/queue/rotational`]: '1\n',
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/model`]: 'ST4000NM0035-1V4\n',
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/type`]: '0\n',
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/wwid`]: 'naa.5000c500a1b2c3d4\n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/nvme0n1/size`]: '937703088\n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/nvme0n1/removable`]: '0\n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/nvme0n1/queue/rotational`]: '0\n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/nvme0n1/wwid`]: 'eui.0025388b71b2c3d4\n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/model`]: 'SAMSUNG MZ1LB480HAJQ-00007               \n',
        [`${PCI}/0000:5e:00.0/nvme/nvme0/serial`]: 'S45PNA0M123456      \n',
        'sys/devices/virtual/block/loop0/size': '0\n',
        [`${PCI}/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sr0/size`]: '2097151\n',
        [`${PCI}/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sr0/removable`]: '1\n',
        [`${PCI}/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/type`]: '5\n',
      },
      links: {
        'sys/class/net/lo': '../../devices/virtual/net/lo',
        'sys/class/net/br0': '../../devices/virtual/net/br0',
        'sys/block/sda': `../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda`,
        [`${PCI}/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/device`]: '../../../0:0:0:0',
        'sys/block/nvme0n1': `../devices/pci0000:00/0000:5e:00.0/nvme/nvme0/nvme0n1`,
        [`${PCI}/0000:5e:00.0/nvme/nvme0/nvme0n1/device`]: '../../nvme0',
        'sys/block/loop0': '../devices/virtual/block/loop0',
        'sys/block/sr0': `../devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sr0`,
        [`${PCI}/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sr0/device`]: '../../../1:0:0:0',
      },
    },
    nic('eno1', '0000:01:00.0', 'tg3', 'B0:26:28:AA:00:01', 'up', '1000'),
    nic('eno2', '0000:01:00.1', 'tg3', 'B0:26:28:AA:00:02', 'down', '-1'),
    nic('ens1f0', '0000:3b:00.0', 'ixgbe', 'a0:36:9f:11:22:30', 'up', '10000'),
    nic('ens1f1', '0000:3b:00.1', 'ixgbe', 'a0:36:9f:11:22:31', 'down', '-1'),
  );
}

/** A QEMU UEFI guest: a virtio NIC and a virtio disk behind virtio bus devices, no socket info. */
export function uefiVmTree(): TreeSpec {
  const dmi = 'sys/class/dmi/id';
  const nicDev = `${PCI}/0000:00:03.0/virtio0`;
  const diskDev = `${PCI}/0000:00:04.0/virtio1`;
  return {
    files: {
      [`${dmi}/product_serial`]: 'vm-0042\n',
      [`${dmi}/product_uuid`]: '8F1D2C3B-4A5E-6F70-8192-A3B4C5D6E7F8\n',
      [`${dmi}/sys_vendor`]: 'QEMU\n',
      [`${dmi}/product_name`]: 'Standard PC (Q35 + ICH9, 2009)\n',
      [`${dmi}/bios_version`]: '0.0.0\n',
      'sys/firmware/efi/fw_platform_size': '64\n',
      [`${nicDev}/net/eth0/address`]: '52:54:00:12:34:56\n',
      [`${nicDev}/net/eth0/operstate`]: 'up\n',
      'proc/net/route': 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
      'proc/cpuinfo': cpuinfo('QEMU Virtual CPU version 2.5+', [{}, {}]),
      'proc/meminfo': 'MemTotal:        2030116 kB\n',
      'proc/sys/kernel/osrelease': '6.1.0-26-cloud-amd64\n',
      [`${diskDev}/block/vda/size`]: '41943040\n',
      [`${diskDev}/block/vda/removable`]: '0\n',
      [`${diskDev}/block/vda/queue/rotational`]: '1\n',
      [`${diskDev}/block/vda/serial`]: 'cocoon-disk-1\n',
    },
    links: {
      'sys/class/net/eth0': '../../devices/pci0000:00/0000:00:03.0/virtio0/net/eth0',
      [`${nicDev}/net/eth0/device`]: '../../../virtio0',
      [`${nicDev}/driver`]: '../../../../bus/virtio/drivers/virtio_net',
      'sys/block/vda': '../devices/pci0000:00/0000:00:04.0/virtio1/block/vda',
      [`${diskDev}/block/vda/device`]: '../../../virtio1',
    },
  };
}

/** Firmware that fills DMI with placeholders (the values are reported as they are). */
export function junkSerialTree(): TreeSpec {
  const dmi = 'sys/class/dmi/id';
  return {
    files: {
      [`${dmi}/product_serial`]: 'To Be Filled By O.E.M.\n',
      [`${dmi}/chassis_serial`]: '0123456789\n',
      [`${dmi}/board_serial`]: '  Not Specified  \n',
      [`${dmi}/product_uuid`]: '03000200-0400-0500-0006-000700080009\n',
      [`${dmi}/sys_vendor`]: 'To Be Filled By O.E.M.\n',
    },
  };
}
