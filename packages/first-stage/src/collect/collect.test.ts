import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { collectFacts } from './index.js';
import { parseLanPrint } from './ipmi.js';
import { biosServerTree, junkSerialTree, uefiVmTree, writeTree } from '../testing/fixture-tree.js';

test('BIOS rack server: DMI, 4 physical NICs, default route, CPU topology, 2 disks', async (t) => {
  const root = await writeTree(biosServerTree());
  t.after(() => rm(root, { recursive: true, force: true }));
  const facts = await collectFacts({ root, ipmitool: false });
  assert.deepEqual(facts, {
    serial: { product: 'CZ2D1234XY', chassis: 'CZ2D1234XY-CH', board: '.7ABCD12.CN1234567890AB.' },
    uuid: '4c4c4544-0042-3510-8052-b4c04f4e3132',
    firmware: 'bios',
    vendor: 'Dell Inc.',
    productName: 'PowerEdge R640',
    board: '0H28RR',
    biosVersion: '2.17.1',
    nics: [
      { name: 'eno1', mac: 'b0:26:28:aa:00:01', driver: 'tg3', pciAddress: '0000:01:00.0', link: 'up', speedMbps: 1000 },
      { name: 'eno2', mac: 'b0:26:28:aa:00:02', driver: 'tg3', pciAddress: '0000:01:00.1', link: 'down', speedMbps: null },
      { name: 'ens1f0', mac: 'a0:36:9f:11:22:30', driver: 'ixgbe', pciAddress: '0000:3b:00.0', link: 'up', speedMbps: 10000 },
      { name: 'ens1f1', mac: 'a0:36:9f:11:22:31', driver: 'ixgbe', pciAddress: '0000:3b:00.1', link: 'down', speedMbps: null },
    ],
    connectedNic: 'ens1f0',
    cpu: { model: 'Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz', sockets: 2, cores: 4, threads: 8 },
    memoryBytes: 196608000 * 1024,
    disks: [
      { name: 'nvme0n1', sizeBytes: 937703088 * 512, rotational: false, removable: false, model: 'SAMSUNG MZ1LB480HAJQ-00007', serial: 'S45PNA0M123456', wwn: 'eui.0025388b71b2c3d4' },
      { name: 'sda', sizeBytes: 7814037168 * 512, rotational: true, removable: false, model: 'ST4000NM0035-1V4', serial: '', wwn: 'naa.5000c500a1b2c3d4' },
    ],
    kernel: '6.1.0-26-amd64',
  });
});

test('UEFI VM: virtio NIC and disk resolve to their PCI function, no socket info', async (t) => {
  const root = await writeTree(uefiVmTree());
  t.after(() => rm(root, { recursive: true, force: true }));
  const facts = await collectFacts({ root, ipmitool: false, serialHint: 'vm-0042' });
  assert.deepEqual(facts, {
    serial: { product: 'vm-0042', chassis: '', board: '' },
    uuid: '8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8',
    firmware: 'uefi',
    vendor: 'QEMU',
    productName: 'Standard PC (Q35 + ICH9, 2009)',
    board: '',
    biosVersion: '0.0.0',
    nics: [{ name: 'eth0', mac: '52:54:00:12:34:56', driver: 'virtio_net', pciAddress: '0000:00:03.0', link: 'up', speedMbps: null }],
    connectedNic: 'eth0',
    cpu: { model: 'QEMU Virtual CPU version 2.5+', sockets: 1, cores: 2, threads: 2 },
    memoryBytes: 2030116 * 1024,
    disks: [{ name: 'vda', sizeBytes: 41943040 * 512, rotational: true, removable: false, model: '', serial: 'cocoon-disk-1', wwn: '' }],
    kernel: '6.1.0-26-cloud-amd64',
    serialHint: 'vm-0042',
  });
});

test('junk serials are reported as the firmware gives them (trimmed); missing files read as empty', async (t) => {
  const root = await writeTree(junkSerialTree());
  t.after(() => rm(root, { recursive: true, force: true }));
  const facts = await collectFacts({ root, ipmitool: false });
  assert.deepEqual(facts.serial, { product: 'To Be Filled By O.E.M.', chassis: '0123456789', board: 'Not Specified' });
  assert.equal(facts.uuid, '03000200-0400-0500-0006-000700080009');
  assert.equal(facts.vendor, 'To Be Filled By O.E.M.');
  assert.deepEqual([facts.nics, facts.disks, facts.connectedNic, facts.memoryBytes, facts.kernel], [[], [], '', 0, '']);
  assert.deepEqual(facts.cpu, { model: '', sockets: 0, cores: 0, threads: 0 });
  assert.equal('ipmiAddress' in facts, false);
});

test('IPMI address comes from `ipmitool lan print`; a missing or failing ipmitool means none', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-ipmi-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = await writeTree(uefiVmTree(), path.join(dir, 'root'));
  const fake = path.join(dir, 'ipmitool');
  await writeFile(fake, [
    '#!/bin/sh',
    '[ "$1 $2" = "lan print" ] || exit 1',
    'echo "Set in Progress         : Set Complete"',
    'echo "IP Address Source       : Static Address"',
    'echo "IP Address              : 10.77.1.23"',
    'echo "Subnet Mask             : 255.255.255.0"',
  ].join('\n') + '\n');
  await chmod(fake, 0o755);
  assert.equal((await collectFacts({ root, ipmitool: fake })).ipmiAddress, '10.77.1.23');
  assert.equal('ipmiAddress' in (await collectFacts({ root, ipmitool: path.join(dir, 'absent') })), false);
  assert.equal(parseLanPrint('IP Address              : 0.0.0.0\n'), undefined);
});
