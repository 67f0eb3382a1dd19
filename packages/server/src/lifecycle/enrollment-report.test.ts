import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../util/errors.js';
import { primaryMac, validateEnrollmentReport } from './enrollment-report.js';

test('a report is checked and normalised', () => {
  const r = validateEnrollmentReport({
    serial: { product: 'ABC', chassis: 'Not Specified' },
    uuid: '',
    macs: [{ name: 'eno1', mac: 'AA-BB-CC-DD-EE-01' }, { name: 'eno2', mac: 'aabbccddee02' }],
    connectedNic: 'eno2',
    ipmiAddr: '10.9.0.5',
    hardware: { cpu: { cores: 8 } },
    futureField: 1,
  });
  assert.deepEqual(r, {
    serial: { product: 'ABC', chassis: 'Not Specified' },
    macs: [{ name: 'eno1', mac: 'aa:bb:cc:dd:ee:01' }, { name: 'eno2', mac: 'aa:bb:cc:dd:ee:02' }],
    connectedNic: 'eno2',
    ipmiAddr: '10.9.0.5',
    hardware: { cpu: { cores: 8 } },
  });
  assert.equal(primaryMac(r), 'aa:bb:cc:dd:ee:02');
});

test("the first-stage agent's facts body is accepted as it is", () => {
  const r = validateEnrollmentReport({
    serial: { product: 'To Be Filled By O.E.M.', chassis: '', board: 'BRD1' },
    uuid: '4c4c4544-0031-4d10-8052-b7c04f4e4b31',
    firmware: 'uefi',
    vendor: 'QEMU',
    nics: [{ name: 'ens3', mac: '52:54:00:12:34:56', driver: 'virtio_net', pciAddress: '0000:00:03.0', link: 'up', speedMbps: null }],
    connectedNic: '',
    ipmiAddress: '10.9.0.7',
    cpu: { model: 'x', sockets: 1, cores: 2, threads: 2 },
    memoryBytes: 2147483648,
    disks: [],
    kernel: '6.1.0',
    serialHint: 'abc',
  });
  assert.deepEqual(r.macs, [{ name: 'ens3', mac: '52:54:00:12:34:56' }]);
  assert.equal(r.connectedNic, undefined);
  assert.equal(r.ipmiAddr, '10.9.0.7');
  assert.equal(r.hardware?.memoryBytes, 2147483648);
  assert.equal(r.hardware?.vendor, 'QEMU');
  assert.equal((r.hardware?.nics as unknown[]).length, 1);
  assert.equal(r.hardware?.serial, undefined);
});

test('every error names the field and the value', () => {
  const cases: [unknown, string, string][] = [
    [null, '(body)', 'null'],
    [{ macs: [] }, 'macs', '[]'],
    [{ macs: [{ name: 'eth0', mac: 'zz:zz' }] }, 'macs[0].mac', '"zz:zz"'],
    [{ macs: [{ name: 'eth/0', mac: '52:54:00:12:34:56' }] }, 'macs[0].name', '"eth/0"'],
    [{ nics: [{ name: 'eth0', mac: 'nope' }] }, 'nics[0].mac', '"nope"'],
    [{ serial: { product: 5 }, macs: [{ name: 'e', mac: '52:54:00:12:34:56' }] }, 'serial.product', '5'],
    [{ macs: [{ name: 'e', mac: '52:54:00:12:34:56' }], ipmiAddr: '300.1.1.1' }, 'ipmiAddr', '"300.1.1.1"'],
    [{ macs: [{ name: 'e', mac: '52:54:00:12:34:56' }], hardware: [] }, 'hardware', '[]'],
  ];
  for (const [body, field, shown] of cases) {
    assert.throws(
      () => validateEnrollmentReport(body),
      (err: CocoonError) => err instanceof CocoonError && err.kind === 'invalid' && err.field === field && err.message.startsWith(`${field}: ${shown}`),
      `${field}`,
    );
  }
});
