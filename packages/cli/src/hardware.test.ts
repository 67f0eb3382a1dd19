import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeHardware } from './hardware.js';

test("summarises the agent's facts document", () => {
  const lines = summarizeHardware({
    serial: { product: 'abc', chassis: '', board: '' },
    firmware: 'uefi',
    vendor: 'Dell Inc.',
    productName: 'PowerEdge R640',
    biosVersion: '2.1.8',
    nics: [
      { name: 'eno1', mac: '52:54:00:00:00:01', driver: 'ixgbe', pciAddress: '', link: 'up', speedMbps: 10000 },
      { name: 'eno2', mac: '52:54:00:00:00:02', driver: 'ixgbe', pciAddress: '', link: 'down', speedMbps: null },
    ],
    connectedNic: 'eno1',
    cpu: { model: 'Xeon Gold 6130', sockets: 2, cores: 32, threads: 64 },
    memoryBytes: 192 * 1024 ** 3,
    disks: [{ name: 'sda', sizeBytes: 480 * 1024 ** 3, rotational: false, removable: false, model: 'SSDSC2KB480G8', serial: 'x', wwn: '' }],
    kernel: '6.1.0-18-amd64',
  });
  assert.deepEqual(Object.fromEntries(lines), {
    System: 'Dell Inc. PowerEdge R640 (uefi 2.1.8)',
    CPU: 'Xeon Gold 6130, 2 sockets, 32 cores, 64 threads',
    Memory: '192 GiB',
    Disks: 'sda 480 GiB ssd SSDSC2KB480G8',
    NICs: 'eno1 52:54:00:00:00:01 up 10000Mb/s (connected); eno2 52:54:00:00:00:02 down',
    Kernel: '6.1.0-18-amd64',
  });
  assert.deepEqual(summarizeHardware(undefined), []);
});
