import assert from 'node:assert/strict';
import test from 'node:test';
import { leanRecord } from './lean-record.js';
import { emptyRecord } from './record.js';
import type { MachineRecord } from './types.js';

function enrolled(): MachineRecord {
  return {
    ...emptyRecord('lean-1'),
    MacAddresses: ['52:54:00:12:34:56'],
    InternalAddr: '10.0.0.7',
    Hostname: 'lean-1',
    State: 'running',
    Hardware: { nics: [{ name: 'eno1', mac: '52:54:00:12:34:56' }], disks: [{ name: 'sda', sizeBytes: 1e12 }] },
    FirstSeen: '2026-11-21T10:00:00.000Z',
    BootCount: 3,
    Extra: { kept: true },
  };
}

test('a lean record reads its hardware facts only when asked, and is the full record to every reader', () => {
  const full = enrolled();
  let reads = 0;
  const lean = leanRecord(full, {
    hardware: () => {
      reads++;
      return full.Hardware;
    },
  });
  assert.equal(reads, 0, 'building it does not read the facts');
  assert.equal(lean.State, 'running');
  assert.deepEqual(lean.MacAddresses, full.MacAddresses);
  assert.equal(reads, 0, 'other fields do not read them either');

  // Field order and content as in the file: serialisations are byte for byte the same.
  assert.equal(JSON.stringify(lean), JSON.stringify(full));
  assert.deepEqual(Object.keys(lean), Object.keys(full));
  assert.deepEqual(structuredClone(lean), full);
  assert.deepEqual({ ...lean }, full);
  assert.ok(reads >= 3);

  assert.ok(Object.isFrozen(lean) && Object.isFrozen(lean.MacAddresses) && Object.isFrozen(lean['Extra']));
  assert.throws(() => {
    (lean as MachineRecord).State = 'failed';
  }, TypeError);
  assert.throws(() => {
    (lean as MachineRecord).Hardware = {};
  }, TypeError);
  // The source is not one of the record's fields.
  assert.equal(Object.getOwnPropertySymbols(lean).length, 1);
  assert.ok(!Object.keys(lean).some((k) => typeof k !== 'string'));
});

test('a record without hardware facts is a frozen copy with no getter', () => {
  const full = emptyRecord('lean-2');
  const lean = leanRecord(full, {
    hardware: () => assert.fail('never read'),
  });
  assert.deepEqual(lean, full);
  assert.notEqual(lean, full);
  assert.equal(Object.getOwnPropertyDescriptor(lean, 'Hardware'), undefined);
  assert.equal(typeof Object.getOwnPropertyDescriptor(lean, 'State')?.value, 'string');
  assert.ok(Object.isFrozen(lean) && Object.isFrozen(lean.Overrides));
  assert.ok(!Object.isFrozen(full), 'the input object itself stays unfrozen (its nested values are shared, frozen)');
});
