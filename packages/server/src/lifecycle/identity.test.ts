import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../util/errors.js';
import { isJunkSerial, isJunkUuid, resolveIdentity } from './identity.js';

test('vendor placeholders are junk, real serials are not', () => {
  for (const junk of ['', ' ', '0', '0123456789', 'Not Specified', 'To Be Filled By O.E.M.', 'None', 'System Serial Number', 'Default string', 'VMware-56 4d 7f 3a 21 9e 2b 9c-8a 3e 61 aa 5d 1c 3b 70', '00000000', undefined]) {
    assert.ok(isJunkSerial(junk), String(junk));
  }
  for (const real of ['CZJ1234ABC', '7X06CTO1WW', 'J300ABCD', 'abc-123']) assert.ok(!isJunkSerial(real), real);
  assert.ok(isJunkUuid('00000000-0000-0000-0000-000000000000'));
  assert.ok(isJunkUuid('FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'));
  assert.ok(isJunkUuid('03000200-0400-0500-0006-000700080009'));
  assert.ok(isJunkUuid('Not Settable'));
  assert.ok(!isJunkUuid('4c4c4544-0031-4d10-8052-b7c04f4e4b31'));
});

test('fallback order: product, chassis, board, uuid, mac; lower case', () => {
  const uuid = '4C4C4544-0031-4D10-8052-B7C04F4E4B31';
  const mac = '52:54:00:AB:CD:EF';
  assert.deepEqual(resolveIdentity({ product: ' CZJ1234ABC ', chassis: 'CH1', board: 'B1', uuid, mac }), { serial: 'czj1234abc', source: 'product' });
  assert.deepEqual(resolveIdentity({ product: 'None', chassis: 'CH1', board: 'B1', uuid, mac }), { serial: 'ch1', source: 'chassis' });
  assert.deepEqual(resolveIdentity({ product: '0', chassis: 'Not Specified', board: 'B1', uuid, mac }), { serial: 'b1', source: 'board' });
  assert.deepEqual(resolveIdentity({ product: 'Default string', chassis: '', board: 'To Be Filled By O.E.M.', uuid, mac }), { serial: uuid.toLowerCase(), source: 'uuid' });
  assert.deepEqual(resolveIdentity({ product: 'VMware-56 4d', uuid: '00000000-0000-0000-0000-000000000000', mac }), { serial: '52-54-00-ab-cd-ef', source: 'mac' });
  // a real serial the directory alphabet cannot hold falls through rather than being mangled
  assert.deepEqual(resolveIdentity({ product: 'SN 12 34', chassis: 'CH#1', uuid, mac }), { serial: uuid.toLowerCase(), source: 'uuid' });
  assert.throws(() => resolveIdentity({ product: 'None' }), (err: CocoonError) => err.kind === 'invalid' && /no usable identity/.test(err.message));
});

test('path-like values are refused with the field and value named', () => {
  const cases: [Record<string, string>, string][] = [
    [{ product: '../../etc/passwd' }, 'serial.product'],
    [{ product: 'None', chassis: 'a/b' }, 'serial.chassis'],
    [{ board: '..' }, 'serial.board'],
    [{ product: 'x\\y' }, 'serial.product'],
    [{ product: 'ok\u0000' }, 'serial.product'],
    [{ product: 'None', uuid: '../12345678-1234-1234-1234-123456789012' }, 'uuid'],
  ];
  for (const [c, field] of cases) {
    assert.throws(
      () => resolveIdentity(c),
      (err: CocoonError) => err instanceof CocoonError && err.kind === 'invalid' && err.field === field && err.message.includes(JSON.stringify(Object.values(c).at(-1))),
      JSON.stringify(c),
    );
  }
});
