import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRecord } from './record.js';
import { RecordCodec } from './record-codec.js';

test('records round-trip exactly, non-ASCII and unknown fields included, and shrink against the dictionary', () => {
  const codec = new RecordCodec();
  assert.throws(() => codec.decode('x'), /nothing was encoded yet/);
  const first = JSON.stringify({ ...emptyRecord('m-1'), Hardware: { vendor: 'Dell Inc.', nics: [{ name: 'eno1', mac: '52:54:00:00:00:01' }] } });
  const odd = JSON.stringify({ ...emptyRecord('m-2'), Hostname: 'knoten-überm-fluß-🚀', FutureField: { nested: [1, 'two', null] } });
  const packedFirst = codec.encode(first);
  const packedOdd = codec.encode(odd);
  assert.equal(codec.decode(packedFirst), first);
  assert.equal(codec.decode(packedOdd), odd);
  assert.equal(codec.decode(codec.encode('{}')), '{}');
  const similar = first.replace('m-1', 'm-3').replace('00:01', '00:03');
  assert.ok(codec.encode(similar).length < similar.length / 5, 'a record like the first one keeps a fraction of its size');
});
